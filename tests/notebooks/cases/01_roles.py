"""Assignment 1's test cases (see tests/notebooks/test_roundtrip.py).

``WRONG`` answers every question wrongly for every student: a multiple-choice answer picks an
option that is not the right one for the student's own scenario (the right one is found by the
same fragment the hidden test uses), a number is off by a factor, a function uses the wrong rule.
``NEAR_MISSES`` are the typical mistakes, computed from the student's own drawn inputs; each
question's tolerance must reject them:

- q8: counting the repeated onsite round once;
- q9: taking a quarter of the grant in year 1 instead of the schedule's year-1 share;
- q10: counting whole years of vesting only, ignoring the monthly steps after the cliff;
- q11: using the base-salary midpoint instead of total compensation;
- q12: redoing a whole checkpoint interval instead of the steps since the last checkpoint.
"""


def _not(question: str, expression: str) -> str:
    """An answer that is a valid letter but not the right option: ``expression`` names the right one."""
    return (f"{question} = next(_l for _l, _o in zip({question}_mc.letters, {question}_mc.options) "
            f"if {question}_mc.letter_of({expression}) != _l)")


_Q2 = ('{"800 researchers": "ML platform", "time-to-first-token": "Inference and serving", "multi-cloud": "AI cloud", '
       '"parallelism layouts": "Distributed training", "GB200 racks": "GPU/HPC", "roofline": "Performance"}')
_Q4 = ('{"512 ranks": "Coding", "20,000 concurrent users": "System design", "on your watch": "Behavioural", '
       '"two minutes": "Phone screen", "ring AllReduce": "Domain deep dive"}')
_Q5 = ('{"32 pods": "Kubernetes", "Step time doubled": "Calm debugging", "gradient synchronisation": "Distributed", '
       '"tensor cores": "Hardware", "one-year commitment": "Cost"}')
_Q6 = ('{"broken GPU node": "GPU clouds", "mission and safety": "Frontier", "driver or compiler": "Hardware", '
       '"Bar Raiser": "Big tech"}')

WRONG = {
    "q1": _not("q1", '"waits for the slowest GPU"'),
    "q2": _not("q2", f"next(_v for _k, _v in {_Q2}.items() if _k in q2_posting)"),
    "q3": "q3 = q3_mc.letters",  # every tool: three of them belong to another area
    "q4": _not("q4", f"next(_v for _k, _v in {_Q4}.items() if _k in q4_line)"),
    "q5": _not("q5", f"next(_v for _k, _v in {_Q5}.items() if _k in q5_question)"),
    "q6": _not("q6", f"next(_v for _k, _v in {_Q6}.items() if _k in q6_loop)"),
    "q7": _not("q7", '"no part of the grant vests" if q7_version == "cliff" else "share of the for-profit\'s distributions"'),
    "q8": "q8 = q8_recruiter + q8_assessment + q8_onsite_rounds * q8_onsite_min + q8_manager",  # minutes, not hours
    "q9": "q9 = (q9_base * (1 + q9_bonus_pct / 100) + q9_grant * vesting.loc[q9_schedule, 'year1_pct'] / 100 + q9_sign_on) / 1000",
    "q10": "q10 = q10_grant",  # the whole grant
    "q11": "q11 = q11_gpus * q11_price * 730",  # dollars, not years of pay
    "q12": "q12 = q12_failed_at * q12_step_s * q12_gpus / 3600",  # restarted from step 0
    "q13": ("def widest_total_comp(salaries):\n"
            "    spread = salaries['total_high_usd'] - salaries['total_low_usd']\n"
            "    return str(salaries.loc[spread.idxmin(), 'level'])"),
    "q14": ("def loop_hours(rounds):\n"
            "    return (float(rounds['duration_min_min'].sum()), float(rounds['duration_max_min'].sum()))"),
}

NEAR_MISSES = {
    "q8": "q8 = (q8_recruiter + q8_assessment + q8_onsite_min + q8_manager) / 60",
    "q9": "q9 = q9_base * (1 + q9_bonus_pct / 100) + q9_grant / 4 + q9_sign_on",
    "q10": ("_p = list(vesting.loc[q10_schedule, ['year1_pct', 'year2_pct', 'year3_pct', 'year4_pct']])\n"
            "q10 = q10_grant * sum(_p[: q10_months // 12]) / 100"),
    "q11": ("_lv = salaries.set_index('level').loc[q11_level]\n"
            "q11 = q11_gpus * q11_price * 730 / ((_lv['base_low_usd'] + _lv['base_high_usd']) / 2)"),
    "q12": "q12 = q12_every * q12_step_s * q12_gpus / 3600",
}

QUANTITATIVE = ("q8", "q9", "q10", "q11", "q12")
