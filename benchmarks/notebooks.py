"""Time every lecture notebook and source assignment, top to bottom, in a fresh kernel.

Prints one line a notebook (seconds, excluding kernel start-up, and including it)
and flags any above the course's 5-second budget. Run with ``make bench``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 5.0


def time_notebook(path: Path) -> tuple[float, float]:
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        ready = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    end = time.perf_counter()
    return end - ready, end - start


def main() -> int:
    paths = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("source/*/*.ipynb"))
    over = 0
    print(f"{'notebook':55s} {'run (s)':>8s} {'with start-up (s)':>18s}")
    for path in paths:
        run, total = time_notebook(path)
        flag = "  OVER BUDGET" if run > BUDGET_S else ""
        over += bool(flag)
        print(f"{str(path.relative_to(ROOT)):55s} {run:8.2f} {total:18.2f}{flag}")
    print(f"{len(paths)} notebooks, {over} over the {BUDGET_S:.0f} s budget")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
