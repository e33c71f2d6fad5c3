"""Lesson 9 widgets: the design calculator's binding constraint, and the drill's timer-gated model answers."""

import math
import re

import pytest

from infraprep import estimates, tables
from infraprep.widgets import design as w

LESSON = "09-system-design"


@pytest.fixture()
def calc():
    return w.DesignCalculator(draw=False)


def test_calculator_starts_on_design_one(calc):
    start = w.design_inputs("training")
    assert calc.value("gpus") == start["gpus"] == 16_384
    assert calc.value("tokens_t") == pytest.approx(15.6)
    assert calc.value("params_b") == 405 and calc.value("system") == "DGX H100"
    assert calc.value("usd_per_gpu_hour") == pytest.approx(55.04 / 8, abs=0.01)  # lesson 5's p5 price, 2026-07-20


def test_calculator_estimate_is_the_package_formula(calc):
    got = calc.estimate()
    direct = estimates.training_design(
        params=405e9, tokens=15.6e12, gpus=16_384, gpu_memory_gb=80, peak_flop_s_per_gpu=989e12, mfu=0.40,
        tensor_parallel=8, pipeline_parallel=16, zero_stage=1, nvlink_domain=8, link_bytes_s_per_gpu=50e9,
        system_power_w=10.2e3, gpus_per_system=8, pue_ratio=1.1, site_power_w=30e6,
        usd_per_gpu_hour=calc.value("usd_per_gpu_hour"), budget_usd=400e6, deadline_days=90, goodput_fraction=0.9,
        layers=126, hidden=16_384, heads=128, seq_len=8192, micro_batch=1, recompute="full")
    assert got == direct
    # at goodput 0.9: 75.2 of 90 days binds before 23.0 of 30 MW and 203 of 400 M USD, and everything fits
    days = 6 * 405e9 * 15.6e12 / (16_384 * 989e12 * 0.40) / 86_400 / 0.9
    assert got["ratio_time"] == pytest.approx(days / 90) == pytest.approx(0.836, abs=0.001)
    assert got["cost_usd"] == pytest.approx(days * 86_400 * 16_384 / 3600 * 6.88)
    assert calc.binding() == "time" and got["fits"]
    assert "<b>time</b>" in calc.summary_html() and "fits every constraint" in calc.summary_html()


@pytest.mark.parametrize("settings, binds", [
    ({"tensor_parallel": 1, "pipeline_parallel": 4}, "memory"),    # 405B split only 4 ways
    ({"tensor_parallel": 16, "pipeline_parallel": 8}, "network"),  # tensor parallel across two NVLink domains
    ({"site_mw": 18}, "power"),          # 2,048 DGX H100 × 10.2 kW × PUE 1.1 = 23.0 MW
    ({"budget_musd": 150}, "budget"),    # the run costs 203 M USD at 6.88 USD a GPU-hour
    ({"usd_per_gpu_hour": 98.32 / 8, "budget_musd": 300}, "budget"),  # Azure's list (lesson 5): 363 M USD
    ({"deadline_days": 40}, "time"),     # 75 days of work
])
def test_calculator_binding_constraint(calc, settings, binds):
    calc.set(**settings)
    assert calc.binding() == binds
    ratios = calc.ratios()
    assert ratios[binds] == max(ratios.values()) and ratios[binds] > 1
    assert "does not fit" in calc.summary_html()


def test_calculator_switches_systems_and_models(calc):
    calc.set(system="DGX GB200 NVL72", gpus=6912, tensor_parallel=72, pipeline_parallel=4)
    got = calc.estimate()
    assert got["ratio_network"] < 1  # TP 72 stays inside the NVL72 NVLink domain
    assert got["it_power_w"] == pytest.approx(96 * 150e3)
    calc.set(model="Llama 3.1 70B")
    assert calc.value("params_b") == 70


def test_calculator_reports_bad_layouts_and_unknown_settings(calc):
    calc.set(gpus=1000)  # 8 x 16 does not divide 1,000
    assert "Not a valid design" in calc.summary_html()
    with pytest.raises(ValueError, match="unknown"):
        calc.set(gpu_count=8)


def test_calculator_shows_the_ratios_as_bars_and_can_draw():
    calc = w.DesignCalculator()
    html = calc.bars_html()
    assert all(name in html for name in estimates.CONSTRAINTS) and "#b5446e" in html  # the binding one highlighted
    calc.set(gpus=1000)
    assert calc.bars_html() == ""
    drawn = w.DesignCalculator(draw=True)
    assert len(drawn._image.value) > 1000
    assert len(drawn.figure().axes) == 1


# ------------------------------------------------------------------------- drill

class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_model_answer_only_after_the_timer():
    clock = Clock()
    drill = w.DesignDrill(clock=clock)
    assert not drill.can_reveal
    with pytest.raises(RuntimeError):
        drill.reveal()
    drill.start()
    clock.now = 44 * 60
    assert drill.tick() == "01:00" and not drill.can_reveal and drill._show.disabled
    with pytest.raises(RuntimeError):
        drill.reveal()
    clock.now = 45 * 60
    drill.tick()
    assert drill.can_reveal and not drill._show.disabled
    assert drill.reveal().startswith("**Model answer")


def test_finishing_early_reveals_and_choosing_resets():
    clock = Clock()
    drill = w.DesignDrill(clock=clock)
    with pytest.raises(RuntimeError):
        drill.finish()
    drill.choose("checkpoint-store")
    drill.start()
    clock.now = 600
    drill.finish()
    assert drill.can_reveal and "checkpoint" in drill.reveal().lower()
    drill.choose("lora-serving")
    assert not drill.can_reveal and drill.scores == {}
    with pytest.raises(ValueError):
        drill.choose("nope")


def test_rubric_scores_are_bounded():
    drill = w.DesignDrill(clock=Clock())
    rubric = tables.load(LESSON, "rubric")
    assert list(rubric["dimension"]) == ["scoping", "estimates", "architecture", "deep dive", "trade-offs", "communication"]
    drill.score("estimates", 4)
    drill.score("scoping", 2)
    assert drill.total == (6, int(rubric["points"].sum()))
    with pytest.raises(ValueError):
        drill.score("estimates", 5)
    with pytest.raises(ValueError):
        drill.score("charisma", 1)


def test_every_drill_has_a_model_answer():
    drills = tables.load(LESSON, "drills")
    assert drills["prompt_id"].is_unique and (drills["minutes"] == 45).all()
    refs = set(tables.references(LESSON)["key"])
    for row in drills.itertuples(index=False):
        text = tables.artefact(LESSON, row.answer_file)
        assert text.startswith("**Model answer") and len(text.split()) > 300
        for part in ("Scope", "Estimates", "Architecture", "Deep dive", "Trade-offs"):
            assert f"**{part}" in text, (row.prompt_id, part)
        assert row.source in refs


# ------------------------------------------------------------------------- the numbers the model answers quote

def _answer(prompt_id):
    return tables.artefact(LESSON, f"drill-{prompt_id}.md")


def _quoted(text, pattern):
    match = re.search(pattern, text)
    assert match, pattern
    return float(match.group(1).replace(",", ""))


RATE = 419 / (16_384 * 54)


def test_moe_answer_numbers():
    text = _answer("moe-100k")
    assert _quoted(text, r"\*\*([\d.]+) days\*\*") == pytest.approx(
        estimates.training_time_s(180e9, 40e12, 100_000, 2500e12, 0.30) / 86_400, abs=0.05)
    assert _quoted(text, r"\*\*([\d,]+) NVL72 racks\*\*") == estimates.systems_needed(100_000, 72)
    it = estimates.it_power_w(100_000, 150e3, 72)
    assert _quoted(text, r"\*\*(\d+) MW\*\*") == pytest.approx(it / 1e6, abs=0.5)
    assert _quoted(text, r"draws \*\*(\d+) MW\*\*") == pytest.approx(estimates.facility_power_w(it, 1.15) / 1e6, abs=0.5)
    assert _quoted(text, r"about ([\d,]+) switches") == estimates.fabric_for_endpoints(100_000, 144)["switches"]
    assert _quoted(text, r"every (\d+) minutes") == pytest.approx(estimates.job_mtbf_hours(100_000, RATE) * 60, abs=0.5)
    assert _quoted(text, r"(\d+) times a day") == pytest.approx(estimates.expected_interruptions_per_day(100_000, RATE), abs=0.5)
    assert _quoted(text, r"\*\*(\d+) TB\*\*") == pytest.approx(estimates.checkpoint_bytes(1.8e12) / 1e12, abs=0.5)
    m = estimates.job_mtbf_hours(100_000, RATE) * 3600
    tau = estimates.young_interval(5, m)
    assert _quoted(text, r"about ([\d.]+) minutes") == pytest.approx(tau / 60, abs=0.05)
    assert _quoted(text, r"only \*\*(\d+) %\*\*") == pytest.approx(100 * estimates.goodput(tau, 5, m, 600)["goodput"], abs=0.5)
    assert _quoted(text, r"lifts it to \*\*(\d+) %\*\*") == pytest.approx(100 * estimates.goodput(tau, 5, m, 120)["goodput"], abs=0.5)


def _serving(rps, prompt, out, tpot, headroom=1.25):
    return estimates.serving_design(rps, prompt, out, 70e9, 80, 8, 128, 80, 3.35e12, 1979e12, 2, tpot,
                                    weight_bytes_per_param=1, kv_bytes_per_value=2, prefill_mfu=0.5, decode_mbu=0.8,
                                    headroom=headroom, usable_memory_fraction=0.9, usd_per_gpu_hour=w.usd_per_gpu_hour())


def test_lora_answer_numbers():
    text = _answer("lora-serving")
    d = _serving(80, 3000, 400, 0.05)
    assert _quoted(text, r"leaves \*\*(\d+) GB\*\*") == pytest.approx(d["kv_free_gb"])
    assert _quoted(text, r"\*\*([\d,]+) bytes a token\*\*") == d["kv_bytes_per_token"]
    assert _quoted(text, r"holds \*\*(\d+) sequences\*\*") == d["batch"] and d["batch_limited_by"] == "kv cache"
    assert _quoted(text, r"about \*\*(\d+) ms\*\*") == pytest.approx(1000 * d["tpot_s"], abs=0.5)
    assert _quoted(text, r"about \*\*([\d,]+) output tokens/s\*\*") == pytest.approx(d["tokens_per_s_per_replica"], rel=0.01)
    assert _quoted(text, r"\*\*(\d+) decode replicas") == d["decode_replicas"]
    assert _quoted(text, r"is \*\*(\d+) GPUs\*\* with headroom") == d["prefill_gpus"]
    assert _quoted(text, r"about \*\*([\d.]+) s\*\*") == pytest.approx(d["ttft_prefill_s"], abs=0.005)
    assert _quoted(text, r"\*\*(\d+) requests in flight\*\*") == pytest.approx(d["concurrency"], rel=0.01)
    assert _quoted(text, r"the ([\d,]+) sequences") == d["concurrency_capacity"]
    assert _quoted(text, r"Total \*\*(\d+) GPUs") == d["gpus"]
    assert _quoted(text, r"price \(([\d.]+) USD a GPU-hour") == pytest.approx(55.04 / 8, abs=0.005)  # lesson 5, 2026-07-20
    assert _quoted(text, r"about ([\d,]+) USD an hour") == pytest.approx(d["usd_per_hour"], abs=0.5) == pytest.approx(76 * 6.88)
    assert _quoted(text, r"\*\*([\d.]+) USD a million output tokens\*\*") == pytest.approx(d["usd_per_million_output_tokens"], abs=0.005)
    assert _quoted(text, r"([\d.]+) USD a million tokens counted") == pytest.approx(d["usd_per_million_tokens"], abs=0.005)


def test_batch_inference_answer_numbers():
    text = _answer("batch-inference")
    prefill = estimates.prefill_flops(70e9, 1000) * 2e9
    assert _quoted(text, r"\*\*([\d.]+)e23 FLOPs\*\*") * 1e23 == pytest.approx(prefill)
    prefill_h = prefill / (1979e12 * 0.5) / 3600
    assert _quoted(text, r"\*\*([\d,]+) GPU-hours\*\*") == pytest.approx(prefill_h, rel=0.001)
    d = _serving(1, 1000, 100, 0.2, headroom=1.0)
    assert _quoted(text, r"batch of \*\*(\d+)\*\*") == d["batch"]
    assert _quoted(text, r"about \*\*([\d,]+) tokens/s\*\*") == pytest.approx(d["tokens_per_s_per_replica"], rel=0.005)
    decode_h = 2e11 / d["tokens_per_s_per_replica"] * 2 / 3600
    assert _quoted(text, r"take \*\*([\d,]+) GPU-hours\*\*") == pytest.approx(decode_h, rel=0.005)
    total = prefill_h + decode_h
    assert _quoted(text, r"about \*\*([\d,]+) GPU-hours\*\*") == pytest.approx(total, rel=0.001)
    assert _quoted(text, r"\*\*(\d+) GPUs\*\* busy") == math.ceil(total / 168)
    assert _quoted(text, r"price of ([\d.]+) USD a GPU-hour") == pytest.approx(55.04 / 8, abs=0.005)  # lesson 5, 2026-07-20
    assert _quoted(text, r"GPU-hour, \*\*([\d.]+) million USD\*\*") == pytest.approx(total * w.usd_per_gpu_hour() / 1e6, abs=0.005)
    assert _quoted(text, r"about \*\*([\d.]+) million USD\*\*") == pytest.approx(total * w.usd_per_gpu_hour() * 0.4 / 1e6, abs=0.005)
    assert _quoted(text, r"\((\d+) % of the GPU-hours\)") == pytest.approx(100 * prefill_h / total, abs=0.5)


def test_checkpoint_answer_numbers():
    text = _answer("checkpoint-store")
    size = estimates.checkpoint_bytes(1e12)
    assert _quoted(text, r"\*\*(\d+) TB\*\* a checkpoint") == size / 1e12
    assert _quoted(text, r"about \*\*(\d+) times a day\*\*") == pytest.approx(estimates.expected_interruptions_per_day(32_768, RATE), abs=0.6)
    assert _quoted(text, r"every \*\*([\d.]+) hours\*\*") == pytest.approx(estimates.job_mtbf_hours(32_768, RATE), abs=0.05)
    assert _quoted(text, r"the write takes \*\*(\d+) s\*\*") == estimates.checkpoint_write_time_s(size, 1e12)
    assert _quoted(text, r"at 300 GB/s, (\d+) s") == pytest.approx(estimates.checkpoint_write_time_s(size, 300e9), abs=0.5)
    shard = size / 32_768
    assert _quoted(text, r"about \*\*([\d.]+) GB\*\*") == pytest.approx(shard / 1e9, abs=0.005)
    assert _quoted(text, r"about \*\*(\d+) ms\*\*") == pytest.approx(1000 * estimates.async_checkpoint_stall_s(shard, 63e9), abs=0.5)
    m = estimates.job_mtbf_hours(32_768, RATE) * 3600
    assert estimates.young_interval(1.0, m) < 120  # "under 2 minutes"
    assert _quoted(text, r"about \*\*(\d+) %\*\*") == pytest.approx(100 * estimates.goodput(600, 1.0, m, 600)["goodput"], abs=0.5)
    assert _quoted(text, r"reads \*\*(\d+) TB\*\*;") == estimates.restore_read_bytes(1e12, 32_768 // (8 * 16)) / 1e12
    assert _quoted(text, r"broadcasting over the fabric reads \*\*(\d+) TB\*\*") == estimates.restore_read_bytes(1e12, 256, True) / 1e12


def test_tables_are_written_as_people_write_numbers():
    assert [w.fmt(x) for x in (16.0, 1280, 3.093, 0.2511, 23.0, 0.01, 15.6e12)] == \
        ["16", "1,280", "3.09", "0.251", "23", "0.01", "15,600,000,000,000"]
    shown = w.inputs_table("training").set_index("name")
    assert shown.loc["gpus", "value"] == "16,384" and shown.loc["model", "value"] == "see note"
    assert shown.loc["mfu", "value"] == "0.4"
    layouts = w.tidy(tables.load(LESSON, "llama3_layouts"))
    assert layouts["gpus"].tolist() == ["8,192", "16,384", "16,384"]
    with pytest.raises(ValueError):
        w.inputs_table("nope")
