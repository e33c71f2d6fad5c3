"""Lesson 1's tables agree with their sources, and the lecture's claims with its own numbers."""

import re
from pathlib import Path

import nbformat
import pytest

from infraprep import estimates, tables
from infraprep.estimates import career

ROOT = Path(__file__).resolve().parents[1]
# the course plan's seed text, when /work/shared (or a shared/ folder beside the clone) is present
SEED = next((p for p in (ROOT.parent / "shared" / "seed", ROOT.parent.parent / "shared" / "seed") if p.is_dir()),
            ROOT.parent / "shared" / "seed")
LESSON = "01-roles"

SEED_SALARIES = {  # level: (base low, base high, total low, total high), USD, 2025
    "Junior": (140_000, 180_000, 180_000, 280_000),
    "Mid": (180_000, 250_000, 300_000, 500_000),
    "Senior": (250_000, 350_000, 500_000, 800_000),
    "Staff+": (300_000, 450_000, 700_000, 1_500_000),
}
SEED_ROUNDS = {"Phone screen": (45, 60), "Coding": (45, 60), "System design": (45, 60),
               "Domain deep dive": (45, 60), "Behavioural": (30, 45)}
# what each public source gives (posted base ranges; self-reported medians), USD a year
PUBLIC = {
    ("NVIDIA", "Level 3"): (152_000, 241_500), ("NVIDIA", "Level 4"): (184_000, 287_500),
    ("NVIDIA", "upper band"): (224_000, 356_500), ("OpenAI", "level not posted"): (342_000, 555_000),
    ("Anthropic", "level not posted"): (405_000, 485_000), ("Anthropic", "manager"): (405_000, 485_000),
    ("NVIDIA", "IC1"): (175_000, 175_000), ("NVIDIA", "IC2"): (255_000, 255_000), ("NVIDIA", "IC3"): (287_000, 287_000),
    ("NVIDIA", "IC4"): (388_000, 388_000), ("NVIDIA", "IC5"): (480_000, 480_000), ("NVIDIA", "IC6"): (596_000, 596_000),
    ("Google", "L6"): (244_000 + 187_000 + 35_000,) * 2,
}
VESTING = {"Even with a one-year cliff": ((25, 25, 25, 25), 12), "Back-loaded 5/15/40/40": ((5, 15, 40, 40), 12),
           "Front-loaded 33/33/22/12": ((33, 33, 22, 12), None), "Even, no cliff": ((25, 25, 25, 25), 0)}


def test_salaries_match_the_seed():
    frame = tables.load(LESSON, "salaries").set_index("level")
    assert list(frame.index) == list(SEED_SALARIES)
    for level, numbers in SEED_SALARIES.items():
        row = frame.loc[level]
        assert (row.base_low_usd, row.base_high_usd, row.total_low_usd, row.total_high_usd) == numbers
    assert set(frame["year"]) == {2025}
    assert frame.loc["Staff+", "total_open_ended"] and not frame.loc["Senior", "total_open_ended"]
    assert (frame["base_low_usd"] < frame["base_high_usd"]).all()
    assert (frame["total_low_usd"] >= frame["base_low_usd"]).all()


def test_interview_rounds_match_the_seed_and_name_real_lessons():
    frame = tables.load(LESSON, "interview_rounds").set_index("round")
    assert {r: (row.duration_min_min, row.duration_max_min) for r, row in frame.iterrows()} == SEED_ROUNDS
    lessons = {name.strip() for cell in frame["lessons"] for name in cell.split(";")}
    assert lessons == {f"{n:02d}-{s}" for n, s in [(1, "roles"), (2, "gpu"), (3, "distributed"), (4, "kubernetes"),
                                                    (5, "cloud"), (6, "storage-networking"), (7, "rapid-fire"),
                                                    (8, "inference"), (9, "system-design")]}


def test_six_role_variants_with_serving_and_performance_and_no_lambda_labs():
    variants = tables.load(LESSON, "role_variants")
    names = list(variants["variant"])
    assert len(names) == 6 and len(set(names)) == 6
    assert any("serving" in n.lower() for n in names) and any("performance" in n.lower() for n in names)
    for name in set(tables.available(LESSON)) - {"references"}:  # a reference may say "formerly Lambda Labs"
        text = tables.load(LESSON, name).to_csv()
        assert "Lambda Labs" not in text, f"{name}.csv still says Lambda Labs (the company is now Lambda)"
    assert variants["typical_employers"].str.contains(r"\bLambda\b").any()
    for cell in variants["keywords"]:
        assert len([k for k in cell.split(";") if k.strip()]) >= 5


def test_tools_lead_with_what_teams_run_now():
    tools = tables.load(LESSON, "responsibilities").set_index("area")["tools_to_know"]
    assert "Horovod" not in " ".join(tools), "Horovod's last release was v0.28.1 (June 2023): not a tool to lead with"
    assert "FSDP2" in tools["Distributed training"] and "vLLM" in tools["Inference serving"]


def test_employers_split_out_the_gpu_clouds():
    employers = tables.load(LESSON, "employers").set_index("category")
    assert "GPU clouds (neoclouds)" in employers.index
    assert "CoreWeave" in employers.loc["GPU clouds (neoclouds)", "examples"]
    assert {"Frontier labs", "Hardware vendors", "Big tech"} <= set(employers.index)


def test_public_pay_figures_are_the_sources_numbers_and_dated():
    frame = tables.load(LESSON, "public_pay")
    got = {(r.company, r.level): (r.low_usd, r.high_usd) for r in frame.itertuples()}
    assert got == PUBLIC
    assert frame["as_of"].str.fullmatch(r"20\d\d(-\d\d(-\d\d)?)?").all()
    medians = frame[(frame["company"] == "NVIDIA") & frame["kind"].str.startswith("median")]
    assert list(medians["high_usd"]) == sorted(medians["high_usd"]), "NVIDIA medians rise with level"


def test_vesting_schedules_add_up_and_match_their_sources():
    frame = tables.load(LESSON, "vesting").set_index("schedule")
    assert set(frame.index) == set(VESTING)
    for name, (pcts, cliff) in VESTING.items():
        row = frame.loc[name]
        assert (row.year1_pct, row.year2_pct, row.year3_pct, row.year4_pct) == pcts
        assert sum(pcts) == 100
        assert (row.cliff_months != row.cliff_months) if cliff is None else row.cliff_months == cliff  # NaN: not stated


def test_hbm_sizes_quoted_by_the_lecture_are_current():
    sheet = tables.load("02-gpu", "datasheets")
    hbm = sheet[sheet["memory_type"].str.startswith("HBM")]["memory_gb"]
    assert (hbm.min(), hbm.max()) == (80, 192)
    facts = tables.load(LESSON, "gpu_facts").set_index("fact")["value"]
    assert facts["B300 HBM3e per GPU"] == 288
    assert facts["Data-centre GPU price, lower bound"] == 30_000


def test_the_plan_covers_nine_lessons_with_8_and_9_in_week_3():
    plan = tables.load(LESSON, "prep_plan")
    assert plan["task_id"].is_unique and (plan["hours"] > 0).all()
    assert sorted(plan["week"].unique()) == [1, 2, 3]
    assert set(plan["lesson"]) == {f"0{n}-{s}" for n, s in [(1, "roles"), (2, "gpu"), (3, "distributed"),
                                                             (4, "kubernetes"), (5, "cloud"), (6, "storage-networking"),
                                                             (7, "rapid-fire"), (8, "inference"), (9, "system-design")]}
    weeks = plan.groupby("lesson")["week"].agg(set)
    assert weeks["08-inference"] == {3} and weeks["09-system-design"] == {3}
    order = list(plan["lesson"])
    assert order.index("08-inference") > order.index("06-storage-networking")
    lessons_only = [row.lesson for row in plan.itertuples() if row.task.startswith("Lesson")]
    assert lessons_only[-1] == "09-system-design", "lesson 9 comes last; mock interviews may interleave"
    assert [int(w) for w in plan.groupby("week", sort=True)["week"].first()] == [1, 2, 3]


def test_offers_of_the_worked_example_use_known_schedules():
    offers = tables.load(LESSON, "offers")
    assert set(offers["vesting"]) <= set(tables.load(LESSON, "vesting")["schedule"])


def _lecture_text() -> str:
    nb = nbformat.read(ROOT / "notebooks" / f"{LESSON}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells)


def test_the_lectures_checkpoint_claim_matches_its_own_example():
    text = _lecture_text()
    assert "lost week" not in text, "45,000 steps × 2 s is about a day, not a week"
    assert "few tens of GB" not in text.replace("\n", " "), "current GPUs carry 80–192 GB (B300: 288 GB)"
    hours = 45_000 * 2 / 3600
    assert 24 <= hours <= 26 and re.search(r"about a day", text)
    # the lecture's checkpoint interval leaves minutes, not hours, to redo
    assert estimates.steps_lost(45_000, 700) * 2 / 60 < 10


def test_practice_items_have_their_answer_among_four_options():
    practice = tables.load(LESSON, "practice")
    assert len(practice) >= 6 and set(practice["answer"]) <= set("ABCD")
    rounds = tables.load(LESSON, "interview_rounds")
    assert career.loop_minutes(rounds) == (210, 285)


@pytest.mark.skipif(not SEED.is_dir(), reason="the course plan's seed folder is not beside this checkout")
def test_salaries_and_rounds_parsed_from_the_seed_text_itself():
    text = "\n".join(p.read_text(encoding="utf-8") for p in SEED.glob("*.txt"))
    found = {}
    for level, numbers in re.findall(r"^(Junior|Mid|Senior|Staff\+) \([^)]*\)((?:\$[\d.]+[KM]–\$[\d.]+[KM]\+?){2})", text, re.M):
        values = [float(v[:-1]) * (1e3 if v.endswith("K") else 1e6) for v in re.findall(r"[\d.]+[KM]", numbers)]
        found[level] = tuple(int(v) for v in values)
    assert found == SEED_SALARIES
    durations = dict(re.findall(r"^(Phone Screen|Coding Round|System Design|Domain Deep Dive|Behavioral)(\d+–\d+) min", text, re.M))
    assert [tuple(int(x) for x in d.split("–")) for d in durations.values()] == list(SEED_ROUNDS.values())
    assert "Lambda Labs" in text  # the seed predates the rename; the tables do not
