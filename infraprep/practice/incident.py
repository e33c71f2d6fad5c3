"""The "3 AM incident": a 256-GPU job stalled at step 45,000 of 50,000, and code that reads its logs.

The artefacts in ``infraprep/data/07-rapid-fire/incident/`` were written for this
course in the real tools' formats:

- ``train.log``: rank 0's training log (launcher rank table, metrics every 100 steps,
  checkpoints, and the training script's heartbeat warnings);
- ``stderr.log``: every rank's stderr merged by the launcher, one ``host:`` prefix a
  line (PyTorch ``ProcessGroupNCCL`` watchdog messages, torchrun's elastic agent);
- ``dmesg-suspect-node.txt``: the kernel log of the suspect node, trn-node-021 (NVIDIA Xid lines);
- ``nvidia-smi-suspect-node.txt`` and ``nvidia-smi-healthy-node.txt``: ``nvidia-smi``
  (and ``lspci``) on the suspect node and on a healthy neighbour (trn-node-020).

The parsers return DataFrames so a notebook can sort, group and compare them.
"""

from __future__ import annotations

import re

import pandas as pd

from .. import tables
from .bank import LESSON

__all__ = [
    "ARTEFACTS", "read", "load_steps", "parse_train_log", "last_step", "last_checkpoint", "rank_table",
    "parse_stderr", "silent_ranks", "parse_xid", "rank_location", "gpu_bus_ids", "diagnose",
]

ARTEFACTS = ("train.log", "stderr.log", "dmesg-suspect-node.txt", "nvidia-smi-suspect-node.txt",
             "nvidia-smi-healthy-node.txt")


def read(name: str) -> str:
    """Text of one incident artefact, e.g. ``read("stderr.log")``."""
    return tables.artefact(LESSON, f"incident/{name}")


def load_steps() -> pd.DataFrame:
    """The diagnosis, step by step: ``step, artefact, question, a-d, answer, explanation, source``."""
    return tables.load(LESSON, "incident_steps")


_STEP = re.compile(
    r"^(?P<time>\S+ \S+) \| INFO\s*\| train\s*\| step (?P<step>\d+)/(?P<total>\d+) \| loss (?P<loss>[\d.]+)"
    r".*?step_time_s (?P<step_time_s>[\d.]+) \| tokens_per_s (?P<tokens_per_s>\d+)"
)
_SAVED = re.compile(r"\| ckpt\s*\| saved step_(?P<step>\d+) in (?P<seconds>[\d.]+) s")
_RANKS = re.compile(r"node_rank=(?P<node_rank>\d+)\s+host=(?P<host>\S+) ranks=(?P<first>\d+)-(?P<last>\d+)")


def parse_train_log(text: str) -> pd.DataFrame:
    """Metric lines of the training log: ``time, step, total_steps, loss, step_time_s, tokens_per_s``."""
    rows = []
    for line in text.splitlines():
        m = _STEP.match(line)
        if m:
            rows.append({"time": pd.Timestamp(m["time"]), "step": int(m["step"]), "total_steps": int(m["total"]),
                         "loss": float(m["loss"]), "step_time_s": float(m["step_time_s"]),
                         "tokens_per_s": int(m["tokens_per_s"])})
    return pd.DataFrame(rows, columns=["time", "step", "total_steps", "loss", "step_time_s", "tokens_per_s"])


def last_step(text: str) -> int:
    """The last training step the log reports."""
    steps = parse_train_log(text)
    if steps.empty:
        raise ValueError("no step lines in this log")
    return int(steps["step"].max())


def last_checkpoint(text: str) -> int:
    """The step of the last checkpoint that was saved completely."""
    saved = [int(m["step"]) for m in map(_SAVED.search, text.splitlines()) if m]
    if not saved:
        raise ValueError("no completed checkpoint in this log")
    return max(saved)


def rank_table(text: str) -> pd.DataFrame:
    """The launcher's layout: ``node_rank, host, first_rank, last_rank``."""
    rows = [{"node_rank": int(m["node_rank"]), "host": m["host"], "first_rank": int(m["first"]),
             "last_rank": int(m["last"])} for m in map(_RANKS.search, text.splitlines()) if m]
    return pd.DataFrame(rows, columns=["node_rank", "host", "first_rank", "last_rank"])


_TORCH = re.compile(
    r"^(?P<host>\S+): \[rank(?P<rank>\d+)\]:\[(?P<level>[EWI])(?P<mmdd>\d{4}) (?P<time>[\d:.]+) "
    r"ProcessGroupNCCL\.cpp:\d+\] (?P<message>.*)$"
)
_TIMEOUT = re.compile(
    r"Watchdog caught collective operation timeout: WorkNCCL\(SeqNum=(?P<seq>\d+), OpType=(?P<op>\w+)"
    r".*?Timeout\(ms\)=(?P<timeout>\d+)\) ran for (?P<ran>\d+) milliseconds"
)
_DIED = re.compile(r"watchdog thread terminated with exception: (?P<error>.+)$")


def parse_stderr(text: str, year: int = 2026) -> pd.DataFrame:
    """ProcessGroupNCCL watchdog events: ``time, host, rank, kind, op, seq, timeout_ms, ran_ms, detail``.

    ``kind`` is ``timeout`` (a collective ran past its timeout) or ``error`` (the
    watchdog thread died with an exception, e.g. a CUDA error). PyTorch's log
    prefix has month, day and time but no year, so ``year`` supplies it.
    """
    rows = []
    for line in text.splitlines():
        m = _TORCH.match(line)
        if not m:
            continue
        base = {"time": pd.Timestamp(f"{year}-{m['mmdd'][:2]}-{m['mmdd'][2:]} {m['time'][:15]}"), "host": m["host"],
                "rank": int(m["rank"])}
        t = _TIMEOUT.search(m["message"])
        d = _DIED.search(m["message"])
        if t:
            rows.append({**base, "kind": "timeout", "op": t["op"], "seq": int(t["seq"]),
                         "timeout_ms": int(t["timeout"]), "ran_ms": int(t["ran"]), "detail": ""})
        elif d:
            rows.append({**base, "kind": "error", "op": "", "seq": None, "timeout_ms": None, "ran_ms": None,
                         "detail": d["error"].strip()})
    frame = pd.DataFrame(rows, columns=["time", "host", "rank", "kind", "op", "seq", "timeout_ms", "ran_ms", "detail"])
    frame = frame.astype({"seq": "Int64", "timeout_ms": "Int64", "ran_ms": "Int64"})
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def silent_ranks(text: str, world_size: int) -> list[int]:
    """Ranks that never reported a watchdog timeout: the ones the others were waiting for."""
    events = parse_stderr(text)
    reported = set(events.loc[events["kind"] == "timeout", "rank"])
    return [r for r in range(world_size) if r not in reported]


_XID = re.compile(
    r"^\[(?P<time>[^\]]+)\] NVRM: Xid \(PCI:(?P<pci>[0-9a-fA-F:]+)\): (?P<xid>\d+), (?:pid=[^,]*, name=[^,]*, )?(?P<message>.*)$"
)


def parse_xid(text: str) -> pd.DataFrame:
    """NVIDIA Xid events in ``dmesg -T`` output: ``time, pci, xid, message``."""
    rows = [{"time": m["time"], "pci": m["pci"].lower(), "xid": int(m["xid"]), "message": m["message"].strip()}
            for m in map(_XID.match, text.splitlines()) if m]
    return pd.DataFrame(rows, columns=["time", "pci", "xid", "message"])


def rank_location(rank: int, gpus_per_node: int = 8) -> tuple[int, int]:
    """``(node_rank, local_rank)`` of a global rank when ranks fill nodes in order."""
    if rank < 0 or gpus_per_node <= 0:
        raise ValueError("rank must be >= 0 and gpus_per_node > 0")
    return divmod(int(rank), int(gpus_per_node))


_SMI_ROW = re.compile(r"^\|\s+(?P<index>\d+)\s+NVIDIA .*?\|\s+(?:0000)?(?P<bus>[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)")


def gpu_bus_ids(text: str) -> dict[int, str]:
    """``{index: bus id}`` from an ``nvidia-smi`` table (bus ids as ``0000:ab:00.0``)."""
    found = {}
    for line in text.splitlines():
        m = _SMI_ROW.match(line)
        if m:
            found[int(m["index"])] = m["bus"].lower()
    return found


def diagnose(gpus_per_node: int = 8) -> dict:
    """Put the artefacts together: what failed, where, and what resuming costs."""
    train, stderr = read("train.log"), read("stderr.log")
    events = parse_stderr(stderr)
    first = events.iloc[0]
    node_rank, local_rank = rank_location(int(first["rank"]), gpus_per_node)
    layout = rank_table(train)
    xids = parse_xid(read("dmesg-suspect-node.txt"))
    buses = gpu_bus_ids(read("nvidia-smi-healthy-node.txt"))
    metrics = parse_train_log(train)
    step, ckpt = last_step(train), last_checkpoint(train)
    redo = step - ckpt
    return {
        "last_step": step,
        "first_failing_rank": int(first["rank"]),
        "first_error": str(first["detail"]),
        "host": str(layout.loc[layout["node_rank"] == node_rank, "host"].iloc[0]),
        "node_rank": node_rank,
        "local_rank": local_rank,
        "gpu_bus_id": buses.get(local_rank),
        "xid": int(xids["xid"].iloc[0]) if not xids.empty else None,
        "xid_pci": str(xids["pci"].iloc[0]) if not xids.empty else None,
        "timeouts": int((events["kind"] == "timeout").sum()),
        "last_checkpoint": ckpt,
        "steps_to_redo": redo,
        "minutes_to_redo": redo * float(metrics["step_time_s"].median()) / 60,
    }
