"""Item analysis and similarity flags, on simulated cohorts whose statistics and copies are known."""

from __future__ import annotations

import csv
import math
import re

import pytest

import builders as b
from infraprep.grading import analytics, similarity

N = 100


def known_cohort():
    """100 students ranked by ability i (0..99). 'core' earns i/99 of 10 points, so the score on the
    other questions rises with i for every question; the other questions are built so that their
    statistics follow from the construction:
      easy: everyone right; hard: the top 5 only; sharp: the top half; noise: every other student;
      inverse: the bottom half only."""
    rule = {"easy": lambda i: 1.0, "hard": lambda i: float(i >= 95), "sharp": lambda i: float(i >= 50),
            "noise": lambda i: float(i % 2 == 0), "inverse": lambda i: float(i < 50)}
    points = {"core": 10.0, **{q: 1.0 for q in rule}}
    scores = {f"s{i:03d}": {"core": i / 99, **{q: f(i) for q, f in rule.items()}} for i in range(N)}
    return scores, points, rule


def test_item_analysis_finds_the_statistics_the_cohort_was_built_with():
    scores, points, rule = known_cohort()
    stats = {s.cell: s for s in analytics.item_analysis(scores, points, "L")}
    k = round(0.27 * N)  # 27: the other questions' score rises with i, so the groups are i >= 73 and i < 27
    upper, lower = range(N - k, N), range(k)
    for q, f in rule.items():
        s = stats[q]
        assert s.n == N
        assert s.difficulty == pytest.approx(sum(f(i) for i in range(N)) / N)
        assert s.upper_lower == pytest.approx(sum(f(i) for i in upper) / k - sum(f(i) for i in lower) / k)
    assert stats["easy"].discrimination is None and stats["easy"].flags == [analytics.TOO_EASY, analytics.NOT_DISCRIMINATING]
    assert stats["hard"].flags == [analytics.TOO_HARD]  # rare, but only the strongest get it: it discriminates
    assert stats["sharp"].flags == [] and stats["sharp"].upper_lower == 1.0 and stats["sharp"].discrimination > 0.5
    assert stats["noise"].flags == [analytics.NOT_DISCRIMINATING] and abs(stats["noise"].discrimination) < 0.1
    assert stats["inverse"].flags == [analytics.NEGATIVE] and stats["inverse"].upper_lower == -1.0


def test_the_discrimination_is_the_point_biserial_correlation_with_the_other_questions():
    scores, points, _ = known_cohort()
    s = next(x for x in analytics.item_analysis(scores, points) if x.cell == "sharp")
    item = [scores[k]["sharp"] for k in sorted(scores)]
    rest = [sum(points[q] * scores[k][q] for q in points if q != "sharp") for k in sorted(scores)]
    ones = [r for x, r in zip(item, rest) if x == 1]
    zeros = [r for x, r in zip(item, rest) if x == 0]
    mean = sum(rest) / N
    sd = math.sqrt(sum((r - mean) ** 2 for r in rest) / N)
    p = len(ones) / N
    point_biserial = (sum(ones) / len(ones) - sum(zeros) / len(zeros)) / sd * math.sqrt(p * (1 - p))
    assert s.discrimination == pytest.approx(point_biserial)


def test_too_few_students_marks_nothing_and_ungraded_answers_are_left_out():
    scores = {f"s{i}": {"a": 1.0, "b": None if i % 2 else 0.5} for i in range(4)}
    stats = {s.cell: s for s in analytics.item_analysis(scores, {"a": 1.0, "b": 2.0})}
    assert stats["a"].flags == [] and stats["b"].n == 2 and stats["b"].difficulty == 0.5


def test_item_csv_and_chart(tmp_path):
    scores, points, _ = known_cohort()
    stats = analytics.item_analysis(scores, points, "L", {q: f"{q.upper()} · a question" for q in points})
    path = analytics.write_csv(stats, tmp_path / "items.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["grade_cell"] for r in rows] == list(points) and rows[1]["question"] == "EASY · a question"
    assert rows[1]["flags"] == "too easy; does not discriminate" and rows[1]["discrimination"] == ""
    fig = analytics.chart(stats, "L")
    assert [t.get_text() for t in fig.axes[0].texts][:3] == ["too easy", "too hard",
                                                              "does not tell strong from weak students"]


def test_questions_are_named_as_students_see_them(tmp_path):
    course = b.new_course(tmp_path, ["01-roles", "02-gpu"])
    from infraprep.grading.course import Course

    qs = analytics.questions(Course(course), "01-roles")
    assert qs["q8_tests"].label.startswith("Q8 · A frontier-lab loop has the stages shown")
    assert len(qs["q8_tests"].label) <= 52 and qs["q15"].manual and qs["q15"].label.startswith("Q15 · ")
    gpu = analytics.questions(Course(course), "02-gpu")
    # every question whose set-up draws inputs is a variant; the coding tasks and the written answer are not
    assert {q.qid for q in gpu.values() if q.variant} == {f"q{n}" for n in (*range(1, 13), 14, 16, 17)}
    assert not any(q.variant for q in gpu.values() if q.qid in {"q13", "q15", "q18", "q19"})


# ---------------------------------------------------------------- similarity: the pieces

def test_a_written_value_is_read_without_running_anything():
    assert similarity.written_value("q5 = 1234.5  # mine", "q5") == 1234.5
    assert similarity.written_value("x = 3\nq5 = 2 * 700 / 3", "q5") == pytest.approx(466.666, rel=1e-4)
    assert similarity.written_value('q1 = "B"', "q1") == "B"
    assert similarity.written_value("q5 = min(3, 4)", "q5") is None  # a call: code, not a value
    assert similarity.written_value("q5 = __import__('os').system('true')", "q5") is None
    assert similarity.written_value("q5 = 9 ** 9 ** 9", "q5") is None  # no huge arithmetic either
    assert similarity.same_value(591.4, 591.36) and not similarity.same_value(591.4, 600.0)
    assert similarity.same_value("ac", "CA") and not similarity.same_value("A", "B")


def test_normalising_sees_through_names_comments_and_layout_but_not_another_algorithm():
    mine = "def f(text):\n    out = []\n    for line in text.splitlines():\n        if 'x' in line:\n            out.append(line)\n    return out\n"
    renamed = ("def f(log):  # my own\n    \"\"\"Lines with x.\"\"\"\n    found = []\n\n    for row in log.splitlines():\n"
               "        if 'x' in row:   # keep it\n            found.append(row)\n    return found\n")
    other = "def f(text):\n    return [line for line in text.splitlines() if 'x' in line]\n"
    assert similarity.normalise(mine) == similarity.normalise(renamed)
    assert similarity.likeness(similarity.normalise(mine), similarity.normalise(other)) < similarity.CODE_THRESHOLD


# ---------------------------------------------------------------- similarity on a graded cohort

LESSON = "02-gpu"
SECRET = "a-fixed-secret-for-this-test"

OWN_Q13 = """\
def ecc_bus_ids(text):
    pattern = re.compile(r"^\\|\\s+\\d+\\s+.+?\\|\\s+(\\S+)\\s+\\S+\\s+\\|\\s+(\\d+)\\s+\\|$", re.M)
    bad = []
    for found in pattern.finditer(text):
        bus, count = found.group(1), int(found.group(2))
        if count > 0:
            bad.append(bus)
    return bad
q13 = ecc_bus_ids
"""
RENAMED_Q13 = """\
def ecc_bus_ids(smi):
    # the GPUs with errors
    rx = re.compile(r"^\\|\\s+\\d+\\s+.+?\\|\\s+(\\S+)\\s+\\S+\\s+\\|\\s+(\\d+)\\s+\\|$", re.M)
    out = []

    for hit in rx.finditer(smi):
        bus_id, errors = hit.group(1), int(hit.group(2))
        if errors > 0:
            out.append(bus_id)
    return out
q13 = ecc_bus_ids
"""
HONEST_Q13 = """\
def ecc_bus_ids(text):
    result = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) >= 4 and cells[1][:1].isdigit():
            bus = cells[2].split()[0]
            ecc = cells[3].split()[-1]
            if ecc.isdigit() and int(ecc) > 0:
                result.append(bus)
    return result
q13 = ecc_bus_ids
"""


@pytest.mark.roundtrip
def test_similarity_flags_planted_copies_and_not_honest_look_alikes(tmp_path):
    from infraprep.grading.course import Course
    from infraprep.grading.simulate import copied_answers

    source = b.SOURCE / LESSON / f"{LESSON}.ipynb"
    truth = {s: similarity.variant_truth(source, LESSON, s, SECRET, {"q1", "q4", "q5"})
             for s in ("ada", "bea", "cal", "dot", "eve", "fin", "gil")}
    # the copier copies a classmate whose inputs differ on all three (else a copied number is just right)
    donor = next(s for s in ("ada", "eve", "fin") if all(truth[s][q]["inputs"] != truth["bea"][q]["inputs"]
                                                         for q in ("q1", "q4", "q5")))
    copied = copied_answers(source, LESSON, donor, SECRET, ["q1", "q4", "q5"])
    subs = {
        "ada": b.submission(LESSON, "all", replace={"q13": OWN_Q13}),
        "eve": b.submission(LESSON, "all"),
        "fin": b.submission(LESSON, "all"),
        "bea": b.submission(LESSON, replace=copied),                          # a classmate's numbers
        "cal": b.submission(LESSON, "all", replace={"q13": RENAMED_Q13}),     # ada's code, renamed
        # honest look-alikes: the same round guess on one question, and each their own Q13
        "dot": b.submission(LESSON, replace={"q5": "q5 = 1000.0", "q13": HONEST_Q13}),
        "gil": b.submission(LESSON, replace={"q5": "q5 = 1000.0"}),
    }
    course = b.new_course(tmp_path, [LESSON])
    b.add_course_config(course, f'c.JudgedExecute.variant_secret = "{SECRET}"')
    b.nbgrader(course, "generate_assignment", LESSON, "--force")
    for student, nb in subs.items():
        b.submit(course, student, LESSON, nb)
    b.infraprep(course, "autograde", LESSON, "--workers", "2", "--no-progress")
    found = similarity.find(Course(course), [LESSON], SECRET)
    kinds = {(p.kind, p.students) for p in found.pairs}
    assert kinds == {(similarity.WRONG_MATCH, tuple(sorted((donor, "bea")))), (similarity.SAME_CODE, ("ada", "cal"))}, \
        [(p.kind, p.students, p.evidence) for p in found.pairs]
    wrong = next(p for p in found.pairs if p.kind == similarity.WRONG_MATCH)
    assert wrong.weight >= 2 and any(e.startswith("Q5 · ") and "bea handed in" in e and f"{donor}'s answer" in e
                                     for e in wrong.evidence), wrong.evidence
    same = next(p for p in found.pairs if p.kind == similarity.SAME_CODE)
    assert "100 % alike" in same.evidence[0] and same.code[1] == RENAMED_Q13
    assert found.solution_like >= 1, "eve and fin hand in the course's own Q13: a common source, not listed"

    b.infraprep(course, "report", "-o", str(tmp_path / "report"))
    page = (tmp_path / "report" / "report.html").read_text()
    assert f"<b>{similarity.WRONG_MATCH}</b> (1 pair)" in page and f"<b>{similarity.SAME_CODE}</b> (1 pair)" in page
    assert re.search(r"Q5 · Two fused kernels", page)
    fragment = (tmp_path / "report" / "fragment.html").read_text()
    assert "<html" not in fragment and "<script" not in fragment and 'src="data:image/png;base64,' in fragment
