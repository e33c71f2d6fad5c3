"""Widgets for lesson 1: salary explorer, role-variant matcher, three-week preparation tracker."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from .. import tables, userdata
from ..charts.style import usd


class _Displayable:
    widget: widgets.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class SalaryExplorer(_Displayable):
    """Pick a level; see its base and total compensation ranges, midpoints and the equity-and-bonus share."""

    def __init__(self, salaries: pd.DataFrame | None = None):
        self.salaries = salaries if salaries is not None else tables.load("01-roles", "salaries")
        self.levels = list(self.salaries["level"])
        self.picker = widgets.ToggleButtons(options=self.levels, value=self.levels[0], description="Level")
        self.output = widgets.HTML()
        self.picker.observe(lambda change: self._render(), names="value")
        self._render()
        self.widget = widgets.VBox([self.picker, self.output])

    def select(self, level: str) -> None:
        if level not in self.levels:
            raise ValueError(f"unknown level {level!r}; choose one of {', '.join(self.levels)}")
        self.picker.value = level

    def summary(self, level: str | None = None) -> dict:
        """Numbers for one level: ranges, midpoints (USD) and the share of total pay that is not base."""
        row = self.salaries.set_index("level").loc[level or self.picker.value]
        base_mid = (row.base_low_usd + row.base_high_usd) / 2
        total_mid = (row.total_low_usd + row.total_high_usd) / 2
        return {
            "level": level or self.picker.value,
            "base_mid_usd": float(base_mid),
            "total_mid_usd": float(total_mid),
            "non_base_share": float(1 - base_mid / total_mid),
            "open_ended": bool(row.total_open_ended),
            "notes": str(row.notes),
        }

    def _render(self) -> None:
        row = self.salaries.set_index("level").loc[self.picker.value]
        facts = self.summary()
        plus = "+" if facts["open_ended"] else ""
        years = f"{int(row.years_min)}–{int(row.years_max)} years" if not pd.isna(row.years_max) else f"{int(row.years_min)}+ years"
        self.output.value = (
            f"<b>{facts['level']}</b> ({years})<br>"
            f"Base: {usd(row.base_low_usd)}–{usd(row.base_high_usd)} (midpoint {usd(facts['base_mid_usd'])})<br>"
            f"Total compensation: {usd(row.total_low_usd)}–{usd(row.total_high_usd)}{plus} "
            f"(midpoint {usd(facts['total_mid_usd'])})<br>"
            f"At the midpoints, <b>{facts['non_base_share']:.0%}</b> of total pay is equity and bonus.<br>"
            f"<i>{facts['notes']}</i><br><small>{int(row.year)} ranges, USD, from the course's source text.</small>"
        )


class RoleMatcher(_Displayable):
    """Tick what you enjoy; the four role variants are ranked by how many of your picks they share."""

    def __init__(self, variants: pd.DataFrame | None = None):
        self.variants = variants if variants is not None else tables.load("01-roles", "role_variants")
        self.keywords = {
            row.variant: [k.strip() for k in str(row.keywords).split(";")]
            for row in self.variants.itertuples(index=False)
        }
        everything = sorted({k for ks in self.keywords.values() for k in ks})
        self.boxes = {k: widgets.Checkbox(description=k, indent=False, layout=widgets.Layout(width="230px")) for k in everything}
        for box in self.boxes.values():
            box.observe(lambda change: self._render(), names="value")
        self.output = widgets.HTML()
        self._render()
        grid = widgets.GridBox(list(self.boxes.values()), layout=widgets.Layout(grid_template_columns="repeat(3, 240px)"))
        self.widget = widgets.VBox([widgets.HTML("<b>What do you enjoy?</b>"), grid, self.output])

    def match(self, interests: list[str]) -> pd.DataFrame:
        """Variants ranked by shared interests: ``variant, matches, focus`` (best first)."""
        unknown = sorted(set(interests) - set(self.boxes))
        if unknown:
            raise ValueError(f"unknown interest(s): {', '.join(unknown)}")
        rows = [
            {"variant": v, "matches": len(set(interests) & set(ks)),
             "focus": self.variants.set_index("variant").loc[v, "focus"]}
            for v, ks in self.keywords.items()
        ]
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
        lines = "".join(f"<li>{r.variant}: {r.matches} match{'es' if r.matches != 1 else ''}</li>" for r in ranked.itertuples())
        self.output.value = f"<b>Best fit: {best.variant}</b><br><i>{best.focus}</i><ol>{lines}</ol>"


class PrepTracker(_Displayable):
    """The three-week plan as checkboxes; ticks are saved to a local file and survive restarts."""

    def __init__(self, plan: pd.DataFrame | None = None, path: Path | None = None):
        self.plan = plan if plan is not None else tables.load("01-roles", "prep_plan")
        self.path = Path(path) if path is not None else userdata.home() / "prep-plan.json"
        saved = userdata.read_json(self.path, default=dict, valid=lambda data: isinstance(data, dict))
        self.done: dict[str, bool] = {str(k): bool(v) for k, v in saved.items()}
        self.boxes = {}
        sections = []
        for week, group in self.plan.groupby("week", sort=True):
            boxes = []
            for row in group.itertuples(index=False):
                box = widgets.Checkbox(value=self.done.get(row.task_id, False), description=row.task, indent=False,
                                       layout=widgets.Layout(width="auto"))
                box.observe(lambda change, tid=row.task_id: self.mark(tid, change["new"]), names="value")
                self.boxes[row.task_id] = box
                boxes.append(box)
            sections.append(widgets.VBox([widgets.HTML(f"<b>Week {week}: {group['theme'].iloc[0]}</b>"), *boxes]))
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
        """Per week: tasks done, tasks in all and the fraction done."""
        frame = self.plan.assign(done=[self.done.get(t, False) for t in self.plan["task_id"]])
        out = frame.groupby("week").agg(done=("done", "sum"), tasks=("done", "size")).reset_index()
        out["fraction"] = out["done"] / out["tasks"]
        return out

    def _render(self) -> None:
        total = len(self.plan)
        done = sum(self.done.get(t, False) for t in self.plan["task_id"])
        self.bar.value = done / total
        self.label.value = f"{done} of {total} tasks done"
