"""The "3 AM incident": a 256-GPU job stalled at step 45,000 of 50,000, code that reads its logs,
and a generator of fresh incidents for practice and for the graded assignment.

The lecture's worked incident lives in ``infraprep/data/07-rapid-fire/incident/``, written for this
course in the real tools' formats:

- ``train.log``: rank 0's training log (launcher rank table, metrics every 100 steps,
  checkpoints, and the training script's heartbeat warnings);
- ``stderr.log``: every rank's stderr merged by the launcher, one ``host:`` prefix a
  line (PyTorch ``ProcessGroupNCCL`` watchdog messages, torchrun's elastic agent);
- ``dmesg-suspect-node.txt``: the kernel log of the suspect node, trn-node-021 (NVIDIA Xid lines);
- ``nvidia-smi-suspect-node.txt`` and ``nvidia-smi-healthy-node.txt``: ``nvidia-smi``
  (and ``lspci``) on the suspect node and on a healthy neighbour (trn-node-020).

The parsers return DataFrames so a notebook can sort, group and compare them.

:func:`generate` writes a new incident of the same shape from a seeded generator: another
cluster (node count, host names, PCI layout, GPU model), another model and throughput, other
times, and one of four GPU failures (:data:`FAILURES`). It returns the five logs only; what
happened has to be read out of them with the parsers above, as on call.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta

import pandas as pd

from .. import tables
from .bank import LESSON

__all__ = [
    "ARTEFACTS", "read", "load_steps", "parse_train_log", "last_step", "last_checkpoint", "rank_table",
    "parse_stderr", "silent_ranks", "parse_xid", "rank_location", "gpu_bus_ids", "diagnose",
    "FAILURES", "generate",
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
        "minutes_to_redo": round(redo * float(metrics["step_time_s"].median()) / 60, 1),
    }


# --------------------------------------------------------------------------- fresh incidents

#: The GPU failures :func:`generate` draws from: Xid, what the failing rank's CUDA call reports, and
#: what the GPU needs before it runs work again (NVIDIA's Xid catalogue and memory-error guide).
FAILURES = {
    "fallen-off-bus": {"xid": 79, "cuda": "unspecified launch failure",
                       "needs": "the node power-cycled or the GPU reseated; replace it if it happens again"},
    "uncontained-ecc": {"xid": 95, "cuda": "uncorrectable ECC error encountered",
                        "needs": "a GPU reset before any application can run on it"},
    "contained-ecc": {"xid": 94, "cuda": "uncorrectable ECC error encountered",
                      "needs": "only the application restarted; reset the GPU when convenient to apply the row remap"},
    "nvlink": {"xid": 74, "cuda": "uncorrectable NVLink error detected during the execution",
               "needs": "the node drained and the NVLink fault diagnosed (reset, reseat or replace) before reuse"},
}

# PCI bus numbers of the eight GPUs on a few server layouts (index order), none of them the lecture's.
_BUS_LAYOUTS = (
    ("19", "3b", "4c", "5d", "9b", "bb", "cb", "db"),
    ("1b", "43", "52", "61", "9d", "c3", "d1", "df"),
    ("0f", "2d", "44", "5b", "89", "a8", "c0", "d8"),
    ("07", "0b", "48", "4c", "87", "8b", "c8", "cc"),
)
_HOST_PREFIXES = ("gpu-node-", "hgx-", "compute-", "ml-", "train-")
_MODELS = (("llm-3b", 3.2e9), ("llm-8b", 8.0e9), ("llm-13b", 13.0e9), ("llm-34b", 34.0e9), ("llm-70b", 70.6e9))
_GPUS = {  # nvidia-smi name, memory as nvidia-smi prints it, product name in lspci
    "H100 SXM": ("NVIDIA H100 80GB HBM3", 81559, "GH100 [H100 SXM5 80GB]"),
    "H200 SXM": ("NVIDIA H200", 143771, "GH100 [H200 SXM 141GB]"),
}
_DRIVERS = (("570.172.08", "12.8"), ("580.95.05", "13.0"))
_TIMEOUTS_S = (600, 900, 1200, 1800)
_LOG_EVERY = 100


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _dmesg_time(t: datetime) -> str:
    return t.strftime("%a %b ") + f"{t.day:2d} " + t.strftime("%H:%M:%S %Y")


def _torch_time(t: datetime, extra_ns: int) -> str:
    """PyTorch's log time stamp: month, day and time to the nanosecond (no year)."""
    return t.strftime("%m%d %H:%M:%S") + f".{t.microsecond * 1000 + extra_ns % 1000:09d}"


def _smi_table(when: datetime, gpu: str, buses, driver, ecc: dict[int, int] | None = None) -> list[str]:
    """An idle node's ``nvidia-smi`` table, column for column as the tool prints it."""
    name, mem_mib, _ = _GPUS[gpu]
    version, cuda = driver
    bar = "+-----------------------------------------+------------------------+----------------------+"
    lines = [_dmesg_time(when) + "       ", "+" + "-" * 89 + "+",
             f"| NVIDIA-SMI {version:<22} Driver Version: {version:<14} CUDA Version: {cuda:<9}|",
             "|-----------------------------------------+------------------------+----------------------+",
             "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
             "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
             "|                                         |                        |               MIG M. |",
             "|=========================================+========================+======================|"]
    rng = random.Random(f"{when}{buses}")
    for index, bus in enumerate(buses):
        errors = (ecc or {}).get(index, 0)
        lines.append(f"|{index:>4}  {name:<31}On  |   00000000:{bus.upper()}:00.0 Off |{errors:>21} |")
        lines.append(f"| N/A   {rng.randrange(30, 44)}C    P0{rng.randrange(68, 82):>15}W /  700W |"
                     f"{rng.randrange(1, 5):>8}MiB / {mem_mib:>6}MiB |{0:>7}%      Default |")
        lines.append("|                                         |                        |             Disabled |")
        lines.append(bar)
    lines += ["", "+" + "-" * 89 + "+",
              "| Processes:                                                                              |",
              "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |",
              "|        ID   ID                                                               Usage      |",
              "|" + "=" * 89 + "|",
              "|  No running processes found                                                             |",
              "+" + "-" * 89 + "+"]
    return lines


def generate(rng: random.Random) -> dict[str, str]:
    """A new 3 AM incident drawn from ``rng``: ``{artefact name: text}`` with the names of :data:`ARTEFACTS`.

    A multi-node pre-training job (16 to 64 nodes of 8 GPUs, ranks filled 8 a node in node order)
    stops because one GPU fails (one of :data:`FAILURES`) while an asynchronous checkpoint is being
    written. The logs follow the real tools' formats and fit the parsers of this module:
    ``train.log`` (launcher table, metrics every 100 steps, checkpoints, heartbeats),
    ``stderr.log`` (every rank's stderr, host-prefixed, in arrival order), the suspect node's
    ``dmesg -T``, and ``nvidia-smi`` on the suspect node and on a healthy one. The same generator
    state gives the same incident.
    """
    if not isinstance(rng, random.Random):
        raise TypeError("generate needs a random.Random, e.g. V.rng('incident')")
    nodes = rng.choice((16, 24, 32, 48, 64))
    world = nodes * 8
    prefix = rng.choice(_HOST_PREFIXES)
    hosts = [f"{prefix}{n:03d}" for n in sorted(rng.sample(range(1, 400), nodes))]
    bad_node = rng.randrange(1, nodes)  # rank 0's node writes train.log and stays up
    bad_local = rng.randrange(8)
    bad_rank = bad_node * 8 + bad_local
    failure = rng.choice(sorted(FAILURES))
    info = FAILURES[failure]
    buses = rng.choice(_BUS_LAYOUTS)
    gpu = rng.choice(sorted(_GPUS))
    driver = rng.choice(_DRIVERS)
    model, params = rng.choice(_MODELS)
    seq_len = rng.choice((4096, 8192))
    mfu = rng.uniform(0.32, 0.52)
    tokens_s = mfu * world * 989e12 / (6 * params)
    tokens_step = min((2 ** k for k in range(21, 26)), key=lambda t: abs(t / tokens_s - 4.0))
    step_time = tokens_step / tokens_s
    every = rng.choice((500, 1000, 1500, 2000, 2500, 3000))
    total = rng.randrange(40_000, 160_001, 10_000)
    started_ckpt = rng.randrange(4, total // every - 1) * every  # the save the failure interrupts
    resume = started_ckpt - rng.choice((2, 3)) * every
    timeout_s = rng.choice(_TIMEOUTS_S)
    ckpt_gb = 14 * params / 1e9  # BF16 weights + FP32 master weights, momentum, variance
    write_gb_s = rng.uniform(1.5, 6.0)
    op, numel = (("ALLREDUCE", 26_214_400) if params < 10e9 and rng.random() < 0.5
                 else (rng.choice(("_ALLGATHER_BASE", "_REDUCE_SCATTER_BASE")), rng.choice((67_108_864, 134_217_728))))
    parallel = "DDP" if op == "ALLREDUCE" else "FSDP full shard"
    job = rng.randrange(100_000, 999_999)
    launch = datetime(2026, rng.randrange(1, 12), rng.randrange(1, 28), rng.randrange(0, 24), rng.randrange(60),
                      rng.randrange(60))

    # ---- train.log (rank 0)
    train = [f"{_stamp(launch)} | INFO  | launcher  | job {job} {model}-pretrain: nnodes={nodes} nproc_per_node=8 "
             f"world_size={world} backend=nccl",
             f"{_stamp(launch)} | INFO  | launcher  | model={model} params={params:.2e} seq_len={seq_len} "
             f"global_batch={tokens_step // seq_len} tokens_per_step={tokens_step}",
             f"{_stamp(launch)} | INFO  | launcher  | gpu={gpu} parallelism: data_parallel={world} ({parallel}) | "
             f"checkpoint_every={every} steps (async) | nccl_timeout={timeout_s}s"]
    width = len(str(nodes - 1))
    for n, host in enumerate(hosts):
        train.append(f"{_stamp(launch)} | INFO  | launcher  | node_rank={n:<{width}} host={host} "
                     f"ranks={8 * n}-{8 * n + 7} gpus=0-7")
    t = launch + timedelta(seconds=rng.randrange(30, 60))
    train.append(f"{_stamp(t)} | INFO  | ckpt      | loading /lustre/ckpt/{model}/step_{resume:06d} "
                 f"({ckpt_gb:,.1f} GB, {world} shards)")
    t += timedelta(seconds=ckpt_gb / 8 + rng.randrange(5, 20))
    train.append(f"{_stamp(t)} | INFO  | ckpt      | resumed at step {resume}, data loader position restored "
                 f"(sample {resume * (tokens_step // seq_len):,})")
    events = []  # (time, line) of the metric and checkpoint lines after the resume
    loss = rng.uniform(2.2, 2.9)
    lr = rng.uniform(1.5e-4, 3e-4)
    step, clock = resume, t
    fail_time = None
    while fail_time is None:
        step += _LOG_EVERY
        spent = [step_time * rng.uniform(0.985, 1.015) for _ in range(_LOG_EVERY)]
        clock += timedelta(seconds=sum(spent))
        this = sum(spent) / _LOG_EVERY
        loss -= rng.uniform(0.0005, 0.003)
        lr *= 0.9995
        events.append((clock, f"{_stamp(clock)} | INFO  | train     | step {step}/{total} | loss {loss:.4f} | "
                              f"lr {lr:.2e} | grad_norm {rng.uniform(0.8, 1.0):.2f} | step_time_s {this:.2f} | "
                              f"tokens_per_s {round(tokens_step / this)}"))
        if step % every == 0:
            events.append((clock, f"{_stamp(clock)} | INFO  | ckpt      | async save of step_{step:06d} started "
                                  f"({ckpt_gb:,.1f} GB, {world} shards)"))
            took = ckpt_gb / write_gb_s
            if step < started_ckpt:
                done = clock + timedelta(seconds=took)
                events.append((done, f"{_stamp(done)} | INFO  | ckpt      | saved step_{step:06d} in {took:.1f} s"))
            else:
                fail_time = clock + timedelta(seconds=took * rng.uniform(0.15, 0.85))
    events.sort(key=lambda e: e[0])
    train += [line for _, line in events if _ <= fail_time]
    waited = 60
    while waited < timeout_s:
        beat = fail_time + timedelta(seconds=waited)
        train.append(f"{_stamp(beat)} | WARN  | heartbeat | no step completed for {waited} s; "
                     f"{world - 8}/{world} ranks waiting in {op}")
        waited += 60

    train[1] = train[1].replace("e+", "e")

    # ---- stderr.log (merged, host-prefixed, in arrival order)
    lines = []
    bad_host = hosts[bad_node]
    err_at = fail_time + timedelta(seconds=rng.uniform(0.6, 1.6))
    pg = "[PG ID 0 PG GUID 0(default_pg) Rank {r}]"
    nanos = rng.randrange(10 ** 9)
    lines.append((err_at, f"{bad_host}: [rank{bad_rank}]:[E{_torch_time(err_at, nanos)} ProcessGroupNCCL.cpp:1785] "
                          f"{pg.format(r=bad_rank)} Process group watchdog thread terminated with exception: "
                          f"CUDA error: {info['cuda']}"))
    lines.append((err_at + timedelta(milliseconds=3), f"{bad_host}: [rank{bad_rank}]:terminate called after throwing an "
                                                       "instance of 'c10::DistBackendError'"))
    agent = rng.randrange(2000, 9000)
    base_pid = rng.randrange(20_000, 90_000)
    kill = err_at + timedelta(seconds=rng.uniform(1.5, 2.5))
    for local in range(8):
        if local != bad_local:
            kill += timedelta(microseconds=150)
            lines.append((kill, f"{bad_host}: W{kill.strftime('%m%d %H:%M:%S')}.{kill.microsecond:06d} {agent} "
                                f"torch/distributed/elastic/multiprocessing/api.py:897] Sending process "
                                f"{base_pid + local} closing signal SIGTERM"))
    dead = kill + timedelta(seconds=0.4)
    lines.append((dead, f"{bad_host}: E{dead.strftime('%m%d %H:%M:%S')}.{dead.microsecond:06d} {agent} "
                        f"torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: -6) local_rank: "
                        f"{bad_local} (pid: {base_pid + bad_local}) of binary: /usr/bin/python3"))
    seq = rng.randrange(200_000, 3_000_000)
    fired = fail_time + timedelta(seconds=timeout_s)
    for rank in range(world):
        node = rank // 8
        if node == bad_node:
            continue
        at = fired + timedelta(seconds=rng.uniform(0.0, 2.5))
        ran = timeout_s * 1000 + rng.randrange(1, 120)
        host = hosts[node]
        lines.append((at, f"{host}: [rank{rank}]:[E{_torch_time(at, rng.randrange(10 ** 9))} ProcessGroupNCCL.cpp:616] "
                          f"[Rank {rank}] Watchdog caught collective operation timeout: WorkNCCL(SeqNum={seq}, "
                          f"OpType={op}, NumelIn={numel}, NumelOut={numel * (8 if op == '_ALLGATHER_BASE' else 1)}, "
                          f"Timeout(ms)={timeout_s * 1000}) ran for {ran} milliseconds before timing out."))
        later = at + timedelta(microseconds=rng.randrange(200, 900))
        lines.append((later, f"{host}: [rank{rank}]:[E{_torch_time(later, rng.randrange(10 ** 9))} "
                             f"ProcessGroupNCCL.cpp:1785] {pg.format(r=rank)} Exception (either an error or timeout) "
                             f"detected by watchdog at work: {seq}, last enqueued NCCL work: {seq + 2}, last completed "
                             f"NCCL work: {seq - 1}."))
    for node, host in enumerate(hosts):
        if node != bad_node:
            at = fired + timedelta(seconds=rng.uniform(3.0, 6.0))
            lines.append((at, f"{host}: E{at.strftime('%m%d %H:%M:%S')}.{at.microsecond:06d} {rng.randrange(2000, 9000)} "
                              f"torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: -6) local_rank: 0 "
                              f"(pid: {rng.randrange(20_000, 90_000)}) of binary: /usr/bin/python3"))
    # each host's lines reach the launcher in order, after a delay of their own
    delay = {host: timedelta(seconds=rng.uniform(0, 0.05)) for host in hosts}
    arrival = sorted(lines, key=lambda item: (item[0] + delay[item[1].split(":", 1)[0]], item[0]))
    stderr = [line for _, line in arrival]

    # ---- dmesg on the suspect node
    bus = buses[bad_local]
    boot = launch - timedelta(days=rng.randrange(1, 9), seconds=rng.randrange(86_400))
    dmesg = [
             f"[{_dmesg_time(boot)}] nvidia-nvlink: Nvlink Core is being initialized, major device number "
             f"{rng.randrange(500, 512)}",
             f"[{_dmesg_time(boot + timedelta(seconds=1))}] NVRM: loading NVIDIA UNIX x86_64 Kernel Module  "
             f"{driver[0]}  Release Build",
             f"[{_dmesg_time(boot + timedelta(seconds=16))}] mlx5_core 0000:{buses[0]}:00.1 mlx5_0: Port: 1 Link ACTIVE",
             f"[{_dmesg_time(boot + timedelta(seconds=16))}] mlx5_core 0000:{buses[4]}:00.1 mlx5_4: Port: 1 Link ACTIVE",
             f"[{_dmesg_time(launch - timedelta(seconds=6))}] nvidia-peermem: module loaded, using GPUDirect RDMA"]
    xid_at = fail_time - timedelta(seconds=rng.uniform(0.0, 0.6))
    when = _dmesg_time(xid_at)
    pid = base_pid + bad_local
    if failure == "fallen-off-bus":
        dmesg += [f"[{when}] pcieport 0000:{int(bus, 16) - 1:02x}:01.0: AER: Uncorrected (Fatal) error received: "
                  f"0000:{bus}:00.0",
                  f"[{when}] NVRM: GPU at PCI:0000:{bus}:00: GPU-{uuid.UUID(int=rng.getrandbits(128))}",
                  f"[{when}] NVRM: GPU Board Serial Number: {rng.randrange(10 ** 12, 10 ** 13)}",
                  f"[{when}] NVRM: Xid (PCI:0000:{bus}:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off "
                  "the bus.",
                  f"[{when}] NVRM: GPU 0000:{bus}:00.0: GPU has fallen off the bus.",
                  f"[{_dmesg_time(xid_at + timedelta(seconds=1))}] NVRM: A GPU crash dump has been created. If possible, "
                  "please run",
                  "                           NVRM: nvidia-bug-report.sh as root to collect this data before",
                  "                           NVRM: the NVIDIA kernel module is unloaded."]
    elif failure in ("uncontained-ecc", "contained-ecc"):
        text = ("Uncontained: FBHUB. RST: Yes, D-RST: No" if failure == "uncontained-ecc"
                else "Contained: SM (0x1). RST: No, D-RST: No")
        dmesg += [f"[{when}] NVRM: Xid (PCI:0000:{bus}:00): {info['xid']}, pid={pid}, name=python3, {text}",
                  f"[{when}] NVRM: Xid (PCI:0000:{bus}:00): 63, pid='<unknown>', name=<unknown>, Row Remapper: New "
                  "row marked for remapping, reset gpu to activate."]
    else:
        link = rng.randrange(18)
        dmesg += [f"[{when}] NVRM: Xid (PCI:0000:{bus}:00): 74, pid={pid}, name=python3, NVLink: fatal error "
                  f"detected on link {link}(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)"]

    dmesg.insert(0, f"$ sudo dmesg -T | tail -n {len([d for d in dmesg if d.startswith('[')])}")

    # ---- nvidia-smi on the suspect node and on a healthy neighbour
    looked = fail_time + timedelta(seconds=timeout_s + rng.randrange(300, 900))
    neighbour = hosts[bad_node - 1]
    if failure == "fallen-off-bus":
        product = _GPUS[gpu][2]
        suspect = ["$ nvidia-smi", f"Unable to determine the device handle for GPU0000:{bus.upper()}:00.0: Unknown Error",
                   "", "$ lspci | grep -i nvidia | grep -i 3d"]
        suspect += [f"{b}:00.0 3D controller: NVIDIA Corporation {product} (rev {'ff' if b == bus else 'a1'})"
                    for b in buses]
    else:
        ecc = {bad_local: rng.randrange(1, 4)} if failure != "nvlink" else None
        suspect = ["$ nvidia-smi"] + _smi_table(looked, gpu, buses, driver, ecc=ecc)
        if failure == "nvlink":
            suspect += ["", f"$ nvidia-smi nvlink -s -i {bad_local}",
                        f"GPU {bad_local}: {_GPUS[gpu][0]} (UUID: GPU-{uuid.UUID(int=rng.getrandbits(128))})"]
            suspect += [f"\t Link {k}: " + ("<inactive>" if k == link else "26.562 GB/s") for k in range(18)]
    healthy = [f"$ ssh {neighbour} nvidia-smi"] + _smi_table(looked, gpu, buses, driver)
    return {
        "train.log": "\n".join(train) + "\n",
        "stderr.log": "\n".join(stderr) + "\n",
        "dmesg-suspect-node.txt": "\n".join(dmesg) + "\n",
        "nvidia-smi-suspect-node.txt": "\n".join(suspect) + "\n",
        "nvidia-smi-healthy-node.txt": "\n".join(healthy) + "\n",
    }
