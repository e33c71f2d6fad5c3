"""Charts for lesson 5 (cloud AI platforms and cost). Every number comes from ``estimates``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .. import estimates
from .style import PALETTE, dollar_axis, new_figure, usd

__all__ = ["cost_time_vs_gpus", "cost_time_vs_mfu", "spot_vs_on_demand", "price_per_gpu_hour", "price_per_exaflop",
           "own_vs_rent"]

_CLOUD_COLOURS = {"aws": PALETTE[1], "gcp": PALETTE[0], "azure": PALETTE[2], "neocloud": PALETTE[4]}


def _twin(ax, colour_left: str, colour_right: str):
    right = ax.twinx()
    right.spines[["top"]].set_visible(False)
    ax.tick_params(axis="y", colors=colour_left)
    right.tick_params(axis="y", colors=colour_right)
    return right


def cost_time_vs_gpus(
    params: float,
    tokens: float,
    peak_flop_s_per_gpu: float,
    mfu: float,
    usd_per_gpu_hour: float,
    gpu_counts: Sequence[int] = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
    mark: int | None = None,
) -> Figure:
    """Wall time (days, log scale) and cost (USD) of one run against the GPU count.

    Teaches: at a fixed MFU more GPUs shorten the run but do not change the bill
    (GPU-hours are 6ND ÷ (peak · MFU)).
    """
    counts = [int(g) for g in gpu_counts]
    runs = [estimates.training_run(params, tokens, g, peak_flop_s_per_gpu, mfu, usd_per_gpu_hour) for g in counts]
    fig, ax = new_figure(8, 4.5)
    ax.plot(counts, [r["wall_time_days"] for r in runs], "o-", color=PALETTE[0], label="wall time (days)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("GPUs")
    ax.set_ylabel("wall time (days)", color=PALETTE[0])
    right = _twin(ax, PALETTE[0], PALETTE[1])
    right.plot(counts, [r["cost_usd"] for r in runs], "s--", color=PALETTE[1], label="cost (USD)")
    right.set_ylabel("cost (USD)", color=PALETTE[1])
    dollar_axis(right, "y")
    cost = runs[0]["cost_usd"]
    right.set_ylim(0, cost * 1.6)
    if mark is not None:
        ax.axvline(int(mark), color="#999999", lw=1, ls=":")
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_title(f"{params / 1e9:g}B parameters, {tokens / 1e12:g}T tokens, MFU {mfu:.0%}: "
                 f"more GPUs finish sooner for the same {usd(cost)}", fontsize=10)
    return fig


def cost_time_vs_mfu(
    params: float,
    tokens: float,
    gpus: int,
    peak_flop_s_per_gpu: float,
    usd_per_gpu_hour: float,
    mfus: Sequence[float] = tuple(np.round(np.arange(0.15, 0.651, 0.05), 2)),
    mark: float | None = None,
) -> Figure:
    """Cost (USD) and wall time (days) against MFU: both fall as 1/MFU.

    Teaches: MFU is a cost lever; going from 30% to 45% cuts the bill by a third.
    """
    values = [float(m) for m in mfus]
    runs = [estimates.training_run(params, tokens, gpus, peak_flop_s_per_gpu, m, usd_per_gpu_hour) for m in values]
    fig, ax = new_figure(8, 4.5)
    costs = [r["cost_usd"] for r in runs]
    ax.plot(values, costs, "o-", color=PALETTE[1])
    ax.set_xlabel("model FLOPs utilisation (MFU)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    ax.set_ylabel("cost (USD)", color=PALETTE[1])
    dollar_axis(ax, "y")
    top = max(costs) * 1.1
    ax.set_ylim(0, top)
    # one curve serves both axes: wall time is cost ÷ (GPUs × price) ÷ 24, the same 1/MFU shape
    days_per_usd = runs[0]["wall_time_days"] / runs[0]["cost_usd"]
    right = _twin(ax, PALETTE[1], PALETTE[0])
    right.set_ylim(0, top * days_per_usd)
    right.set_ylabel(f"wall time on {gpus} GPUs (days)", color=PALETTE[0])
    if mark is not None:
        at = estimates.training_run(params, tokens, gpus, peak_flop_s_per_gpu, float(mark), usd_per_gpu_hour)
        ax.axvline(float(mark), color="#999999", lw=1, ls=":")
        ax.annotate(f"{usd(at['cost_usd'])}, {at['wall_time_days']:.1f} days", (float(mark), at["cost_usd"]),
                    xytext=(6, 8), textcoords="offset points", fontsize=8)
    ax.set_title("Cost and wall time both scale as 1 / MFU (read days on the right axis)", fontsize=10)
    return fig


def spot_vs_on_demand(
    work_hours: float,
    gpus: int,
    on_demand_usd_per_gpu_hour: float,
    spot_discount: float,
    checkpoint_interval_hours: float,
    restart_hours: float,
    rates_per_hour: Sequence[float] | None = None,
) -> Figure:
    """Expected cost of a spot run against the job's interruption rate, beside the on-demand cost.

    Teaches: spot wins until interruptions (lost work + restarts) eat the discount; the
    crossing point moves right when checkpoints are frequent and restarts fast.
    """
    tau, restart = float(checkpoint_interval_hours), float(restart_hours)
    ceiling = 0.95 / (tau / 2 + restart)  # keep λ(τ/2 + R) below 1
    if rates_per_hour is None:
        rates_per_hour = np.linspace(0, min(ceiling, 2.0), 60)
    rates = [float(r) for r in rates_per_hour if float(r) < 1 / (tau / 2 + restart)]
    spot = [estimates.spot_expected_cost_usd(work_hours, gpus, on_demand_usd_per_gpu_hour, spot_discount, r, tau, restart) for r in rates]
    on_demand = float(work_hours) * int(gpus) * float(on_demand_usd_per_gpu_hour)
    fig, ax = new_figure(8, 4.5)
    ax.plot(rates, spot, color=PALETTE[2], lw=2, label=f"spot, {spot_discount:.0%} off, checkpoint every {tau:g} h, restart {restart:g} h")
    ax.axhline(on_demand, color=PALETTE[1], lw=2, ls="--", label="on-demand (no interruptions)")
    # break-even: (1 - d) / (1 - λ(τ/2+R)) = 1  →  λ = d / (τ/2 + R)
    breakeven = float(spot_discount) / (tau / 2 + restart)
    if rates and breakeven <= rates[-1]:
        ax.axvline(breakeven, color="#999999", lw=1, ls=":")
        ax.annotate(f"break-even ≈ {breakeven:.2f} interruptions/h", (breakeven, on_demand),
                    xytext=(6, -14), textcoords="offset points", fontsize=8)
    ax.set_xlabel("job interruptions per hour")
    ax.set_ylabel("expected cost (USD)")
    dollar_axis(ax, "y")
    ax.set_ylim(0, min(max(max(spot, default=on_demand), on_demand) * 1.1, 3 * on_demand))
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{work_hours:g} h of work on {gpus} GPUs: when does spot stop paying?", fontsize=10)
    return fig


def price_per_gpu_hour(instances: pd.DataFrame) -> Figure:
    """Horizontal bars of USD per GPU-hour for each priced instance, coloured by cloud.

    Rows without a price are left out (and named in the title). Prices are illustrative
    and dated: see the table's ``price_date`` column.
    """
    priced = instances.dropna(subset=["on_demand_usd_per_hour"]).copy()
    if priced.empty:
        raise ValueError("no instance has a price")
    priced["usd_per_gpu_hour"] = [
        estimates.price_per_gpu_hour(p, g) for p, g in zip(priced["on_demand_usd_per_hour"], priced["gpus"])
    ]
    priced = priced.sort_values("usd_per_gpu_hour")
    missing = instances.loc[instances["on_demand_usd_per_hour"].isna(), "instance"].tolist()
    fig, ax = new_figure(8, 0.45 * len(priced) + 1.6)
    labels = [f"{row.instance} ({row.gpu_model})" for row in priced.itertuples()]
    colours = [_CLOUD_COLOURS.get(str(c), PALETTE[7]) for c in priced["cloud"]]
    ax.barh(range(len(priced)), priced["usd_per_gpu_hour"], color=colours)
    ax.set_yticks(range(len(priced)), labels)
    ax.invert_yaxis()
    for y, value in enumerate(priced["usd_per_gpu_hour"]):
        ax.annotate(f"${value:.2f}", (value, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlabel("on-demand USD per GPU-hour (illustrative, dated: see price_date)")
    handles = [Patch(color=c, label=k.upper()) for k, c in _CLOUD_COLOURS.items()]
    ax.set_xlim(0, priced["usd_per_gpu_hour"].max() * 1.15)
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    title = "Price per GPU-hour"
    if missing:
        title += f" (no verified price: {', '.join(missing)})"
    ax.set_title(title, fontsize=10)
    return fig


def _offers(instances: pd.DataFrame, neoclouds: pd.DataFrame | None) -> pd.DataFrame:
    """Priced offers as ``label, kind, gpu_model, usd_per_gpu_hour`` (instances and, if given, neoclouds)."""
    priced = instances.dropna(subset=["on_demand_usd_per_hour"])
    rows = [{"label": f"{r.instance} ({r.gpu_model})", "kind": str(r.cloud), "gpu_model": str(r.gpu_model),
             "usd_per_gpu_hour": estimates.price_per_gpu_hour(r.on_demand_usd_per_hour, r.gpus)}
            for r in priced.itertuples()]
    if neoclouds is not None:
        rows += [{"label": f"{r.provider} {r.gpu_model}", "kind": "neocloud", "gpu_model": str(r.gpu_model),
                  "usd_per_gpu_hour": estimates.price_per_gpu_hour(r.usd_per_hour, r.gpus)}
                 for r in neoclouds.itertuples()]
    if not rows:
        raise ValueError("no offer has a price")
    return pd.DataFrame(rows)


def price_per_exaflop(instances: pd.DataFrame, gpus: pd.DataFrame, neoclouds: pd.DataFrame | None = None,
                      mfu: float = 0.4) -> Figure:
    """USD per 10^18 useful FLOPs (dense BF16 peak × MFU) for every priced offer, cheapest first.

    Teaches: a faster GPU at a higher hourly price can be the cheaper one per unit of work,
    and the same GPU costs very different amounts from different sellers.
    """
    peaks = dict(zip(gpus["gpu_model"], gpus["bf16_dense_tflops"]))
    offers = _offers(instances, neoclouds)
    missing = sorted(set(offers["gpu_model"]) - set(peaks))
    if missing:
        raise ValueError(f"no peak FLOP/s for: {', '.join(missing)}")
    offers["usd_per_exaflop"] = [estimates.usd_per_useful_exaflop(p, peaks[g] * 1e12, mfu)
                                 for p, g in zip(offers["usd_per_gpu_hour"], offers["gpu_model"])]
    offers = offers.sort_values("usd_per_exaflop").reset_index(drop=True)
    fig, ax = new_figure(8, 0.36 * len(offers) + 1.5)
    ax.barh(range(len(offers)), offers["usd_per_exaflop"], color=[_CLOUD_COLOURS.get(k, PALETTE[7]) for k in offers["kind"]])
    ax.set_yticks(range(len(offers)), offers["label"], fontsize=8)
    ax.invert_yaxis()
    for y, value in enumerate(offers["usd_per_exaflop"]):
        ax.annotate(f"${value:.2f}", (value, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, offers["usd_per_exaflop"].max() * 1.18)
    ax.set_xlabel(f"USD per 10¹⁸ useful FLOPs at {mfu:.0%} MFU (dense BF16; list prices, dated)")
    kinds = [k for k in _CLOUD_COLOURS if k in set(offers["kind"])]
    ax.legend(handles=[Patch(color=_CLOUD_COLOURS[k], label=k.upper() if k != "neocloud" else "neocloud") for k in kinds],
              fontsize=8, loc="upper right")
    ax.set_title("What a unit of training work costs, by offer", fontsize=10)
    return fig


def own_vs_rent(server_usd: float, gpus_per_server: int, years: float, server_kw: float, usd_per_kwh: float,
                pue: float, rent_usd_per_gpu_hour: dict[str, float],
                utilisations: Sequence[float] = tuple(np.round(np.arange(0.1, 1.001, 0.05), 2)),
                other_usd_per_server_year: float = 0.0) -> Figure:
    """Cost per used GPU-hour of an owned server against utilisation, beside flat rental prices.

    Teaches: owning costs the same every hour, busy or idle, so its price per useful hour
    falls as 1/utilisation; each rental price crosses it at a break-even utilisation.
    """
    values = [float(u) for u in utilisations]
    own = [estimates.on_prem_gpu_hour_usd(server_usd, gpus_per_server, years, server_kw, usd_per_kwh, pue, u,
                                          other_usd_per_server_year)["total"] for u in values]
    fig, ax = new_figure(8, 4.5)
    ax.plot(values, own, "o-", color=PALETTE[0], lw=2, label=f"owned: {years:g}-year life, {pue:g} PUE, ${usd_per_kwh:g}/kWh")
    top = max(max(rent_usd_per_gpu_hour.values()) * 1.25, own[0] * 0.5)
    for i, (label, price) in enumerate(rent_usd_per_gpu_hour.items()):
        colour = PALETTE[(i + 1) % len(PALETTE)]
        ax.axhline(price, color=colour, ls="--", lw=1.5, label=f"rent: {label} (${price:.2f})")
        u = estimates.on_prem_break_even_utilisation(price, server_usd, gpus_per_server, years, server_kw,
                                                     usd_per_kwh, pue, other_usd_per_server_year)
        if u <= 1:
            ax.plot([u], [price], "o", color=colour)
            ax.annotate(f"{u:.0%}", (u, price), xytext=(4, 6), textcoords="offset points", fontsize=8, color=colour)
    ax.set_ylim(0, top)
    ax.set_xlim(0, 1.02)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v:,.0f}" if v >= 10 else f"${v:.1f}"))
    ax.set_xlabel("utilisation of the owned GPUs (share of hours doing useful work)")
    ax.set_ylabel("USD per used GPU-hour")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Own or rent? Owned GPUs get cheaper per useful hour the busier they are", fontsize=10)
    return fig
