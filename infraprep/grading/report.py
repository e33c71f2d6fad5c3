"""A cohort report an instructor reads at a glance: ``report.html`` (charts beside it as PNG), the
same report as an HTML fragment with its charts inside (``fragment.html``, for a JupyterLab
notebook: ``from IPython.display import HTML; HTML(filename="report/fragment.html")``), and the
item analysis as CSV (``items.csv``).

Per lesson: submissions, the mean score with autograded points apart from the written answers
(and how many of those are not graded yet), who is missing and who is late, the most missed
questions - every question named as students see it (``Q8 · ...``). Then the item analysis
(:mod:`.analytics`: what to reteach, which questions do not tell strong from weak students), the
similarity flags (:mod:`.similarity`: leads for a conversation, with their evidence), and every
flag the grader raised (:mod:`.flags`), grouped by kind with a count so one systematic cause does
not fill the page. Everything from students is escaped.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import analytics, similarity
from . import flags as grading_flags
from .course import Course
from .exchange import status

esc = html.escape


@dataclass
class CohortStats:
    lessons: list[str] = field(default_factory=list)
    max_score: dict[str, float] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)              # lesson -> submitted scores
    parts: dict[str, list[analytics.ScoreParts]] = field(default_factory=dict)  # lesson -> autograded/manual split
    questions: dict[str, dict[str, float]] = field(default_factory=dict)      # lesson -> grade cell -> full-marks rate
    labels: dict[str, dict[str, str]] = field(default_factory=dict)           # lesson -> grade cell -> Q label
    items: dict[str, list[analytics.ItemStats]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    late: dict[str, list[str]] = field(default_factory=dict)


def cohort_stats(course: Course) -> CohortStats:
    stats = CohortStats()
    qs_of = {}
    with course.gradebook() as gb:
        for a in sorted(gb.assignments, key=lambda a: a.name):
            stats.lessons.append(a.name)
            stats.max_score[a.name] = float(a.max_score)
            qs = qs_of[a.name] = analytics.questions(course, a.name)
            manual = {c for c, q in qs.items() if q.manual}
            subs = list(gb.assignment_submissions(a.name))
            stats.scores[a.name] = [float(s.score or 0) for s in subs]
            stats.parts[a.name] = [analytics.score_parts(s, manual) for s in subs]
            full: dict[str, list[int]] = {}
            for sub in subs:
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.name in manual or not grade.max_score:
                            continue
                        score = grade.score if grade.score is not None else 0
                        full.setdefault(grade.name, []).append(int(score >= grade.max_score))
            order = [c for c in qs if c in full] + [c for c in full if c not in qs]
            stats.questions[a.name] = {q: sum(full[q]) / len(full[q]) for q in order}
            stats.labels[a.name] = {c: analytics.question_label(qs, c) for c in set(full) | set(qs)}
    for lesson in stats.lessons:
        stats.items[lesson] = analytics.analyse(course, lesson)
    who = status(course, stats.lessons)
    stats.missing = who.missing
    stats.late = {lesson: sorted(v) for lesson, v in who.late.items()}
    return stats


# ---------------------------------------------------------------- charts

def _save(fig, out: Path, name: str, title: str, charts: list) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    (out / name).write_bytes(buffer.getvalue())
    charts.append((name, title, buffer.getvalue()))


def _charts(stats: CohortStats, out: Path) -> list[tuple[str, str, bytes]]:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    charts: list[tuple[str, str, bytes]] = []
    lessons = stats.lessons
    width = max(5.0, 1.4 * len(lessons) + 2)
    # 1. score distribution per lesson (percent of the lesson's autograded points)
    fig = Figure(figsize=(width, 3.6), layout="constrained")
    ax = fig.add_subplot()
    data = []
    for lesson in lessons:
        parts = stats.parts[lesson]
        data.append([100 * p.auto / p.auto_max if p.auto_max else 0 for p in parts] or [0])
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(lessons) + 1), lessons, rotation=20)
    for i, values in enumerate(data, start=1):
        ax.scatter([i] * len(values), values, s=8, alpha=0.4, color="tab:blue")
    ax.set_ylabel("autograded score (% of its points)")
    ax.set_ylim(-5, 105)
    ax.set_title("Score distribution per lesson (written answers apart)")
    _save(fig, out, "scores.png", "Score distribution per lesson", charts)
    # 2. per-question success rate, questions as students see them
    for lesson in lessons:
        rates = stats.questions.get(lesson) or {}
        if not rates:
            continue
        cells = list(rates)
        names = [stats.labels[lesson].get(c, c) for c in cells]
        fig = Figure(figsize=(8.5, 0.3 * len(names) + 1.3), layout="constrained")
        ax = fig.add_subplot()
        values = [100 * rates[c] for c in cells]
        colours = ["tab:red" if v < 50 else "tab:orange" if v < 75 else "tab:green" for v in values]
        ax.barh(names, values, color=colours)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel("submissions with full points (%)")
        ax.set_title(f"{lesson}: which questions the cohort misses")
        _save(fig, out, f"questions-{lesson}.png", f"{lesson}: per-question success rate", charts)
    # 3. item analysis
    for lesson in lessons:
        items = [s for s in stats.items.get(lesson, []) if s.difficulty is not None]
        if items:
            fig = analytics.chart(items, f"{lesson}: item analysis ({max(s.n for s in items)} students)")
            _save(fig, out, f"items-{lesson}.png", f"{lesson}: difficulty and discrimination", charts)
    # 4. missing and late: counts of students, on an integer axis
    fig = Figure(figsize=(width, 3.2), layout="constrained")
    ax = fig.add_subplot()
    x = range(len(lessons))
    missing = [len(stats.missing.get(l, [])) for l in lessons]
    late = [len(stats.late.get(l, [])) for l in lessons]
    ax.bar([i - 0.2 for i in x], missing, width=0.4, label="missing")
    ax.bar([i + 0.2 for i in x], late, width=0.4, label="late")
    ax.set_xticks(list(x), lessons, rotation=20)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max([1, *missing, *late]) + 0.5)
    ax.set_ylabel("students")
    ax.legend()
    ax.set_title("Submissions missing and late")
    _save(fig, out, "missing-late.png", "Submissions missing and late", charts)
    return charts


# ---------------------------------------------------------------- the page's sections

TABLE = 'style="border-collapse:collapse;margin:.5em 0"'
CELL = 'style="border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top"'


def _table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table; every cell given here is already escaped."""
    head = "".join(f"<th {CELL}>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {CELL}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {TABLE}><tr>{head}</tr>{body}</table>"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _summary(stats: CohortStats) -> str:
    rows = []
    for lesson in stats.lessons:
        parts = stats.parts[lesson]
        auto_max = max((p.auto_max for p in parts), default=0.0)
        manual_max = max((p.manual_max for p in parts), default=0.0)
        auto = f"{_mean([p.auto for p in parts]):.1f} / {auto_max:g}" if parts else "-"
        if manual_max:
            graded = [p for p in parts if not p.manual_pending]
            manual = (f"{_mean([p.manual for p in graded]):.1f} / {manual_max:g} ({len(graded)} graded)"
                      if graded else f"{manual_max:g} points, not graded yet")
            if graded and len(graded) < len(parts):
                manual += f"; {len(parts) - len(graded)} not graded yet"
        else:
            manual = "-"
        hardest = sorted(stats.questions.get(lesson, {}).items(), key=lambda kv: kv[1])[:3]
        rows.append([esc(lesson), str(len(parts)), esc(auto), esc(manual),
                     esc(", ".join(stats.missing.get(lesson, [])) or "-"),
                     esc(", ".join(stats.late.get(lesson, [])) or "-"),
                     esc("; ".join(f"{stats.labels[lesson].get(q, q)} ({100 * r:.0f} %)" for q, r in hardest) or "-")])
    return _table(["lesson", "submissions", "mean autograded score", "written answers (by hand)", "missing",
                   "late", "most missed questions"], rows)


def _items(stats: CohortStats) -> str:
    out = []
    for lesson in stats.lessons:
        items = stats.items.get(lesson, [])
        if not items:
            continue
        n = max((s.n for s in items), default=0)
        note = (f"<p>Only {n} graded submission(s): nothing is marked below {analytics.MIN_STUDENTS}.</p>"
                if n < analytics.MIN_STUDENTS else "")
        marked = [s for s in items if s.flags]
        lead = (f"<p><b>{len(marked)} of {len(items)} questions to look at</b>: "
                + esc("; ".join(f"{s.label} ({s.flag})" for s in marked)) + "</p>") if marked else ""

        def f(value, digits=2):
            return "-" if value is None else f"{value:.{digits}f}"

        rows = [[esc(s.label), f"{s.points:g}", str(s.n), f(s.difficulty), f(s.discrimination), f(s.upper_lower),
                 esc(s.flag if s.n else "not graded yet")] for s in items]
        out.append(f"<h3>{esc(lesson)}</h3>{note}{lead}<details><summary>every question ({len(items)})</summary>"
                   + _table(["question", "points", "students", "difficulty", "discrimination (r)",
                             "upper-lower 27 % (D)", "mark"], rows) + "</details>")
    return ("<h2>Item analysis: what to reteach</h2><p>Difficulty is the share of a question's points the cohort "
            f"earned; discrimination, how much a question's score goes with the score on the other questions. "
            f"Marked: too easy (difficulty ≥ {analytics.EASY:.2f}), too hard (≤ {analytics.HARD:.2f}), does not "
            f"discriminate (r &lt; {analytics.LOW_DISCRIMINATION:.2f}), negative discrimination (r ≤ "
            f"−{analytics.LOW_DISCRIMINATION:.2f}: stronger students did worse; check the question and its tests). "
            "The same figures are in <code>items.csv</code>.</p>" + "".join(out))


def _similar(found: similarity.Findings) -> str:
    groups = found.by_kind()
    total = len(found.pairs)
    parts = [f"<h2>Similarity flags ({total})</h2><p>Leads for a conversation, never a penalty: each pair comes with "
             "its evidence. Nothing here changed a grade.</p>"]
    for kind, pairs in groups.items():
        if not pairs:
            parts.append(f"<p><b>{esc(kind)}</b>: none.</p>")
            continue
        items = []
        for p in pairs:
            evidence = "".join(f"<li>{esc(e)}</li>" for e in p.evidence)
            code = ""
            if p.code:
                code = ("<details><summary>the two answers</summary>"
                        + _table([esc(p.students[0]), esc(p.students[1])],
                                 [[f"<pre>{esc(p.code[0])}</pre>", f"<pre>{esc(p.code[1])}</pre>"]]) + "</details>")
            items.append(f"<li><b>{esc(p.students[0])} and {esc(p.students[1])}</b> ({esc(p.lesson)})"
                         f"<ul>{evidence}</ul>{code}</li>")
        parts.append(f"<details open><summary><b>{esc(kind)}</b> ({len(pairs)} pair{'s' if len(pairs) != 1 else ''})"
                     f"</summary><ul>{''.join(items)}</ul></details>")
    if found.solution_like:
        parts.append(f"<p>{found.solution_like} pair(s) of code answers are alike because both are close to the "
                     "course's own solution: not listed.</p>")
    return "".join(parts)


def _flags(raised: list) -> str:
    if not raised:
        return "<h2>Grader flags</h2><p>None: no tampering, runaway code or unreadable submissions were found.</p>"
    unsandboxed = sorted({f.student for f in raised if f.kind == grading_flags.UNSANDBOXED})
    warning = (f'<p style="color:#b00;font-weight:bold">Graded WITHOUT the sandbox for: {esc(", ".join(unsandboxed))}. '
               "Student code ran with the grader's rights; install bubblewrap and regrade.</p>") if unsandboxed else ""
    by_kind: dict[str, list] = defaultdict(list)
    for f in raised:
        by_kind[f.kind].append(f)
    parts = [f"<h2>Grader flags ({len(raised)}, {len(by_kind)} kind{'s' if len(by_kind) != 1 else ''})</h2>{warning}"]
    for kind, items in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        students = sorted({f.student for f in items})
        rows = [[esc(f.student), esc(f.lesson), esc(f.cell or "-"), esc(f.message)] for f in items]
        who = ", ".join(students[:8]) + (f" and {len(students) - 8} more" if len(students) > 8 else "")
        parts.append(f"<details><summary><b>{esc(kind)}</b>: {len(items)} ({len(students)} student"
                     f"{'s' if len(students) != 1 else ''}: {esc(who)})</summary>"
                     + _table(["student", "lesson", "cell or file", "what happened"], rows) + "</details>")
    return "".join(parts)


def _body(course: Course, stats: CohortStats, charts, found, raised, embed: bool) -> str:
    def figure(name: str, title: str, png: bytes) -> str:
        src = f"data:image/png;base64,{base64.b64encode(png).decode()}" if embed else esc(name)
        return (f'<figure style="margin:1em 0"><img src="{src}" alt="{esc(title)}" style="max-width:100%">'
                f"<figcaption>{esc(title)}</figcaption></figure>")

    shown = {name: figure(name, title, png) for name, title, png in charts}
    item_figs = "".join(v for k, v in shown.items() if k.startswith("items-"))
    other = "".join(v for k, v in shown.items() if not k.startswith("items-"))
    return (f'<div class="infraprep-report" style="font-family:sans-serif;max-width:62rem">'
            f"<h1>Cohort report: {esc(course.course_id)}</h1>{_summary(stats)}"
            f"{_items(stats)}{item_figs}{_similar(found)}{_flags(raised)}<h2>Charts</h2>{other}</div>")


def report(course: Course, out_dir: str | Path) -> Path:
    """Write ``report.html`` with its PNG charts, ``fragment.html`` and ``items.csv`` into ``out_dir``;
    return the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats = cohort_stats(course)
    charts = _charts(stats, out)
    found = similarity.find(course, stats.lessons)
    cd = course.coursedir
    raised = grading_flags.collect(cd.root, cd.autograded_directory)
    analytics.write_csv([s for lesson in stats.lessons for s in stats.items.get(lesson, [])], out / "items.csv")
    (out / "fragment.html").write_text(_body(course, stats, charts, found, raised, embed=True) + "\n", encoding="utf-8")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Cohort report: '
            f"{esc(course.course_id)}</title></head><body style=\"margin:2rem auto;max-width:62rem\">"
            f"{_body(course, stats, charts, found, raised, embed=False)}</body></html>\n")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
