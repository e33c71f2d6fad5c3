"""Assignment 6's test cases (see tests/notebooks/test_roundtrip.py).

Each near-miss is the typical mistake for its question, computed from that student's own inputs.
"""

WRONG = {
    "q1": 'q1 = q1_mc.letter_of("management server")',
    "q2": "q2 = 0",
    "q3": "q3 = 1e6",
    "q4": "q4 = -1.0",
    "q5": "q5 = 0.9",
    "q6": "q6 = -1.0",
    "q7": 'q7 = q7_mc.letter_of("recomputed")',
    "q8": 'q8 = q8_mc.letter_of("exactly one flow")',
    "q9": 'q9 = q9_mc.letter_of("DDR to QDR", "HDR to NDR")',
    "q10": "q10 = -1.0",
    "q11": "q11 = 2.0",
    "q12": "q12 = 0.01",
    "q13": "q13 = -1.0",
    "q14": "q14 = 1",
    "q15": "q15 = -1.0",
    "q16": "q16 = -1.0",
    "q17": "def peak_busbw(text):\n    return 0.0\n\nq17 = peak_busbw",
    "q18": "def unhealthy_ports(text, expected_rate):\n    return ['mlx5_0']\n\nq18 = unhealthy_ports",
    "q19": "def ost_for_offset(text, offset):\n    return -1\n\nq19 = ost_for_offset",
}

NEAR_MISSES = {
    # one metadata operation a file instead of two (open and stat)
    "q2": "q2 = math.ceil(q2_gpus * q2_samples_per_gpu_s / q2_samples_per_file / q2_ops_per_mdt)",
    # 16 bytes a parameter: the gradients saved too
    "q3": "q3 = q3_params_b * 1e9 * 16 / q3_ranks / 1e9",
    # the wrong one of the two limits (the nodes' rates added up, or the file system's): their maximum
    "q4": "q4 = q3_params_b * 1e9 * 14 / (max(q3_ranks // 8 * q4_node_gb_s, q4_fs_gb_s) * 1e9)",
    # the save's own time left out of the wall clock
    "q5": "q5 = q5_save_s / (q5_steps * q5_step_s)",
    # KiB read as KB
    "q6": "q6 = q6_nodes * 8 * q6_samples_per_gpu_s * q6_sample_kib * 1000 / 1e9",
    # the AllReduce factor for every collective, and 2 for AllReduce (without (n-1)/n)
    "q10": ('q10 = q10_algbw * (2 if q10_collective == "all_reduce_perf" '
            "else 2 * (q10_ranks - 1) / q10_ranks)"),
    # judged against the GPU's NVLink bandwidth instead of the node's NICs
    "q11": ("_peak = max(float(l.split()[7]) for l in q11_text.splitlines() if l.strip() and not l.startswith('#'))\n"
            "q11 = _peak / 450"),
    # port counts compared, their rates ignored
    "q12": "q12 = q12_host_ports / q12_uplinks",
    # all hosts' links counted, not half of them across the cut
    "q13": "q13 = q13_hosts * q13_gbit_s / q13_oversubscription / 1000",
    # the core layer forgotten
    "q14": ("_half = q14_radix // 2\n_leaves = math.ceil(q14_gpus / _half)\n"
            "q14 = _leaves + math.ceil(_leaves / _half) * _half"),
    # every peer assumed to get the GPU's full NVLink rate
    "q15": 'q15 = q15_mb * 1e6 / (links.loc[q15_link, "gbyte_s_each_way"] * 1e9) * 1e3',
    # busbw taken to be capped at the link rate, as without SHARP
    "q16": "q16 = q16_nics * q16_nic_gbit_s / 8",
}

QUANTITATIVE = ("q2", "q3", "q4", "q5", "q6", "q10", "q11", "q12", "q13", "q14", "q15", "q16")
