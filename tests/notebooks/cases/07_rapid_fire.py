"""Assignment 7's test cases (see tests/notebooks/test_roundtrip.py).

``WRONG``: an answer to every question that scores zero for every student (letters that are not options,
impossible numbers and names, functions that ignore their input). ``NEAR_MISSES``: the typical mistake of each
quantitative question, computed from the student's own inputs in the student's kernel; each must score zero.
"""

WRONG = {
    "q1": 'q1 = "E"', "q2": 'q2 = "E"', "q3": 'q3 = "E"', "q4": 'q4 = "E"', "q5": 'q5 = "E"',
    "q6": 'q6 = "ABCDE"',
    "q7": "q7 = 0.0", "q8": "q8 = -1.0", "q9": "q9 = 0.0", "q10": "q10 = -1.0", "q11": "q11 = 1.5",
    "q12": "def counts(frame, round_name, difficulties):\n    return frame.head(0)\nq12 = counts",
    "q13": "def silent(text, world_size):\n    return []\nq13 = silent",
    "q14": "def earliest(text):\n    return ['nobody', -1]\nq14 = earliest",
    "q15": 'q15 = "localhost"', "q16": "q16 = 99", "q17": 'q17 = "Z"', "q18": 'q18 = "0000:00:00.0"',
    "q19": "q19 = -1.0", "q20": "q20 = 1.5", "q21": 'q21 = "Z"',
}

NEAR_MISSES = {
    # 2·N·D (forward pass only) instead of 6·N·D
    "q7": ("_peak = datasheets.set_index('gpu').loc[q7_gpu, 'bf16_dense_tflops'] * 1e12\n"
           "q7 = 2 * q7_params_b * 1e9 * q7_tokens_t * 1e12 / (_peak * q7_mfu_pct / 100) / 3600"),
    # 16 bytes a parameter (the in-memory model state, gradients included) instead of the checkpoint's 14
    "q8": "q8 = 16 * q8_params_b * 1e9 / (q8_write_gb_s * 1e9)",
    # everything sharded (16Ψ/N) as if it were ZeRO-3
    "q9": "q9 = 16 * q9_params_b * 1e9 / q9_gpus / 1e9",
    # the bandwidth term alone: the α term forgotten
    "q10": "q10 = 2 * (q10_gpus - 1) / q10_gpus * q10_message_mb * 1e6 / (q10_bandwidth_gb_s * 1e9) * 1e3",
    # Megatron's bubble ratio (idle ÷ ideal compute) instead of the fraction of the whole step
    "q11": "q11 = (q11_stages - 1) / (q11_chunks * q11_microbatches)",
    # resuming from the asynchronous checkpoint that started but never completed
    "q19": ("import re as _re, statistics as _st\n"
            "_started = max(int(x) for x in _re.findall(r'async save of step_(\\d+) started', train_log))\n"
            "_last = max(int(x) for x in _re.findall(r'\\| step (\\d+)/', train_log))\n"
            "_med = _st.median(float(x) for x in _re.findall(r'step_time_s ([\\d.]+)', train_log))\n"
            "q19 = (_last - _started) * _med / 60"),
    # the sparse (2:4) peak instead of the dense one
    "q20": ("import re as _re, statistics as _st\n"
            "_params = float(_re.search(r'params=([\\d.e]+)', train_log).group(1))\n"
            "_world = int(_re.search(r'world_size=(\\d+)', train_log).group(1))\n"
            "_gpu = _re.search(r'gpu=(.+?) parallelism', train_log).group(1)\n"
            "_tps = _st.median(float(x) for x in _re.findall(r'tokens_per_s (\\d+)', train_log))\n"
            "q20 = 6 * _params * _tps / (_world * datasheets.set_index('gpu').loc[_gpu, 'bf16_sparse_tflops'] * 1e12)"),
}

QUANTITATIVE = ("q7", "q8", "q9", "q10", "q11", "q19", "q20")
