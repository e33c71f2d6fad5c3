"""Parsers of real tool output: the one place lessons read command output with code.

- :func:`parse_nccl_tests` — the table printed by nccl-tests (``all_reduce_perf`` and friends)
- :func:`parse_ib_write_bw` — the result table of perftest's ``ib_write_bw``/``ib_read_bw``
- :func:`parse_ibstat` — ``ibstat`` (infiniband-diags), one row a port
- :func:`parse_lfs_getstripe` — Lustre ``lfs getstripe`` of one file

Each returns plain pandas/Python data with units in the names, and raises ValueError on
text that is not the expected tool's output (never a silent empty result).

The inverse direction writes the same tools' output, for artefacts and for graded tasks
checked on hidden cases: :func:`format_nccl_tests`, :func:`format_ibstat` and
:func:`format_lfs_getstripe` print given data in each tool's layout, and
:func:`random_nccl_tests`, :func:`random_ibstat` and :func:`random_lfs_getstripe` draw a
plausible run, node or file from a ``random.Random``.
"""

from __future__ import annotations

import random
import re

import pandas as pd

__all__ = [
    "parse_nccl_tests", "nccl_tests_summary", "parse_ib_write_bw",
    "parse_ibstat", "unhealthy_ib_ports", "parse_lfs_getstripe",
    "format_nccl_tests", "random_nccl_tests", "format_ibstat", "random_ibstat",
    "format_lfs_getstripe", "random_lfs_getstripe",
]

_NCCL_COLUMNS = [
    "size_bytes", "count", "type", "redop", "root",
    "oop_time_us", "oop_algbw_gb_s", "oop_busbw_gb_s", "oop_wrong",
    "ip_time_us", "ip_algbw_gb_s", "ip_busbw_gb_s", "ip_wrong",
]


def _number(token: str) -> float:
    return float("nan") if token.upper() == "N/A" else float(token)


def parse_nccl_tests(text: str) -> pd.DataFrame:
    """The results table of an nccl-tests run, one row a message size.

    Columns: ``size_bytes, count, type, redop, root`` then, for out-of-place (``oop_``) and
    in-place (``ip_``): ``time_us, algbw_gb_s, busbw_gb_s, wrong``. Comment lines (``#``)
    are skipped. nccl-tests reports GB/s as 1e9 bytes/s (doc/PERFORMANCE.md).
    """
    rows = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) != 13 or not fields[0].isdigit():
            continue
        rows.append([
            int(fields[0]), int(fields[1]), fields[2], fields[3], int(fields[4]),
            _number(fields[5]), _number(fields[6]), _number(fields[7]), fields[8],
            _number(fields[9]), _number(fields[10]), _number(fields[11]), fields[12],
        ])
    if not rows:
        raise ValueError("no nccl-tests result rows found (expected 13 columns: size count type redop root time algbw busbw #wrong ...)")
    return pd.DataFrame(rows, columns=_NCCL_COLUMNS)


def nccl_tests_summary(text: str) -> dict:
    """Ranks, peak out-of-place busbw and the size where it occurs, and the reported average busbw."""
    table = parse_nccl_tests(text)
    ranks = len(re.findall(r"^#\s+Rank\s+\d+", text, flags=re.MULTILINE))
    avg = re.search(r"Avg bus bandwidth\s*:\s*([0-9.]+)", text)
    best = table["oop_busbw_gb_s"].idxmax()
    return {
        "ranks": ranks or None,
        "peak_busbw_gb_s": float(table.loc[best, "oop_busbw_gb_s"]),
        "peak_size_bytes": int(table.loc[best, "size_bytes"]),
        "avg_busbw_gb_s": float(avg.group(1)) if avg else None,
        "wrong": int(pd.to_numeric(table[["oop_wrong", "ip_wrong"]].stack(), errors="coerce").fillna(0).sum()),
    }


def parse_ib_write_bw(text: str) -> pd.DataFrame:
    """perftest bandwidth table: ``bytes, iterations, bw_peak, bw_average, msg_rate_mpps``.

    The bandwidth columns are named after the unit in the header: ``_gbit_s`` for
    ``--report_gbits`` (Gb/sec), ``_mbyte_s`` for the default MB/sec.
    """
    header = re.search(r"BW peak\[(Gb|MB)/sec\]", text)
    if header is None:
        raise ValueError("no perftest header line ('#bytes #iterations BW peak[...]') found")
    unit = "gbit_s" if header.group(1) == "Gb" else "mbyte_s"
    rows = []
    for line in text[header.end():].splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0].isdigit() and fields[1].isdigit():
            rate = float(fields[4]) if len(fields) >= 5 else float("nan")
            rows.append([int(fields[0]), int(fields[1]), float(fields[2]), float(fields[3]), rate])
    if not rows:
        raise ValueError("the perftest table has no result rows")
    return pd.DataFrame(rows, columns=["bytes", "iterations", f"bw_peak_{unit}", f"bw_average_{unit}", "msg_rate_mpps"])


def parse_ibstat(text: str) -> pd.DataFrame:
    """``ibstat`` output as one row a port: ``ca, ca_type, firmware, port, state,
    physical_state, rate_gbit_s, base_lid, sm_lid, link_layer``."""
    rows: list[dict] = []
    ca: dict = {}
    port: dict | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        start = re.match(r"CA '([^']+)'", line)
        if start:
            ca, port = {"ca": start.group(1), "ca_type": "", "firmware": ""}, None
            continue
        new_port = re.match(r"Port (\d+):$", line)
        if new_port and ca:
            port = {**{k: ca[k] for k in ("ca", "ca_type", "firmware")}, "port": int(new_port.group(1)),
                    "state": "", "physical_state": "", "rate_gbit_s": float("nan"),
                    "base_lid": None, "sm_lid": None, "link_layer": ""}
            rows.append(port)
            continue
        if ":" not in line or not ca:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        if port is None:
            if key == "CA type":
                ca["ca_type"] = value
            elif key == "Firmware version":
                ca["firmware"] = value
            continue
        if key == "State":
            port["state"] = value
        elif key == "Physical state":
            port["physical_state"] = value
        elif key == "Rate":
            port["rate_gbit_s"] = float(value.split()[0])
        elif key == "Base lid":
            port["base_lid"] = int(value, 0)
        elif key == "SM lid":
            port["sm_lid"] = int(value, 0)
        elif key == "Link layer":
            port["link_layer"] = value
    if not rows:
        raise ValueError("no 'CA ...' / 'Port N:' blocks found: is this ibstat output?")
    return pd.DataFrame(rows)


def unhealthy_ib_ports(text: str, expected_rate_gbit_s: float) -> list[str]:
    """Sorted CA names of InfiniBand ports that are not Active/LinkUp or run below the expected rate."""
    ports = parse_ibstat(text)
    ib = ports[ports["link_layer"].str.lower() == "infiniband"]
    bad = ib[(ib["state"] != "Active") | (ib["physical_state"] != "LinkUp") | (ib["rate_gbit_s"] < expected_rate_gbit_s)]
    return sorted(bad["ca"].tolist())


def parse_lfs_getstripe(text: str) -> dict:
    """The layout of the first file in ``lfs getstripe`` output.

    Returns ``path, stripe_count, stripe_size_bytes, pattern, layout_gen, stripe_offset`` and
    ``osts`` (the ``obdidx`` column in stripe order).
    """
    lines = [line.rstrip() for line in text.splitlines()]
    if not lines or "lmm_stripe_count" not in text:
        raise ValueError("no 'lmm_stripe_count' field: expected 'lfs getstripe <file>' output")
    layout: dict = {"path": lines[0].strip(), "osts": []}
    fields = {"lmm_stripe_count": "stripe_count", "lmm_stripe_size": "stripe_size_bytes",
              "lmm_pattern": "pattern", "lmm_layout_gen": "layout_gen", "lmm_stripe_offset": "stripe_offset"}
    in_table = False
    for line in lines[1:]:
        stripped = line.strip()
        if not stripped:
            if in_table:
                break
            continue
        key = stripped.split(":", 1)[0]
        if key in fields:
            value = stripped.split(":", 1)[1].strip()
            layout[fields[key]] = value if key == "lmm_pattern" else int(value)
        elif stripped.startswith("obdidx"):
            in_table = True
        elif in_table:
            parts = stripped.split()
            if parts and parts[0].isdigit():
                layout["osts"].append(int(parts[0]))
            else:
                break
    return layout



# ---------------------------------------------------------------- writing the tools' output

_BUSBW_FACTORS = {"all_reduce": lambda n: 2 * (n - 1) / n, "all_gather": lambda n: (n - 1) / n,
                  "reduce_scatter": lambda n: (n - 1) / n, "alltoall": lambda n: (n - 1) / n,
                  "broadcast": lambda n: 1.0, "reduce": lambda n: 1.0}


def _time_text(us: float) -> str:
    if us < 100:
        return f"{us:9.2f}"
    if us < 10000:
        return f"{us:9.1f}"
    return f"{us:9.0f}"


def format_nccl_tests(rows: list[dict], ranks: list[tuple[str, int, str]], dtype: str = "float",
                      redop: str = "sum", warmup_iters: int = 5, iters: int = 20) -> str:
    """nccl-tests output (as ``all_reduce_perf`` prints it) for the given result rows.

    ``rows``: dicts with ``size_bytes``, ``oop_time_us``, ``oop_algbw_gb_s``, ``oop_busbw_gb_s``,
    ``ip_time_us``, ``ip_algbw_gb_s``, ``ip_busbw_gb_s`` (and optional ``oop_wrong``/``ip_wrong``).
    ``ranks``: ``(host, device, gpu name)`` a rank. The "Avg bus bandwidth" line is the mean
    of every busbw printed (both columns), as nccl-tests reports it.
    """
    if not rows or not ranks:
        raise ValueError("give at least one row and one rank")
    elem = 4 if dtype in ("float", "int32", "uint32") else 2 if dtype in ("half", "bfloat16") else 8
    sizes = [int(r["size_bytes"]) for r in rows]
    lines = [f"# nThread 1 nGpus 1 minBytes {min(sizes)} maxBytes {max(sizes)} step: 2(factor) warmup iters: "
             f"{warmup_iters} iters: {iters} agg iters: 1 validation: 1 graph: 0", "#", "# Using devices"]
    pid = 100000 + (sum(map(ord, ranks[0][0])) * 7919) % 800000
    for index, (host, device, gpu) in enumerate(ranks):
        lines.append(f"#  Rank {index:2d} Group  0 Pid {pid + index:6d} on {host:>10} device {device:2d} "
                     f"[0x{(0x18 + 0x11 * device) % 0x100:02x}] {gpu}")
    lines += ["#",
              "#                                                              out-of-place                       in-place          ",
              "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong",
              "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)       "]
    busbws = []
    for r in rows:
        size = int(r["size_bytes"])
        cells = [f"{size:12d}", f"{size // elem:14d}", f"{dtype:>10}", f"{redop:>8}", f"{-1:8d}"]
        for prefix in ("oop", "ip"):
            cells += [_time_text(float(r[f"{prefix}_time_us"])), f"{float(r[f'{prefix}_algbw_gb_s']):8.2f}",
                      f"{float(r[f'{prefix}_busbw_gb_s']):8.2f}", f"{str(r.get(f'{prefix}_wrong', 0)):>7}"]
            busbws.append(round(float(r[f"{prefix}_busbw_gb_s"]), 2))
        lines.append("".join(cells))
    lines += ["# Out of bounds values : 0 OK", f"# Avg bus bandwidth    : {sum(busbws) / len(busbws):.4f} ", "#"]
    return "\n".join(lines) + "\n"


def random_nccl_tests(rng: random.Random, nodes: int = 2, gpus_per_node: int = 8, peak_busbw_gb_s: float = 360.0,
                      latency_us: float = 60.0, min_bytes: int = 8, max_bytes: int = 8 * 2 ** 30,
                      collective: str = "all_reduce", gpu: str = "NVIDIA H100 80GB HBM3",
                      host_prefix: str = "gpu-node", in_place_ahead: bool | None = None) -> str:
    """A plausible nccl-tests run drawn from ``rng``: time = latency + size ÷ bandwidth, with noise.

    busbw rises with the message size towards about ``peak_busbw_gb_s``; the largest
    size is not always the fastest; with ``in_place_ahead`` (default: drawn) the in-place
    columns peak above the out-of-place ones, so the two cannot be confused. Sizes double
    from ``min_bytes`` to ``max_bytes``.
    """
    if collective not in _BUSBW_FACTORS:
        raise ValueError(f"unknown collective {collective!r}; known: {', '.join(_BUSBW_FACTORS)}")
    n = int(nodes) * int(gpus_per_node)
    if n < 2:
        raise ValueError("a collective needs at least 2 ranks")
    factor = _BUSBW_FACTORS[collective](n)
    peak_alg = peak_busbw_gb_s / factor
    first = rng.randrange(1, 60)
    hosts = [f"{host_prefix}{first + i:02d}" for i in range(int(nodes))]
    ranks = [(hosts[i // gpus_per_node], i % gpus_per_node, gpu) for i in range(n)]
    if in_place_ahead is None:
        in_place_ahead = rng.random() < 0.5
    rows = []
    size = int(min_bytes)
    sizes = []
    while size <= max_bytes:
        sizes.append(size)
        size *= 2
    slow_tail = rng.random() < 0.6  # the largest sizes often dip a little below the peak
    for i, size in enumerate(sizes):
        row = {"size_bytes": size}
        for prefix in ("oop", "ip"):
            noise = 1 + rng.uniform(-0.015, 0.015)
            if prefix == "ip":
                noise *= (1.012 if in_place_ahead else 0.988)
            if slow_tail and i >= len(sizes) - 2:
                noise *= 0.985
            t = (latency_us * rng.uniform(0.97, 1.03) + size / (peak_alg * 1e9) * 1e6) / noise
            alg = size / (t * 1e-6) / 1e9
            row[f"{prefix}_time_us"] = float(_time_text(t))
            row[f"{prefix}_algbw_gb_s"] = round(alg, 2)
            row[f"{prefix}_busbw_gb_s"] = round(alg * factor, 2)
        rows.append(row)
    return format_nccl_tests(rows, ranks)


def format_ibstat(ports: list[dict]) -> str:
    """``ibstat`` output for one port a CA. Each dict: ``ca``, ``state``, ``physical_state``,
    ``rate`` (Gb/s), ``link_layer`` and optionally ``ca_type``, ``firmware``, ``node_guid``,
    ``base_lid``, ``sm_lid``, ``capability_mask``."""
    lines = []
    for p in ports:
        guid = p.get("node_guid", "0x0000000000000000")
        ethernet = str(p["link_layer"]).lower() == "ethernet"
        lines += [f"CA '{p['ca']}'", f"\tCA type: {p.get('ca_type', 'MT4129')}", "\tNumber of ports: 1",
                  f"\tFirmware version: {p.get('firmware', '28.39.1002')}", "\tHardware version: 0",
                  f"\tNode GUID: {guid}", f"\tSystem image GUID: {guid}", "\tPort 1:",
                  f"\t\tState: {p['state']}", f"\t\tPhysical state: {p['physical_state']}",
                  f"\t\tRate: {p['rate']:g}" if isinstance(p["rate"], (int, float)) else f"\t\tRate: {p['rate']}",
                  f"\t\tBase lid: {p.get('base_lid', 0)}", "\t\tLMC: 0", f"\t\tSM lid: {p.get('sm_lid', 0 if ethernet else 1)}",
                  f"\t\tCapability mask: {p.get('capability_mask', '0x00010000' if ethernet else '0xa751e848')}",
                  f"\t\tPort GUID: {guid}", f"\t\tLink layer: {p['link_layer']}"]
    return "\n".join(lines) + "\n"


_IB_FAULTS = {
    "half_rate": lambda rate: {"state": "Active", "physical_state": "LinkUp", "rate": rate / 2},
    "down": lambda rate: {"state": "Down", "physical_state": "Polling", "rate": 10, "base_lid": 65535, "sm_lid": 0},
    "no_subnet_manager": lambda rate: {"state": "Initializing", "physical_state": "LinkUp", "rate": rate,
                                       "base_lid": 65535, "sm_lid": 0},
    "disabled": lambda rate: {"state": "Down", "physical_state": "Disabled", "rate": 10, "base_lid": 65535, "sm_lid": 0},
    "armed": lambda rate: {"state": "Armed", "physical_state": "LinkUp", "rate": rate},
}


def random_ibstat(rng: random.Random, ib_ports: int = 8, rate_gbit_s: float = 400, faults: int | None = None,
                  ethernet_ports: int = 2, degraded_ethernet: bool | None = None) -> tuple[str, list[str]]:
    """A node's ``ibstat`` drawn from ``rng``, and the sorted CA names of its unhealthy InfiniBand ports.

    ``faults`` InfiniBand ports (default: 0 to 3, drawn) are broken in one of these ways: half
    rate, Down/Polling, Initializing (no subnet manager), Down/Disabled, Armed. The Ethernet
    ports (storage network) are sometimes slower than ``rate_gbit_s``, which must not count.
    """
    n = int(ib_ports)
    k = rng.randrange(0, 4) if faults is None else int(faults)
    if not 0 <= k <= n:
        raise ValueError("faults must be between 0 and the number of InfiniBand ports")
    base = rng.randrange(0x100000, 0xFFFFFF)
    broken = set(rng.sample(range(n), k))
    ports, bad = [], []
    for i in range(n):
        port = {"ca": f"mlx5_{i}", "ca_type": "MT4129" if rate_gbit_s <= 400 else "MT4131",
                "node_guid": f"0x946dae0300{(base + 16 * i) % 0xFFFFFF:06x}", "state": "Active",
                "physical_state": "LinkUp", "rate": rate_gbit_s, "base_lid": rng.randrange(2, 4000), "sm_lid": 1,
                "link_layer": "InfiniBand"}
        if i in broken:
            port.update(_IB_FAULTS[rng.choice(sorted(_IB_FAULTS))](rate_gbit_s))
            bad.append(port["ca"])
        ports.append(port)
    slow_eth = rng.random() < 0.5 if degraded_ethernet is None else degraded_ethernet
    for j in range(int(ethernet_ports)):
        ports.append({"ca": f"mlx5_{n + j}", "ca_type": "MT41692", "firmware": "32.39.1002",
                      "node_guid": f"0x5c25730300{(base + 8 * j) % 0xFFFFFF:06x}", "state": "Active",
                      "physical_state": "LinkUp", "rate": rate_gbit_s / 2 if slow_eth else rate_gbit_s,
                      "base_lid": 0, "sm_lid": 0, "link_layer": "Ethernet"})
    return format_ibstat(ports), sorted(bad)


def format_lfs_getstripe(path: str, stripe_size_bytes: int, osts: list[int], objids: list[int] | None = None,
                         layout_gen: int = 0) -> str:
    """``lfs getstripe FILE`` output for a RAID-0 file striped over ``osts`` (obdidx, in stripe order)."""
    if not osts:
        raise ValueError("give at least one OST")
    objids = objids or [10_000_000 + 97 * i for i in range(len(osts))]
    lines = [path, f"lmm_stripe_count:  {len(osts)}", f"lmm_stripe_size:   {int(stripe_size_bytes)}",
             "lmm_pattern:       raid0", f"lmm_layout_gen:    {layout_gen}", f"lmm_stripe_offset: {osts[0]}",
             "\tobdidx\t\t objid\t\t objid\t\t group"]
    for ost, obj in zip(osts, objids):
        lines.append(f"\t{ost:6d}\t{obj:14d}\t{hex(obj):>12}\t{0:14d}")
    return "\n".join(lines) + "\n"


def random_lfs_getstripe(rng: random.Random, total_osts: int = 24) -> str:
    """A checkpoint shard's ``lfs getstripe`` drawn from ``rng``: 2-16 stripes of 1-16 MiB on
    consecutive OSTs (wrapping round the file system's ``total_osts``)."""
    count = rng.choice([2, 4, 6, 8, 12, 16])
    if count > total_osts:
        raise ValueError("more stripes than OSTs")
    size = rng.choice([1, 2, 4, 8, 16]) * 2 ** 20
    start = rng.randrange(total_osts)
    osts = [(start + i) % total_osts for i in range(count)]
    first = rng.randrange(1_000_000, 90_000_000)
    step = rng.randrange(60, 200)
    step_no = rng.randrange(1000, 99000, 500)
    rank = rng.randrange(0, 512)
    path = f"/lustre/ckpt/run-{rng.randrange(100, 999)}/step_{step_no:06d}/model_optim_rank{rank:03d}.pt"
    return format_lfs_getstripe(path, size, osts, [first + step * i for i in range(count)])
