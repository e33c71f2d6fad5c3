"""Assignment 1's test cases (see tests/notebooks/test_roundtrip.py)."""

WRONG = {
    "q1": 'q1 = "A"', "q2": 'q2 = "A"', "q3": 'q3 = "ABD"', "q4": 'q4 = "B"', "q5": 'q5 = "A"',
    "q6": 'q6 = "D"', "q7": 'q7 = "C"', "q8": "q8 = 285", "q9": "q9 = 215", "q10": "q10 = 350 / 800",
    "q11": "q11 = 61_440_000", "q12": "q12 = 4800 / 256",
    "q13": "def widest_total_comp(salaries):\n    return 'Junior'",
    "q14": "def loop_hours(rounds):\n    return (rounds['duration_min_min'].sum(), rounds['duration_max_min'].sum())",
}
NEAR_MISSES: dict[str, str] = {}
QUANTITATIVE = ("q8", "q9", "q10", "q11", "q12")
