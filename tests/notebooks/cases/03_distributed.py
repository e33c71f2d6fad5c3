"""Assignment 3's test cases (see tests/notebooks/test_roundtrip.py).

``WRONG``: an answer to every question that scores zero for every student. ``NEAR_MISSES``: the
typical mistake of each quantitative question, computed from the student's own inputs; every
tolerance must reject it.
"""

WRONG = {
    "q1": 'q1 = q1_mc.letter_of("bucket_cap_mb")',
    "q2": "q2 = [0.001, 0.001]",
    "q3": "q3 = 0.001",
    "q4": "q4 = 0.001",
    "q5": "q5 = 0.001",
    "q6": "def ring_sends(n, rank):\n    return []\nq6 = ring_sends",
    "q7": "q7 = 0.999",
    "q8": "q8 = [0.001, 0.001]",
    "q9": "q9 = 1.0",
    "q10": "q10 = 1",
    "q11": "q11 = 0.0001",
    "q12": 'q12 = q12_mc.letter_of("FP16 everywhere")',
    "q13": "q13 = 0.0001",
    "q14": "q14 = 0.001",
    "q15": "q15 = 1e9",
    "q16": "q16 = 0.001",
    "q17": 'q17 = q17_mc.letter_of("Ethernet link")',
    "q18": "def silent_ranks(log_text, world_size):\n    return []\nq18 = silent_ranks",
    "q19": "q19 = 999.0",
    "q20": "def data_bound_steps(trace, share):\n    return []\nq20 = data_bound_steps",
    "q21": 'q21 = ["A", "A", "A", "A"]',
    "q22": "q22 = 1",
}

NEAR_MISSES = {
    # the state sharded over every GPU, as if HSDP were plain FSDP
    "q2": ("q2 = [16 * q2_params_b * 1e9 / (q2_shard * q2_replicas) / 1e9,\n"
           "      2 * (q2_replicas - 1) / q2_replicas * 2 * q2_params_b * 1e9 / q2_shard / 1e9]"),
    # DDP's volume (one AllReduce): the second AllGather of ZeRO-3 forgotten
    "q3": "q3 = 2 * (q3_gpus - 1) / q3_gpus * 2 * q3_params_b",
    # the latency term forgotten (the 1 % tolerance of the past accepted it)
    "q4": "q4 = 2 * (q4_gpus - 1) / q4_gpus * q4_mb * 1e6 / (q4_bandwidth_gb_s * 1e9) * 1e3",
    # the factors swapped: 2(n-1)/n given to the collectives that move (n-1)/n, and the other way round
    "q5": ('q5 = q5_algbw * ((q5_gpus - 1) / q5_gpus if q5_collective == "AllReduce" '
           'else 2 * (q5_gpus - 1) / q5_gpus)'),
    # the bubble relative to the ideal time, not a fraction of the step
    "q7": ('_kind = "1f1b" if q7_schedule == "1F1B" else "zb-h1" if q7_schedule == "ZB-H1" else "interleaved"\n'
           '_v = int(q7_schedule.split(" chunks")[0][-1]) if _kind == "interleaved" else 1\n'
           '_f = estimates.schedule_bubble_fraction(_kind, q7_stages, q7_microbatches, _v)\n'
           'q7 = _f / (1 - _f)'),
    # 1F1B believed to save time, not memory
    "q8": "q8 = [q8_microbatches * q8_gb_per_microbatch] * 2",
    # full multi-head attention assumed: every head has its own K and V
    "q9": ('_peak = datasheets.set_index("gpu").loc[q9_gpu, "bf16_dense_tflops"] * 1e12\n'
           'q9 = _peak / (interconnects.set_index("link").loc[q9_link, "per_direction_gb_s"] * 1e9)'),
    # top-k forgotten
    "q10": "q10 = int(np.ceil(q10_tokens / q10_experts * q10_factor))",
    # forward only: two AllToAlls instead of four
    "q11": ("q11 = 2 * ((q11_gpus - 1) * q11_alpha_us * 1e-6 + (q11_gpus - 1) / q11_gpus * q11_tokens * q11_top_k"
            " * q11_hidden * 2 / (q11_bandwidth_gb_s * 1e9)) * 1e3"),
    # the other FP8 format's maximum
    "q13": 'q13 = (57344 if q13_format == "fp8 e4m3" else 448) / q13_amax / 2**q13_margin',
    # 16 bytes a parameter: gradients counted as if they were saved
    "q14": "q14 = (2 * 16 * q14_params_b / q14_write_gb_s / 60 * q14_mtbf_h * 60) ** 0.5",
    # the whole checkpoint copied by each rank, as if it were not sharded
    "q15": "q15 = 14 * q15_params_b * 1e9 / (q15_d2h_gb_s * 1e9) * 1e3",
    # the average rank's slowdown instead of the slowest rank's
    "q16": "q16 = q16_step_s * (1 + (q16_slowdown - 1) * q16_probability)",
    # the reserved-but-unallocated part counted as outside PyTorch
    "q19": ('q19 = float(re.search(r"has ([\\d.]+) GiB memory in use", q19_message).group(1)) - '
            'float(re.search(r"([\\d.]+) GiB is allocated", q19_message).group(1))'),
    # the failing step counted as completed
    "q22": "q22 = q22_step // q22_every * q22_every",
}

QUANTITATIVE = ("q2", "q3", "q4", "q5", "q7", "q8", "q9", "q10", "q11", "q13", "q14", "q15", "q16", "q19", "q22")
