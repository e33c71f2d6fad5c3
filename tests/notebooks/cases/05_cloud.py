"""Assignment 5's test cases (see tests/notebooks/test_roundtrip.py).

Each near-miss is the typical mistake for its question, computed from that student's own inputs.
"""

_PEAK = ('_row = instances.set_index("instance").loc[q4_instance]\n'
         '_peak = gpus.set_index("gpu_model").loc[_row["gpu_model"], "bf16_dense_tflops"] * 1e12\n'
         '_hours = 6 * q4_params_b * 1e9 * q4_tokens_t * 1e12 / (_peak * q4_mfu) / 3600\n')

WRONG = {
    "q1": 'q1 = q1_mc.letter_of("serverless")',
    "q2": 'q2 = q2_mc.letter_of("Fifteen minutes")',
    "q3": 'q3 = q3_mc.letter_of("subnet manager", "PFC")',
    "q4": "q4 = -1.0",
    "q5": "q5 = -1.0",
    "q6": "q6 = -1.0",
    "q7": "q7 = 3",
    "q8": "q8 = -1.0",
    "q9": "q9 = -1.0",
    "q10": "q10 = -1.0",
    "q11": "q11 = -1.0",
    "q12": "q12 = -1.0",
    "q13": "q13 = -1.0",
    "q14": "q14 = -0.5",
    "q15": 'q15 = q15_mc.letter_of("rolls over")',
    "q16": 'q16 = q16_mc.letter_of("ECC")',
    "q17": "def cheapest_per_gpu_hour(instances):\n    return {}\n\nq17 = cheapest_per_gpu_hour",
    "q18": ("def spot_run_cost(w, g, p, d, r, n, tau, rst):\n    return w * g * p * (1 - d)\n\n"
            "q18 = spot_run_cost"),
    "q19": ("def tiered_cost(quantity, tiers):\n    return quantity * max(p for _, _, p in tiers)\n\n"
            "q19 = tiered_cost"),
}

NEAR_MISSES = {
    # 2·N·D (the forward pass only) instead of 6·N·D
    "q4": _PEAK + "q4 = _hours / 3",
    # the instance's price taken as the price of a GPU-hour
    "q5": _PEAK + 'q5 = _hours * _row["on_demand_usd_per_hour"]',
    # hours of wall time, not days
    "q6": _PEAK + "q6 = _hours / q6_gpus",
    # the quota divided without rounding down to whole instances
    "q7": ('_row = instances.set_index("instance").loc[q7_instance]\n'
           'q7 = q7_quota_vcpus / int(_row["vcpus"]) * int(_row["gpus"])'),
    # one node's interruption rate used for the whole job
    "q8": ('_row = instances.set_index("instance").loc[q8_instance]\n'
           "_hours = q8_work_h / (1 - (q8_tau_h / 2 + q8_restart_min / 60) / q8_node_mtbf_h)\n"
           'q8 = _hours * q8_nodes * _row["on_demand_usd_per_hour"] * (1 - q8_discount)'),
    # the free first 100 GB charged at the first paid tier's price
    "q9": ('_eg = tables.load(LESSON, "egress_tiers")\n'
           "_p = [p if p else _eg['usd_per_gb'].iloc[1] for p in _eg['usd_per_gb']]\n"
           "q9 = sum(max(0.0, min(q9_gb, hi) - lo) * p for lo, hi, p in zip(_eg['from_gb'], _eg['to_gb'], _p))"),
    # the hot spare forgotten
    "q10": 'q10 = q10_nodes * instances.set_index("instance").loc[q10_type, "on_demand_usd_per_hour"]',
    # quiet hours billed for the usage only, not the full commitment
    "q11": ('_node = instances.set_index("instance").loc[q11_instance, "on_demand_usd_per_hour"]\n'
            "_commit = q11_covered * _node * (1 - q11_discount)\n"
            "_busy = _commit + max(0, (q11_steady + q11_extra - q11_covered) * _node)\n"
            "_quiet = q11_steady * _node * (1 - q11_discount)\n"
            "q11 = 30 * (q11_hours * _busy + (24 - q11_hours) * _quiet)"),
    # one flat price (the first tier's) for every GB
    "q12": "q12 = q12_gb * 0.023 * q12_months",
    # the file system sized for one need only (the data or the bandwidth), the one that does not bind
    "q13": ('_price = tables.load(LESSON, "fsx_lustre").set_index("mb_s_per_tib").loc[q13_tier, "usd_per_gb_month"]\n'
            "q13 = math.ceil(min(q13_data_gib, q13_gb_s * 1e6 / q13_tier) / 2400) * 2400 * _price"),
    # power without the PUE (the IT load only)
    "q14": ("_per_year = q14_server_usd / q14_years + q14_kw * 8760 * q14_usd_per_kwh\n"
            "q14 = _per_year / (8 * 8760) / q14_rent_usd_per_gpu_hour"),
}

QUANTITATIVE = ("q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", "q14")
