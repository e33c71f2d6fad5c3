"""Assignment 8's test cases (see tests/notebooks/test_roundtrip.py): a wrong answer to every question,
and for every quantitative question the typical mistake, computed from that student's own inputs."""

WRONG = {
    "q1": 'q1 = q1_mc.letter_of("grows about eightfold")',
    "q2": "q2 = 0.001",
    "q3": "q3 = 1e9",
    "q4": "q4 = 0",
    "q5": "q5 = 1.0",
    "q6": "q6 = 0.5",
    "q7": "q7 = 1e6",
    "q8": "q8 = 0.0001",
    "q9": "q9 = 1",
    "q10": 'q10 = q10_mc.letter_of("CPU utilisation", "GPU utilisation")',
    "q11": 'q11 = q11_mc.letter_of("thermally throttled")',
    "q12": 'q12 = q12_mc.letter_of("chunked prefill", "max_num_seqs")',
    "q13": "q13 = 100.0",
    "q14": "def allocate(tables, free, lengths, block_size):\n    return tables, free\n\n\nq14 = allocate",
    "q15": "def admit(waiting, free_blocks, block_size, running, max_batch, token_budget):\n"
           "    return [request for request, _ in waiting]\n\n\nq15 = admit",
    "q16": "def ttft_p50_p99(text):\n    return [0.0, 0.0]\n\n\nq16 = ttft_p50_p99",
}

NEAR_MISSES = {
    # 6·N·T, training's FLOPs, instead of a forward pass's 2·N·T
    "q2": "q2 = 6 * float(models.set_index('model').loc[q2_model, 'params_billion']) * 1e9 * q2_prompt / "
          "(q2_gpus * float(precision.set_index('gpu').loc[q2_gpu, 'fp8_dense_tflops']) * 1e12 * q2_mfu) * 1000",
    # forgetting the KV-cache reads: the weights alone over the bandwidth
    "q3": "q3 = float(models.set_index('model').loc[q3_model, 'params_billion']) * 1e9 / "
          "(q3_gpus * float(datasheets.set_index('gpu').loc[q3_gpu, 'bandwidth_tb_s']) * 1e12) * 1000",
    # caching every query head (MHA) instead of the KV heads
    "q4": "_s = {'BF16': 2, 'FP8': 1}\n_row = models.set_index('model').loc[q4_model]\n"
          "q4 = int((8 * float(datasheets.set_index('gpu').loc[q4_gpu, 'memory_gb']) * 1e9 * 0.9 "
          "- float(_row['params_billion']) * 1e9 * _s[q4_weights]) // (q4_tokens * 2 * int(_row['layers']) "
          "* int(_row['attention_heads']) * int(_row['head_dim']) * _s[q4_kv]))",
    # Little's law with the time to first token only, the decode time forgotten
    "q5": "q5 = q5_rate * q5_ttft",
    # the tokens a target pass yields, the draft's own cost forgotten
    "q6": "q6 = (1 - q6_alpha ** (q6_k + 1)) / (1 - q6_alpha)",
    # the instance's price against one GPU's throughput
    "q7": "q7 = float(instances.set_index('instance').loc[q7_instance, 'on_demand_usd_per_hour']) "
          "/ (q7_tokens_s_gpu * 3600) * 1e6",
    # both directions of the link for a one-way transfer
    "q8": "_row = models.set_index('model').loc[q8_model]\n"
          "q8 = q8_tokens * 2 * int(_row['layers']) * int(_row['kv_heads']) * int(_row['head_dim']) * 2 / "
          "(float(interconnects.set_index('link').loc[q8_link, 'bidirectional_gb_s']) * 1e9) * 1000",
    # rounding the total up once instead of each sequence's last block
    "q9": "q9 = math.ceil(sum(q9_lengths) / q9_block)",
    # either SLO instead of both
    "q13": "q13 = float(((requests['ttft_s'] <= q13_ttft_slo_s) | (requests['tpot_s'] <= q13_tpot_slo_ms / 1000))"
           ".mean() * 100)",
}

QUANTITATIVE = ("q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q13")
