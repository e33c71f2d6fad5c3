"""Widgets for lesson 1: salary explorer, role-variant matcher, offer reader and the three-week
preparation tracker."""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from .. import tables, userdata
from ..charts.style import usd
from ..estimates import career

LESSON = "01-roles"


class _Displayable:
    widget: widgets.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _years(row) -> str:
    return f"{int(row.years_min)}–{int(row.years_max)} years" if not pd.isna(row.years_max) else f"{int(row.years_min)}+ years"


class SalaryExplorer(_Displayable):
    """Pick a level: the seed's 2025 ranges and midpoints, the share of pay that is not base, the
    comparable levels at Google, Meta and NVIDIA, and NVIDIA's self-reported medians for them."""

    def __init__(self, salaries: pd.DataFrame | None = None, level_map: pd.DataFrame | None = None,
                 public: pd.DataFrame | None = None, start: str = "Senior"):
        self.salaries = salaries if salaries is not None else tables.load(LESSON, "salaries")
        self.level_map = level_map if level_map is not None else tables.load(LESSON, "level_map")
        self.public = public if public is not None else tables.load(LESSON, "public_pay")
        self.levels = [str(level) for level in self.salaries["level"]]
        self.picker = widgets.ToggleButtons(options=self.levels, value=start if start in self.levels else self.levels[0],
                                            description="Level")
        self.output = widgets.HTML()
        self.picker.observe(lambda change: self._render(), names="value")
        self._render()
        self.widget = widgets.VBox([self.picker, self.output])

    def select(self, level: str) -> None:
        if level not in self.levels:
            raise ValueError(f"unknown level {level!r}; choose one of {', '.join(self.levels)}")
        self.picker.value = level

    def summary(self, level: str | None = None) -> dict:
        """Numbers for one level: midpoints (USD), the non-base share (0–1), comparable levels and
        NVIDIA's self-reported median total compensation for those levels (USD)."""
        name = level or self.picker.value
        mids = career.salary_midpoints(self.salaries).set_index("level").loc[name]
        row = self.salaries.set_index("level").loc[name]
        mapped = self.level_map.set_index("course_level").loc[name] if name in set(self.level_map["course_level"]) else None
        nvidia = {}
        if mapped is not None:
            medians = self.public[(self.public["company"] == "NVIDIA") & self.public["kind"].str.startswith("median")]
            wanted = _ic_levels(str(mapped["nvidia"]), medians["level"])
            nvidia = {str(r.level): float(r.high_usd) for r in medians.itertuples() if r.level in wanted}
        return {
            "level": name,
            "base_mid_usd": float(mids.base_mid_usd),
            "total_mid_usd": float(mids.total_mid_usd),
            "non_base_share": float(mids.non_base_share),
            "open_ended": bool(row.total_open_ended),
            "notes": str(row.notes),
            "google": None if mapped is None else str(mapped["google"]),
            "meta": None if mapped is None else str(mapped["meta"]),
            "nvidia": None if mapped is None else str(mapped["nvidia"]),
            "nvidia_medians_usd": nvidia,
        }

    def _render(self) -> None:
        row = self.salaries.set_index("level").loc[self.picker.value]
        facts = self.summary()
        plus = "+" if facts["open_ended"] else ""
        lines = [
            f"<b>{html.escape(facts['level'])}</b> ({_years(row)})",
            f"Base: {usd(row.base_low_usd)}–{usd(row.base_high_usd)} (midpoint {usd(facts['base_mid_usd'])})",
            f"Total compensation: {usd(row.total_low_usd)}–{usd(row.total_high_usd)}{plus} "
            f"(midpoint {usd(facts['total_mid_usd'])})",
            f"At the midpoints, <b>{facts['non_base_share']:.0%}</b> of total pay is equity and bonus.",
        ]
        if facts["google"] is not None:
            lines.append(f"Comparable levels (rough): Google {facts['google']}, Meta {facts['meta']}, "
                         f"NVIDIA {facts['nvidia']}.")
        if facts["nvidia_medians_usd"]:
            medians = ", ".join(f"{k} {usd(v)}" for k, v in facts["nvidia_medians_usd"].items())
            lines.append(f"NVIDIA software engineers' self-reported median total (Levels.fyi, March 2025): {medians}.")
        lines.append(f"<i>{html.escape(facts['notes'])}</i>")
        lines.append(f"<small>Ranges: {int(row.year)}, USD a year, from the course's source text.</small>")
        self.output.value = "<br>".join(lines)


def _ic_levels(text: str, known) -> list[str]:
    """The NVIDIA IC levels a mapping cell names: 'IC1–IC2' → IC1, IC2; 'IC5 and up' → IC5, IC6, ..."""
    names = sorted({str(k) for k in known}, key=lambda s: int(s[2:]) if s[2:].isdigit() else 99)
    numbers = [int(part[2:]) for part in text.replace("–", " ").split() if part.startswith("IC") and part[2:].isdigit()]
    if not numbers:
        return []
    low, high = min(numbers), max(numbers)
    if "up" in text:
        high = 99
    return [n for n in names if n[2:].isdigit() and low <= int(n[2:]) <= high]


class RoleMatcher(_Displayable):
    """Tick what you enjoy; the six role variants are ranked by how many of your picks they share."""

    def __init__(self, variants: pd.DataFrame | None = None):
        self.variants = variants if variants is not None else tables.load(LESSON, "role_variants")
        self.keywords = {
            str(row.variant): [k.strip() for k in str(row.keywords).split(";")]
            for row in self.variants.itertuples(index=False)
        }
        everything = sorted({k for ks in self.keywords.values() for k in ks})
        self.boxes = {k: widgets.Checkbox(description=k, indent=False, layout=widgets.Layout(width="230px"))
                      for k in everything}
        for box in self.boxes.values():
            box.observe(lambda change: self._render(), names="value")
        self.output = widgets.HTML()
        self._render()
        grid = widgets.GridBox(list(self.boxes.values()), layout=widgets.Layout(grid_template_columns="repeat(4, 235px)"))
        self.widget = widgets.VBox([widgets.HTML("<b>What do you enjoy?</b>"), grid, self.output])

    def match(self, interests: list[str]) -> pd.DataFrame:
        """Variants ranked by shared interests: ``variant, matches, day_to_day`` (best first)."""
        unknown = sorted(set(interests) - set(self.boxes))
        if unknown:
            raise ValueError(f"unknown interest(s): {', '.join(unknown)}")
        table = self.variants.set_index("variant")
        rows = [{"variant": v, "matches": len(set(interests) & set(ks)), "day_to_day": str(table.loc[v, "day_to_day"])}
                for v, ks in self.keywords.items()]
        return pd.DataFrame(rows).sort_values(["matches", "variant"], ascending=[False, True]).reset_index(drop=True)

    def pick(self, interests: list[str]) -> None:
        for name, box in self.boxes.items():
            box.value = name in interests

    def _render(self) -> None:
        chosen = [k for k, box in self.boxes.items() if box.value]
        if not chosen:
            self.output.value = "<i>Tick a few interests to see which variant fits you best.</i>"
            return
        ranked = self.match(chosen)
        best = ranked.iloc[0]
        lines = "".join(f"<li>{html.escape(r.variant)}: {r.matches} match{'es' if r.matches != 1 else ''}</li>"
                        for r in ranked.itertuples())
        self.output.value = (f"<b>Best fit: {html.escape(best.variant)}</b><br><i>{html.escape(best.day_to_day)}</i>"
                             f"<ol>{lines}</ol>")


class OfferReader(_Displayable):
    """An offer, year by year: base, target bonus, equity vesting (at grant value), sign-on; and
    what you keep of the grant if you leave after some months. Starts on round values."""

    def __init__(self, vesting: pd.DataFrame | None = None):
        self.vesting = vesting if vesting is not None else tables.load(LESSON, "vesting")
        self.schedules = {str(r.schedule): ([float(r.year1_pct), float(r.year2_pct), float(r.year3_pct), float(r.year4_pct)],
                                            0 if pd.isna(r.cliff_months) else int(r.cliff_months))
                          for r in self.vesting.itertuples()}
        style = {"description_width": "150px"}
        layout = widgets.Layout(width="480px")
        self.base = widgets.IntSlider(value=200_000, min=100_000, max=500_000, step=10_000, description="Base (USD)",
                                      style=style, layout=layout)
        self.bonus = widgets.IntSlider(value=15, min=0, max=30, step=5, description="Target bonus (%)", style=style, layout=layout)
        self.grant = widgets.IntSlider(value=400_000, min=0, max=2_000_000, step=50_000, description="Equity grant (USD)",
                                       style=style, layout=layout)
        self.schedule = widgets.Dropdown(options=list(self.schedules), value=next(iter(self.schedules)),
                                         description="Vesting", style=style, layout=layout)
        self.sign_on = widgets.IntSlider(value=50_000, min=0, max=200_000, step=10_000, description="Sign-on, year 1 (USD)",
                                         style=style, layout=layout)
        self.months = widgets.IntSlider(value=18, min=0, max=48, step=1, description="Leave after (months)",
                                        style=style, layout=layout)
        self.output = widgets.HTML()
        for control in (self.base, self.bonus, self.grant, self.schedule, self.sign_on, self.months):
            control.observe(lambda change: self._render(), names="value")
        self._render()
        self.widget = widgets.VBox([self.base, self.bonus, self.grant, self.schedule, self.sign_on, self.months, self.output])

    def set(self, **values) -> None:
        """Set controls by name (``base``, ``bonus``, ``grant``, ``schedule``, ``sign_on``, ``months``)."""
        for name, value in values.items():
            control = getattr(self, name, None)
            if not isinstance(control, widgets.ValueWidget):
                raise ValueError(f"unknown control {name!r}")
            control.value = value

    def table(self) -> pd.DataFrame:
        pcts, _ = self.schedules[self.schedule.value]
        return career.offer_by_year(self.base.value, self.bonus.value, self.grant.value, pcts, [self.sign_on.value])

    def summary(self) -> dict:
        pcts, cliff = self.schedules[self.schedule.value]
        frame = self.table()
        return {
            "year1_usd": float(frame["total_usd"].iloc[0]),
            "four_year_usd": float(frame["total_usd"].sum()),
            "headline_usd": career.headline_total(self.base.value, self.bonus.value, self.grant.value, len(pcts)),
            "kept_if_leaving_usd": career.vested_value(self.grant.value, pcts, self.months.value, cliff),
            "cliff_months": cliff,
        }

    def _render(self) -> None:
        frame, facts = self.table(), self.summary()
        head = "".join(f"<th style='padding:2px 10px'>{h}</th>" for h in ["year", "base", "bonus", "equity", "sign-on", "total"])
        body = "".join(
            "<tr>" + "".join(f"<td style='padding:2px 10px;text-align:right'>{v}</td>" for v in
                             [int(r.year), usd(r.base_usd), usd(r.bonus_usd), usd(r.equity_usd), usd(r.sign_on_usd),
                              f"<b>{usd(r.total_usd)}</b>"]) + "</tr>"
            for r in frame.itertuples())
        self.output.value = (
            f"<table><tr>{head}</tr>{body}</table>"
            f"Recruiter's headline (base + bonus + grant ÷ 4): <b>{usd(facts['headline_usd'])}</b>; "
            f"year 1 actually pays <b>{usd(facts['year1_usd'])}</b>.<br>"
            f"Leave after {self.months.value} months (cliff {facts['cliff_months']} months): you keep "
            f"<b>{usd(facts['kept_if_leaving_usd'])}</b> of the grant at grant value.<br>"
            "<small>No raises, refreshers or stock moves assumed; a sign-on is often repayable if you leave within a year.</small>"
        )


class PrepTracker(_Displayable):
    """The three-week plan as checkboxes; ticks are saved to a local file and survive restarts."""

    def __init__(self, plan: pd.DataFrame | None = None, path: Path | None = None):
        self.plan = plan if plan is not None else tables.load(LESSON, "prep_plan")
        self.path = Path(path) if path is not None else userdata.home() / "prep-plan.json"
        saved = userdata.read_json(self.path, default=dict, valid=lambda data: isinstance(data, dict))
        self.done: dict[str, bool] = {str(k): bool(v) for k, v in saved.items()}
        self.boxes = {}
        sections = []
        for week, group in self.plan.groupby("week", sort=True):
            boxes = []
            for row in group.itertuples(index=False):
                box = widgets.Checkbox(value=self.done.get(row.task_id, False), description=f"{row.task} ({row.hours:g} h)",
                                       indent=False, layout=widgets.Layout(width="auto"))
                box.observe(lambda change, tid=row.task_id: self.mark(tid, change["new"]), names="value")
                self.boxes[row.task_id] = box
                boxes.append(box)
            hours = group["hours"].sum()
            sections.append(widgets.VBox([widgets.HTML(f"<b>Week {week}: {group['theme'].iloc[0]}</b> ({hours:g} h)"), *boxes]))
        self.bar = widgets.FloatProgress(min=0, max=1, description="Done")
        self.label = widgets.HTML()
        self._render()
        self.widget = widgets.VBox([*sections, widgets.HBox([self.bar, self.label])])

    def mark(self, task_id: str, done: bool = True) -> None:
        """Tick (or untick) a task and save at once."""
        if task_id not in set(self.plan["task_id"]):
            raise ValueError(f"unknown task {task_id!r}")
        self.done[task_id] = bool(done)
        if self.boxes[task_id].value != bool(done):
            self.boxes[task_id].value = bool(done)
        userdata.write_json(self.path, self.done)
        self._render()

    def progress(self) -> pd.DataFrame:
        """Per week: tasks done, tasks in all, hours done, hours in all and the share of hours done."""
        frame = self.plan.assign(done=[self.done.get(t, False) for t in self.plan["task_id"]])
        frame["hours_done"] = frame["hours"].where(frame["done"], 0)
        out = frame.groupby("week").agg(done=("done", "sum"), tasks=("done", "size"),
                                        hours_done=("hours_done", "sum"), hours=("hours", "sum")).reset_index()
        out["fraction"] = out["hours_done"] / out["hours"]
        return out

    def _render(self) -> None:
        progress = self.progress()
        done, hours = progress["hours_done"].sum(), progress["hours"].sum()
        self.bar.value = done / hours
        self.label.value = (f"{int(progress['done'].sum())} of {int(progress['tasks'].sum())} tasks, "
                            f"{done:g} of {hours:g} hours done")
