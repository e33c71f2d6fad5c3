"""Assignment 2's test cases (see tests/notebooks/test_roundtrip.py).

``WRONG``: an answer to every question that scores zero for every student. ``NEAR_MISSES``: the
typical mistake of each quantitative question, computed from the student's own inputs; every
tolerance must reject it.
"""

WRONG = {
    "q1": 'q1 = q1_mc.letter_of("moves half of the threads")',
    "q2": 'q2 = q2_mc.letter_of("register file")',
    "q3": "q3 = [0, 0]",
    "q4": "q4 = 1.0",
    "q5": "q5 = [1.0, 1.0]",
    "q6": "q6 = 1.0",
    "q7": "q7 = 1",
    "q8": "q8 = 0.001",
    "q9": "q9 = 0.001",
    "q10": "q10 = [1000.0, 1000.0]",
    "q11": 'q11 = q11_mc.letter_of("7g.80gb")',
    "q12": "q12 = 0.01",
    "q13": "def ecc_bus_ids(text):\n    return []\nq13 = ecc_bus_ids",
    "q14": "q14 = 99",
    "q15": "def worst_action(log_text, xid_table):\n    return {}\nq15 = worst_action",
    "q16": 'q16 = "0000:00:00"',
    "q17": ('q17 = q17_mc.letter_of("watch the ECC") if "Xid 92" not in q17_scenario '
            'else q17_mc.letter_of("reboot it")'),
    "q18": "def serving_gb(*args):\n    return 0.0\nq18 = serving_gb",
    "q19": "def single_gpu_fits(datasheets, total_gb, reserve):\n    return []\nq19 = single_gpu_fits",
}

NEAR_MISSES = {
    # whole blocks and the shared-memory limit forgotten: registers ÷ (registers a thread × 32)
    "q3": "q3 = [min(64, 65536 // (q3_registers_a * 32)), min(64, 65536 // (32 * 32))]",
    # the power cap forgotten: the datasheet's ridge point
    "q4": ('_g = datasheets.set_index("gpu").loc[q4_gpu]\n'
           'q4 = _g["bf16_dense_tflops"] / _g["bandwidth_tb_s"]'),
    # the flat roof forgotten: intensity × bandwidth for both kernels
    "q5": ('_g = datasheets.set_index("gpu").loc[q5_gpu]\n'
           'q5 = [q5_intensity_a * _g["bandwidth_tb_s"], q5_intensity_b * _g["bandwidth_tb_s"]]'),
    # the output write forgotten (the 1 % tolerance of the past accepted it)
    "q6": "q6 = 2 * q6_m * q6_n * q6_k / (2 * (q6_m * q6_k + q6_k * q6_n))",
    # the activations' traffic ignored: batch = ridge point
    "q7": ('_g = datasheets.set_index("gpu").loc[q7_gpu]\n'
           'q7 = int(np.ceil(_g["bf16_dense_tflops"] / _g["bandwidth_tb_s"]))'),
    # K or V only (the factor 2 forgotten)
    "q8": ('_m = models.set_index("model").loc[q8_model]\n'
           'q8 = _m["layers"] * _m["kv_heads"] * _m["head_dim"] * 2 * q8_tokens * q8_batch / 1e9'),
    # everything sharded as if it were ZeRO-3: 16Ψ/N
    "q9": 'q9 = 16 * models.set_index("model").loc[q9_model, "params_billion"] * 1e9 / q9_gpus / 1e9',
    # both directions counted: half the real time
    "q10": ('_g = datasheets.set_index("gpu").loc[q10_gpu]\n'
            '_h = interconnects.set_index("link").loc[_g["host_interface"], "bidirectional_gb_s"]\n'
            'q10 = [q10_gb / _h, q10_gb / _g["peer_bidirectional_gb_s"]]'),
    # MiB read as 10^6 bytes
    "q12": "q12 = q12_need_gb * 1e9 / (q12_total_mib * 1e6)",
}

QUANTITATIVE = ("q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q12")
