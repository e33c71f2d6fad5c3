"""A cohort report: an HTML page with charts (PNG files beside it) an instructor reads after grading.

Score distribution per lesson, per-question success rate (which questions the cohort misses),
submissions missing and late per lesson, and every flag the grader raised, by student: tampered cells
restored, kernels that died, timeouts, notebooks that could not be graded, grading without the sandbox
(:mod:`.flags`). Everything is read from the gradebook, the submissions and the autograded notebooks.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from . import flags as grading_flags
from .course import Course
from .exchange import status


@dataclass
class CohortStats:
    lessons: list[str] = field(default_factory=list)
    max_score: dict[str, float] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)              # lesson -> submitted scores
    questions: dict[str, dict[str, float]] = field(default_factory=dict)      # lesson -> test cell -> success rate
    missing: dict[str, list[str]] = field(default_factory=dict)
    late: dict[str, list[str]] = field(default_factory=dict)


def cohort_stats(course: Course) -> CohortStats:
    stats = CohortStats()
    with course.gradebook() as gb:
        for a in sorted(gb.assignments, key=lambda a: a.name):
            stats.lessons.append(a.name)
            stats.max_score[a.name] = float(a.max_score)
            subs = list(gb.assignment_submissions(a.name))
            stats.scores[a.name] = [float(s.score or 0) for s in subs]
            full: dict[str, list[int]] = {}
            for sub in subs:
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell_type != "code" or not grade.max_score:
                            continue
                        score = grade.score if grade.score is not None else 0
                        full.setdefault(grade.name, []).append(int(score >= grade.max_score))
            stats.questions[a.name] = {q: sum(v) / len(v) for q, v in full.items()}
    who = status(course, stats.lessons)
    stats.missing = who.missing
    stats.late = {lesson: sorted(v) for lesson, v in who.late.items()}
    return stats


def _charts(stats: CohortStats, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    charts = []
    lessons = stats.lessons
    # 1. score distribution per lesson (percent of the lesson's points)
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(lessons) + 2), 3.6))
    data = [[100 * s / stats.max_score[l] if stats.max_score[l] else 0 for s in stats.scores[l]] or [0] for l in lessons]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(lessons) + 1), lessons, rotation=20)
    for i, values in enumerate(data, start=1):
        ax.scatter([i] * len(values), values, s=8, alpha=0.4, color="tab:blue")
    ax.set_ylabel("score (% of the lesson's points)")
    ax.set_ylim(-5, 105)
    ax.set_title("Score distribution per lesson")
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=110)
    plt.close(fig)
    charts.append(("scores.png", "Score distribution per lesson"))
    # 2. per-question success rate
    for lesson in lessons:
        rates = stats.questions.get(lesson) or {}
        if not rates:
            continue
        names = list(rates)
        fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(names) + 1.2))
        values = [100 * rates[q] for q in names]
        colors = ["tab:red" if v < 50 else "tab:orange" if v < 75 else "tab:green" for v in values]
        ax.barh(names, values, color=colors)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("submissions with full points (%)")
        ax.set_title(f"{lesson}: which questions the cohort misses")
        fig.tight_layout()
        name = f"questions-{lesson}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        charts.append((name, f"{lesson}: per-question success rate"))
    # 3. missing and late
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(lessons) + 2), 3.2))
    x = range(len(lessons))
    ax.bar([i - 0.2 for i in x], [len(stats.missing.get(l, [])) for l in lessons], width=0.4, label="missing")
    ax.bar([i + 0.2 for i in x], [len(stats.late.get(l, [])) for l in lessons], width=0.4, label="late")
    ax.set_xticks(list(x), lessons, rotation=20)
    ax.set_ylabel("students")
    ax.legend()
    ax.set_title("Submissions missing and late")
    fig.tight_layout()
    fig.savefig(out / "missing-late.png", dpi=110)
    plt.close(fig)
    charts.append(("missing-late.png", "Submissions missing and late"))
    return charts


def report(course: Course, out_dir: str | Path) -> Path:
    """Write ``report.html`` and its PNG charts into ``out_dir``; return the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats = cohort_stats(course)
    charts = _charts(stats, out)
    esc = html.escape
    rows = []
    for lesson in stats.lessons:
        scores = stats.scores[lesson]
        mean = sum(scores) / len(scores) if scores else 0.0
        hardest = sorted(stats.questions.get(lesson, {}).items(), key=lambda kv: kv[1])[:3]
        rows.append(
            f"<tr><td>{esc(lesson)}</td><td>{len(scores)}</td><td>{mean:.1f} / {stats.max_score[lesson]:g}</td>"
            f"<td>{esc(', '.join(stats.missing.get(lesson, [])) or '-')}</td>"
            f"<td>{esc(', '.join(stats.late.get(lesson, [])) or '-')}</td>"
            f"<td>{esc(', '.join(f'{q} ({100 * r:.0f}%)' for q, r in hardest) or '-')}</td></tr>")
    cd = course.coursedir
    raised = grading_flags.collect(cd.root, cd.autograded_directory)
    flag_rows = "".join(
        f"<tr><td>{esc(f.student)}</td><td>{esc(f.lesson)}</td><td>{esc(f.kind)}</td><td>{esc(f.cell or '-')}</td>"
        f"<td>{esc(f.message)}</td></tr>" for f in raised)
    unsandboxed = sorted({f.student for f in raised if f.kind == grading_flags.UNSANDBOXED})
    warning = (f'<p class="warn">Graded WITHOUT the sandbox for: {esc(", ".join(unsandboxed))}. Student code ran with '
               "the grader's rights; install bubblewrap and regrade.</p>") if unsandboxed else ""
    flags_html = (f"<h2>Flags ({len(raised)})</h2>{warning}<table><tr><th>student</th><th>lesson</th><th>flag</th>"
                  f"<th>cell or file</th><th>what happened</th></tr>{flag_rows}</table>") if raised else \
        "<h2>Flags</h2><p>None: no tampering, runaway code or unreadable submissions were found.</p>"
    figures = "\n".join(f'<figure><img src="{esc(name)}" alt="{esc(title)}"><figcaption>{esc(title)}</figcaption></figure>'
                        for name, title in charts)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Cohort report: {esc(course.course_id)}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}img{{max-width:100%}}
.warn{{color:#b00;font-weight:bold}}</style></head>
<body><h1>Cohort report: {esc(course.course_id)}</h1>
<table><tr><th>lesson</th><th>submissions</th><th>mean score</th><th>missing</th><th>late</th><th>most missed questions</th></tr>
{''.join(rows)}</table>
{flags_html}
{figures}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
