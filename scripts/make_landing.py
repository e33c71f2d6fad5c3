"""Write notebooks/00-start-here.ipynb from infraprep/data/lessons.csv: existing lessons linked, the rest marked coming."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import nbformat  # noqa: E402  (after the course folder is on the path)
from infraprep import tables  # noqa: E402
root = ROOT
lines = []
for l in tables.lessons().itertuples(index=False):
    exists = (root / "notebooks" / f"{l.lesson_id}.ipynb").exists()
    if exists:
        lines.append(f"{l.number}. **[Lesson {l.number} · {l.title}]({l.lesson_id}.ipynb)** — {l.summary}.")
    else:
        lines.append(f"{l.number}. Lesson {l.number} · {l.title} — *coming soon*. {l.summary}.")
intro = """# AI Infrastructure Interview Prep

Welcome. This course prepares you for AI infrastructure interviews: GPU clusters, distributed training,
Kubernetes, cloud platforms, storage and networking. Each lesson is a lecture notebook with tables, charts
and practice widgets, followed by a graded assignment.

**How to work through a lesson**

1. Open the lecture notebook below and run it top to bottom (*Run → Run All Cells*). Play with the widgets;
   the practice quiz at the end tells you the answer after you try.
2. Open the *Assignments* tab (*Nbgrader → Assignment List*), fetch the lesson's assignment and answer each
   question: replace `...` with your answer, delete the `raise NotImplementedError(...)` line, run the cell
   and the small test under it. The visible tests only check the form of your answer.
3. Press **Validate**, then **Submit**. Your instructor's grading checks correctness with hidden tests.

Working on your own? The student versions are in `release/` at the top of the course folder.

## Lessons

"""
outro = """
## Suggested pace

Three weeks: lessons 1 to 3 in week 1, lessons 4 and 5 in week 2, lessons 6 and 7 (with two timed mock
interviews) in week 3. Lesson 1 has a tracker that remembers your progress.
"""
nb = nbformat.v4.new_notebook()
nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
nb.metadata["language_info"] = {"name": "python"}
nb.cells = [nbformat.v4.new_markdown_cell(intro + "\n".join(lines) + "\n" + outro)]
nbformat.write(nb, str(root / "notebooks" / "00-start-here.ipynb"))
