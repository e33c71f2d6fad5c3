"""How this machine's decode step time grows with the batch (lesson 8's lab), measured in one run.

Prints, for the lab's small decoder, the best-of-N step time at each batch size with its ratio to
batch 1, and the log-log slope over the small and the large batches (0: the batch is free,
1: the time grows with the batch). A machine whose caches hold the whole model shows a slope near 1
from the start; one that streams the weights from memory shows a flat start. Run with
``make bench-decode``.
"""

from __future__ import annotations

import argparse

import numpy as np

from infraprep.labs import serving


def slope(table, batches) -> float:
    steps = table.set_index("batch")["step_ms"]
    x = np.log(np.array(batches, dtype=float))
    y = np.log(steps.loc[list(batches)].to_numpy(dtype=float))
    return float(np.polyfit(x, y, 1)[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="passes over every batch size; the best counts")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads while timing")
    args = parser.parse_args(argv)
    small, large = (1, 2, 4, 8, 16), (64, 128, 256)
    with serving.blas_threads(args.threads):
        curve = serving.measure_decode_curve(serving.QUICK["curve_model"], small + large, repeats=args.repeats)
    table = curve.table
    base = float(table["step_ms"].iloc[0])
    print(f"{'batch':>6s} {'step (ms)':>10s} {'× batch 1':>10s} {'tokens/s':>10s}")
    for row in table.itertuples():
        print(f"{row.batch:6d} {row.step_ms:10.3f} {row.step_ms / base:10.2f} {row.tokens_per_s:10,.0f}")
    print(f"slope over batches {small[0]}–{small[-1]}: {slope(table, small):.2f}   "
          f"over {large[0]}–{large[-1]}: {slope(table, large):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
