"""Parsers of real tool output: the one place lessons read command output with code.

- :func:`parse_nccl_tests` — the table printed by nccl-tests (``all_reduce_perf`` and friends)
- :func:`parse_ib_write_bw` — the result table of perftest's ``ib_write_bw``/``ib_read_bw``
- :func:`parse_ibstat` — ``ibstat`` (infiniband-diags), one row a port
- :func:`parse_lfs_getstripe` — Lustre ``lfs getstripe`` of one file

Each returns plain pandas/Python data with units in the names, and raises ValueError on
text that is not the expected tool's output (never a silent empty result).
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = [
    "parse_nccl_tests", "nccl_tests_summary", "parse_ib_write_bw",
    "parse_ibstat", "unhealthy_ib_ports", "parse_lfs_getstripe",
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
