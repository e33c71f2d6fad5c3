"""Item analysis of a cohort: which questions to reteach, and which do not tell strong from weak.

For every graded question of a lesson (a test cell, or a written answer once graded by hand):

- **difficulty** *p*: the share of the question's points the cohort earned (1.0: everyone got it);
- **discrimination** *r*: the correlation between a student's score on the question and their score
  on the lesson's *other* questions (the corrected item-total correlation; for an all-or-nothing
  question it is the point-biserial correlation). The other questions' score is used so that a
  question does not vouch for itself;
- the **upper-lower index** *D* (Kelley's 27 %): the question's difficulty among the 27 % of
  students with the highest score on the other questions, minus that among the lowest 27 %.

A question is marked **too easy** when *p* ≥ 0.90, **too hard** when *p* ≤ 0.20, and **does not
discriminate** when *r* < 0.20 (or cannot be computed: everyone scored the same): the thresholds
of classical test theory's usual rule of thumb (Ebel and Frisbie: an index below 0.20 is poor). At
*r* ≤ −0.20 it is marked **negative discrimination**: stronger students did worse, so check the
question and its tests first.
With fewer than :data:`MIN_STUDENTS` graded submissions nothing is marked: the figures are shown
but do not mean much yet.

Questions are named as students see them (``Q8 · From the interview_rounds table ...``), from the
prompt cell of the lesson's source notebook.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .course import Course

EASY = 0.90
HARD = 0.20
LOW_DISCRIMINATION = 0.20
UPPER_LOWER = 0.27
MIN_STUDENTS = 5

TOO_EASY, TOO_HARD, NOT_DISCRIMINATING, NEGATIVE = ("too easy", "too hard", "does not discriminate",
                                                     "negative discrimination")


# ---------------------------------------------------------------- questions as students see them

@dataclass(frozen=True)
class Question:
    lesson: str
    cell: str        # the gradebook's grade cell: q8_tests, or q15 for a written answer
    qid: str         # q8
    label: str       # "Q8 · From the interview_rounds table: if every ..."
    prompt: str      # the prompt as plain text
    points: float
    manual: bool     # graded by hand (a written answer)
    variant: bool    # its inputs or options are drawn per student (set-up cells that use V)


_MARKUP = re.compile(r"[*`]|^#+ |^> |\[(.*?)\]\(.*?\)", re.M)


def plain(markdown: str) -> str:
    """Markdown as one line of plain text (emphasis, code marks and links removed)."""
    text = _MARKUP.sub(lambda m: m.group(1) or "", markdown)
    return re.sub(r"\s+", " ", text).strip()


def short_label(qid: str, prompt: str, width: int = 44) -> str:
    """``Q8 · <the prompt's first words>``: the question's number and what it asks, cut at a word."""
    text = plain(prompt)
    text = re.sub(rf"^{re.escape(qid)}\s*(\([^)]*\))?\s*[.:]?\s*", "", text, flags=re.I)
    text = re.split(r"(?<=[.?!])\s", text, maxsplit=1)[0].rstrip(".")
    if len(text) > width:
        text = text[:width].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return f"{qid.upper()} · {text}" if text else qid.upper()


def _qid(cell: str) -> str:
    return cell.removesuffix("_tests")


def questions(course: Course, lesson: str) -> dict[str, Question]:
    """grade cell -> :class:`Question`, in the notebook's order, read from the lesson's source."""
    import nbformat

    from .cells import nbgrader_meta

    cd = course.coursedir
    found: dict[str, Question] = {}
    for path in sorted(Path(cd.format_path(cd.source_directory, ".", lesson)).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        prompts, variants = {}, set()
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            gid = meta.get("grade_id") or ""
            label = (cell.get("metadata", {}).get("infraprep") or {}).get("label")
            if gid.endswith("_prompt"):
                prompts[gid.removesuffix("_prompt")] = (cell.source, label)
            if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade") and not meta.get("solution"):
                if re.search(r"\bV\.(rng|pick|mcq|show)\(", cell.source):
                    variants.update(m.lower() for m in re.findall(r"\b(q\d+[a-z]?)_\w+\s*=", cell.source))
                    variants.update(re.findall(r"V\.(?:rng|pick|mcq|show)\(\s*[\"'](q\d+[a-z]?)[\"']", cell.source))
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            if not meta.get("grade"):
                continue
            gid = meta["grade_id"]
            qid = _qid(gid)
            source, label = prompts.get(qid, (cell.source if meta.get("solution") else "", None))
            manual = bool(meta.get("solution"))
            text = plain(source)
            found[gid] = Question(lesson, gid, qid, label or short_label(qid, source), text,
                                  float(meta.get("points") or 0), manual, qid in variants)
    return found


def question_label(qs: dict[str, Question], cell: str) -> str:
    return qs[cell].label if cell in qs else short_label(_qid(cell), "")


# ---------------------------------------------------------------- scores, autograded and by hand

@dataclass
class ScoreParts:
    """A submission's score split the way an instructor reads it."""

    auto: float = 0.0
    auto_max: float = 0.0
    manual: float = 0.0          # points given by hand so far
    manual_max: float = 0.0
    manual_pending: float = 0.0  # manual points not graded yet

    def text(self) -> str:
        out = f"autograded {self.auto:g} / {self.auto_max:g}"
        if self.manual_max:
            graded = self.manual_max - self.manual_pending
            out += (f"; written answers {self.manual:g} / {graded:g}" if graded else "") + (
                f"; {self.manual_pending:g} point(s) of written answers not graded yet" if self.manual_pending else "")
        return out


def score_parts(submission, manual_cells: set[str]) -> ScoreParts:
    """:class:`ScoreParts` of a gradebook ``SubmittedAssignment`` (``manual_cells``: grade cells graded by hand)."""
    parts = ScoreParts()
    for nb in submission.notebooks:
        for grade in nb.grades:
            points = float(grade.max_score or 0)
            if grade.name in manual_cells:
                parts.manual_max += points
                if grade.manual_score is None and grade.needs_manual_grade:
                    parts.manual_pending += points
                else:
                    parts.manual += float(grade.score or 0)
            else:
                parts.auto_max += points
                parts.auto += float(grade.score or 0)
    return parts


def manual_cells(course: Course, lesson: str) -> set[str]:
    return {cell for cell, q in questions(course, lesson).items() if q.manual}


# ---------------------------------------------------------------- the statistics

@dataclass
class ItemStats:
    lesson: str
    cell: str
    label: str
    points: float
    n: int
    difficulty: float | None
    discrimination: float | None   # corrected item-total (point-biserial) correlation
    upper: float | None            # difficulty among the upper 27 %
    lower: float | None
    upper_lower: float | None      # upper - lower
    flags: list[str] = field(default_factory=list)

    @property
    def flag(self) -> str:
        return ", ".join(self.flags) or "-"


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sxx * syy)


def item_analysis(scores: dict[str, dict[str, float | None]], points: dict[str, float], lesson: str = "",
                  labels: dict[str, str] | None = None, min_students: int = MIN_STUDENTS) -> list[ItemStats]:
    """Item statistics from ``scores`` (student -> question -> fraction of its points earned, None if
    not graded yet) and ``points`` (question -> points), questions in ``points``' order."""
    labels = labels or {}
    out = []
    for q, weight in points.items():
        rows = []
        for student, row in sorted(scores.items()):
            if row.get(q) is None:
                continue
            rest = sum(points[o] * row[o] for o in points if o != q and row.get(o) is not None)
            rows.append((student, float(row[q]), rest))
        n = len(rows)
        stats = ItemStats(lesson, q, labels.get(q, q), weight, n, None, None, None, None, None)
        if n:
            items = [r[1] for r in rows]
            stats.difficulty = sum(items) / n
            stats.discrimination = _pearson(items, [r[2] for r in rows])
            k = max(1, round(UPPER_LOWER * n))
            ranked = sorted(rows, key=lambda r: (-r[2], r[0]))
            if n >= 2:
                stats.upper = sum(r[1] for r in ranked[:k]) / k
                stats.lower = sum(r[1] for r in ranked[-k:]) / k
                stats.upper_lower = stats.upper - stats.lower
        if n >= min_students and stats.difficulty is not None:
            if stats.difficulty >= EASY:
                stats.flags.append(TOO_EASY)
            elif stats.difficulty <= HARD:
                stats.flags.append(TOO_HARD)
            if stats.discrimination is None or stats.discrimination < LOW_DISCRIMINATION:
                stats.flags.append(NEGATIVE if stats.discrimination is not None
                                   and stats.discrimination <= -LOW_DISCRIMINATION else NOT_DISCRIMINATING)
        out.append(stats)
    return out


def lesson_scores(course: Course, lesson: str) -> tuple[dict[str, dict[str, float | None]], dict[str, float]]:
    """(student -> grade cell -> fraction earned or None, grade cell -> points) from the gradebook,
    cells in the notebook's order."""
    qs = questions(course, lesson)
    scores: dict[str, dict[str, float | None]] = {}
    points: dict[str, float] = {}
    with course.gradebook() as gb:
        for sub in gb.assignment_submissions(lesson):
            row = {}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if not grade.max_score:
                        continue
                    points.setdefault(grade.name, float(grade.max_score))
                    pending = grade.name in qs and qs[grade.name].manual and grade.manual_score is None \
                        and grade.needs_manual_grade
                    row[grade.name] = None if pending else float(grade.score or 0) / float(grade.max_score)
            scores[sub.student_id] = row
    for cell in points:  # a written answer counts once it is graded for everyone who answered it
        if cell in qs and qs[cell].manual and any(row.get(cell, 0) is None for row in scores.values()):
            for row in scores.values():
                row[cell] = None
    order = [c for c in qs if c in points] + [c for c in points if c not in qs]
    return scores, {c: points[c] for c in order}


def analyse(course: Course, lesson: str) -> list[ItemStats]:
    scores, points = lesson_scores(course, lesson)
    qs = questions(course, lesson)
    return item_analysis(scores, points, lesson, {c: question_label(qs, c) for c in points})


# ---------------------------------------------------------------- outputs: CSV and chart

CSV_COLUMNS = ("lesson", "question", "grade_cell", "points", "students", "difficulty", "discrimination",
               "upper_27", "lower_27", "upper_lower", "flags")


def write_csv(stats: list[ItemStats], path: str | Path) -> Path:
    path = Path(path)

    def fmt(value):
        return "" if value is None else f"{value:.3f}"

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for s in stats:
            writer.writerow([s.lesson, s.label, s.cell, f"{s.points:g}", s.n, fmt(s.difficulty), fmt(s.discrimination),
                             fmt(s.upper), fmt(s.lower), fmt(s.upper_lower), "; ".join(s.flags)])
    return path


def chart(stats: list[ItemStats], title: str = ""):
    """Difficulty against discrimination, one point a question (its Q number), with the zones of
    questions too easy, too hard and not discriminating shaded: a matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.axvspan(EASY, 1.04, color="#e8e8e8", zorder=0)
    ax.axvspan(-0.04, HARD, color="#f6dede", zorder=0)
    ax.axhspan(-1.05, LOW_DISCRIMINATION, color="#fdf0d5", zorder=0)
    ax.text(0.5 * (EASY + 1.04), 1.0, "too easy", ha="center", va="top", fontsize=8, color="#555555")
    ax.text(0.5 * (HARD - 0.04), 1.0, "too hard", ha="center", va="top", fontsize=8, color="#9c2f2f")
    ax.text(0.5, LOW_DISCRIMINATION - 0.04, "does not tell strong from weak students", ha="center", va="top",
            fontsize=8, color="#8a5a00")
    colours = {TOO_EASY: "#7f7f7f", TOO_HARD: "#c0392b", NOT_DISCRIMINATING: "#d68910", NEGATIVE: "#d68910"}
    spots: dict[tuple[int, int], list[str]] = {}
    for s in stats:
        if s.difficulty is None:
            continue
        y = s.discrimination if s.discrimination is not None else 0.0
        colour = colours.get(s.flags[0], "#2f6db3") if s.flags else "#2f6db3"
        if s.discrimination is not None:
            ax.scatter([s.difficulty], [y], s=30 + 12 * s.points, color=colour, edgecolor="white", zorder=3)
        else:  # everyone scored the same: no correlation to draw, shown on the zero line
            ax.scatter([s.difficulty], [y], s=30 + 12 * s.points, color=colour, marker="x", zorder=3)
        spots.setdefault((round(s.difficulty / 0.03), round(y / 0.06)), []).append(s.label.split(" · ")[0])
    for (gx, gy), names in spots.items():  # questions that fall together share one label
        ax.annotate(", ".join(names), (gx * 0.03, gy * 0.06), xytext=(5, 3), textcoords="offset points", fontsize=8)
    ax.set_xlim(-0.04, 1.04)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("difficulty: share of the points earned")
    ax.set_ylabel("discrimination: correlation with\nthe other questions' score")
    ax.axhline(0, color="#999999", linewidth=0.6)
    ax.set_title(title or "Item analysis", fontsize=11)
    return fig


def as_rows(stats: list[ItemStats]) -> list[dict]:
    return [dict(asdict(s), flag=s.flag) for s in stats]
