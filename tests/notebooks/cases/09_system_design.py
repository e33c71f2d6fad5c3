"""Assignment 9's test cases (see tests/notebooks/test_roundtrip.py).

``NEAR_MISSES`` make each quantitative question's typical mistake with the student's own drawn inputs;
every tolerance must reject them.
"""

WRONG = {
    "q1": "q1 = -1.0", "q2": "q2 = 0", "q3": "q3 = -1.0", "q4": "q4 = -1.0", "q5": "q5 = -1.0", "q6": "q6 = 1.5",
    "q7": "q7 = -1.0", "q8": "q8 = 0", "q9": 'q9 = "Z"', "q10": 'q10 = "Z"', "q11": "q11 = -1.0", "q12": "q12 = 0",
    "q13": "q13 = -1.0", "q14": "q14 = -1.0", "q15": "q15 = 0",
    "q16": "def smallest_layout(params, gpus, memory_gb, tensor_options, pipeline_options):\n"
           "    return (max(tensor_options), max(pipeline_options))\n\nq16 = smallest_layout",
    "q17": "def interruption_rates(log_text, gpus, days):\n    return {}\n\nq17 = interruption_rates",
}

NEAR_MISSES = {
    # 2·N·D (a forward pass) instead of 6·N·D
    "q1": "q1 = 2 * q1_params_b * 1e9 * q1_tokens_t * 1e12 / (q1_gpus * datasheets.set_index('gpu').loc[q1_gpu, "
          "'bf16_dense_tflops'] * 1e12 * q1_mfu) / 86400",
    # no ZeRO: the full 16 bytes a parameter on every GPU of the model-parallel group
    "q2": "_budget = 0.9 * datasheets.set_index('gpu').loc[q2_gpu, 'memory_gb'] * 1e9\n"
          "for _p in (1, 2, 4, 8, 16, 32, 64):\n"
          "    if 16 * q2_params_b * 1e9 / (8 * _p) <= _budget:\n"
          "        break\n"
          "q2 = q2_gpus // (8 * _p)",
    # gradients counted in the checkpoint (16 bytes a parameter instead of 14)
    "q3": "q3 = q3_params_b * 1e9 * 16 / (q3_storage_gb_s * 1e9)",
    # all 466 interruptions, planned maintenance included
    "q4": "_s = failure_stats.set_index('metric')['value']\n"
          "q4 = _s['interruptions_total'] / (_s['gpus'] * _s['period']) * q4_gpus",
    # √(δ·MTBF): the factor 2 forgotten
    "q5": "_s = failure_stats.set_index('metric')['value']\n"
          "_m = 24 * 3600 / (_s['interruptions_unexpected'] / (_s['gpus'] * _s['period']) * q5_gpus)\n"
          "q5 = (q5_stall_s * _m) ** 0.5 / 60",
    # restart time forgotten
    "q6": "q6 = (1 - (q6_interval_min * 30) / (q6_mtbf_h * 3600)) / (1 + q6_stall_s / (q6_interval_min * 60))",
    # PUE forgotten: IT load only
    "q7": "_row = systems.set_index('system').loc[q7_system]\n"
          "q7 = -(-q7_gpus // int(_row['gpus_per_system'])) * _row['system_power_kw'] / 1000",
    # two tiers counted (leaves and spines, no core)
    "q8": "q8 = q8_gpus // 32 * 2",
    # each request stays TTFT + one TPOT instead of TTFT + every output token
    "q11": "q11 = q11_rps * (q11_ttft_s + q11_tpot_ms / 1000)",
    # replicas instead of GPUs
    "q12": "q12 = -(-q12_rps * q12_output_tokens * 5 // (4 * q12_tokens_per_s))",
    # the price of one GPU, not the replica
    "q13": "q13 = q13_usd_per_gpu_hour / (q13_tokens_per_s * 3600) * 1e6",
    # 2N FLOPs a token (inference) instead of 6N (training)
    "q14": "q14 = q14_gpus * datasheets.set_index('gpu').loc[q14_gpu, 'bf16_dense_tflops'] * 1e12 * q14_mfu "
           "/ (2 * q14_params_b * 1e9) / 1e6",
    # the PUT limit (3,500 a second) instead of the GET limit
    "q15": "q15 = -(-q15_gpus * q15_samples_per_s // 3500)",
}

QUANTITATIVE = ("q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q11", "q12", "q13", "q14", "q15")
