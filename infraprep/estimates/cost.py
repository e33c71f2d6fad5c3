"""Cloud cost estimates: a training run's GPU-hours and bill, spot runs with interruptions,
commitments, tiered egress, storage, idle GPUs and fleets.

Units: US dollars (USD), hours (h) unless a name says ``_s``, GB for data.
The compute side is never retyped here: GPU-hours and wall time come from
:mod:`infraprep.estimates.compute` (6·N·D ÷ (peak · MFU)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from . import compute
from ._validate import count, fraction, non_negative, positive

__all__ = [
    "HOURS_PER_MONTH",
    "price_per_gpu_hour",
    "training_cost_usd",
    "training_run",
    "job_interruption_rate",
    "spot_expected_hours",
    "spot_expected_cost_usd",
    "commitment_effective_price",
    "commitment_break_even_utilisation",
    "tiered_cost_usd",
    "storage_cost_usd",
    "idle_cost_usd",
    "fleet_hourly_cost_usd",
    "instances_within_quota",
    "HOURS_PER_YEAR",
    "usd_per_useful_exaflop",
    "interruption_mtbf_hours",
    "savings_plan_hour_usd",
    "savings_plan_cost_usd",
    "tiered_storage_cost_usd",
    "fsx_lustre_throughput_gb_s",
    "fsx_lustre_capacity_for_throughput_gib",
    "fsx_lustre_monthly_usd",
    "on_prem_gpu_hour_usd",
    "on_prem_break_even_utilisation",
]

#: Hours in a billing month as the clouds' calculators count them (8,760 h / 12).
HOURS_PER_MONTH = 730.0


def price_per_gpu_hour(instance_usd_per_hour: float, gpus_per_instance: int) -> float:
    """USD per GPU-hour of an instance: instance price per hour ÷ GPUs in it.

    Example: an 8-GPU p5.48xlarge at $55.04/h (us-east-1, 2026) costs $6.88 a GPU-hour.
    Source: arithmetic on the providers' instance prices (lesson table ``instances``).
    """
    return positive("instance_usd_per_hour", instance_usd_per_hour) / count("gpus_per_instance", gpus_per_instance)


def training_cost_usd(params: float, tokens: float, peak_flop_s_per_gpu: float, mfu: float, usd_per_gpu_hour: float) -> float:
    """USD to train: GPU-hours (6·N·D ÷ (peak · MFU) ÷ 3600) × price per GPU-hour.

    Independent of the GPU count when MFU does not change with scale.
    Source: Kaplan et al. 2020 (C ≈ 6ND); Chowdhery et al. 2022 (MFU); compute.gpu_hours.
    """
    return compute.gpu_hours(params, tokens, peak_flop_s_per_gpu, mfu) * positive("usd_per_gpu_hour", usd_per_gpu_hour)


def training_run(params: float, tokens: float, gpus: int, peak_flop_s_per_gpu: float, mfu: float, usd_per_gpu_hour: float) -> dict[str, float]:
    """A whole estimate of a run on ``gpus`` GPUs.

    Returns ``flops`` (FLOPs), ``gpu_hours`` (h), ``wall_time_h`` (h), ``wall_time_days``
    (days) and ``cost_usd`` (USD, on-demand at ``usd_per_gpu_hour``). Every figure comes
    from :func:`compute.training_flops`, :func:`compute.training_time_s` and
    :func:`compute.gpu_hours`.
    """
    seconds = compute.training_time_s(params, tokens, gpus, peak_flop_s_per_gpu, mfu)
    hours = compute.gpu_hours(params, tokens, peak_flop_s_per_gpu, mfu)
    return {
        "flops": compute.training_flops(params, tokens),
        "gpu_hours": hours,
        "wall_time_h": seconds / 3600.0,
        "wall_time_days": seconds / 86400.0,
        "cost_usd": hours * positive("usd_per_gpu_hour", usd_per_gpu_hour),
    }


def job_interruption_rate(per_instance_rate_per_hour: float, instances: int) -> float:
    """Interruptions per hour of a synchronous job that stops when any instance is reclaimed.

    Independent instances each reclaimed at rate λ: the first reclaim among n arrives at
    rate n·λ (the minimum of n exponential times). Units: per hour.
    """
    return non_negative("per_instance_rate_per_hour", per_instance_rate_per_hour) * count("instances", instances)


def spot_expected_hours(
    work_hours: float,
    interruptions_per_hour: float,
    checkpoint_interval_hours: float,
    restart_hours: float,
    checkpoint_write_hours: float = 0.0,
) -> float:
    """Expected wall-clock hours to finish ``work_hours`` of training on interruptible capacity.

    First-order model: the job checkpoints every τ hours of work (each write takes δ);
    interruptions arrive at λ per hour of running; each costs the work since the last
    checkpoint (τ/2 on average) plus the restart time R. With T the total time,
    T = W·(1 + δ/τ) + λ·T·(τ/2 + R), so

        T = W · (1 + δ/τ) / (1 − λ·(τ/2 + R)).

    Valid while λ·(τ/2 + R) < 1 (otherwise the job loses work faster than it makes it).
    Source: expected lost work of half an interval, Daly (FGCS 2006); Young (CACM 1974).
    """
    work = positive("work_hours", work_hours)
    rate = non_negative("interruptions_per_hour", interruptions_per_hour)
    tau = positive("checkpoint_interval_hours", checkpoint_interval_hours)
    restart = non_negative("restart_hours", restart_hours)
    write = non_negative("checkpoint_write_hours", checkpoint_write_hours)
    loss = rate * (tau / 2.0 + restart)
    if loss >= 1.0:
        raise ValueError(
            f"λ·(τ/2 + R) = {loss:.2f} ≥ 1: interruptions destroy work faster than the job makes it; "
            "checkpoint more often or restart faster"
        )
    return work * (1.0 + write / tau) / (1.0 - loss)


def spot_expected_cost_usd(
    work_hours: float,
    gpus: int,
    on_demand_usd_per_gpu_hour: float,
    spot_discount: float,
    interruptions_per_hour: float,
    checkpoint_interval_hours: float,
    restart_hours: float,
    checkpoint_write_hours: float = 0.0,
) -> float:
    """Expected USD of a spot run: expected hours × GPUs × on-demand price × (1 − discount).

    ``spot_discount`` is a fraction in [0, 1) (0.6 = 60% off). GPUs are billed while they
    redo lost work and while the job restarts. See :func:`spot_expected_hours`.
    """
    discount = fraction("spot_discount", spot_discount, allow_zero=True)
    if discount >= 1:
        raise ValueError("spot_discount must be below 1 (a 100% discount is free capacity)")
    hours = spot_expected_hours(work_hours, interruptions_per_hour, checkpoint_interval_hours, restart_hours, checkpoint_write_hours)
    return hours * count("gpus", gpus) * positive("on_demand_usd_per_gpu_hour", on_demand_usd_per_gpu_hour) * (1.0 - discount)


def commitment_effective_price(on_demand_usd_per_hour: float, discount: float, utilisation: float) -> float:
    """USD per *used* hour of a commitment paid for every hour: on-demand · (1 − discount) ÷ utilisation.

    A reservation or committed-use discount is billed whether or not the GPUs work; at
    low utilisation each useful hour costs more than on-demand.
    """
    d = fraction("discount", discount, allow_zero=True)
    if d >= 1:
        raise ValueError("discount must be below 1")
    return positive("on_demand_usd_per_hour", on_demand_usd_per_hour) * (1.0 - d) / fraction("utilisation", utilisation)


def commitment_break_even_utilisation(discount: float) -> float:
    """Utilisation above which a commitment beats on-demand: 1 − discount (a fraction)."""
    d = fraction("discount", discount, allow_zero=True)
    if d >= 1:
        raise ValueError("discount must be below 1")
    return 1.0 - d


def tiered_cost_usd(quantity: float, tiers: Sequence[tuple[float, float, float]]) -> float:
    """Cost of ``quantity`` units (e.g. GB of egress in a month) under tiered prices.

    ``tiers`` is a sequence of ``(from, to, usd_per_unit)``, contiguous and starting at 0;
    each unit is charged at the price of the tier it falls in (the last tier's ``to`` may
    be ``math.inf``). Example, AWS internet egress: first 100 GB free, then $0.09/GB to
    10 TB, $0.085/GB to 50 TB, ... (lesson table ``egress_tiers``); S3 Standard storage:
    $0.023/GB-month to 50 TB, $0.022 to 500 TB, $0.021 above (lesson table ``storage_prices``).
    """
    amount = non_negative("quantity", quantity)
    ordered = sorted((float(a), float(b), float(p)) for a, b, p in tiers)
    if not ordered:
        raise ValueError("tiers must not be empty")
    if ordered[0][0] != 0:
        raise ValueError("the first tier must start at 0")
    total, previous_end = 0.0, 0.0
    for start, end, price in ordered:
        if start != previous_end:
            raise ValueError(f"tiers must be contiguous: a tier starts at {start:g} after one that ends at {previous_end:g}")
        if end <= start:
            raise ValueError(f"a tier must end after it starts, got {start:g} to {end:g}")
        non_negative("usd_per_unit", price)
        if amount > start:
            total += (min(amount, end) - start) * price
        previous_end = end
    if amount > previous_end:
        raise ValueError(f"quantity {amount:g} is beyond the last tier (ends at {previous_end:g})")
    return total


def storage_cost_usd(gb: float, usd_per_gb_month: float, months: float = 1.0) -> float:
    """USD to keep ``gb`` GB for ``months`` months at a price per GB-month."""
    return non_negative("gb", gb) * non_negative("usd_per_gb_month", usd_per_gb_month) * non_negative("months", months)


def idle_cost_usd(gpus: int, idle_hours: float, usd_per_gpu_hour: float) -> float:
    """USD paid for GPUs that are billed but do no work: GPUs × idle hours × price per GPU-hour."""
    return count("gpus", gpus) * non_negative("idle_hours", idle_hours) * positive("usd_per_gpu_hour", usd_per_gpu_hour)


def fleet_hourly_cost_usd(counts: Mapping[str, int], prices: Mapping[str, float]) -> float:
    """USD per hour of a fleet: Σ count × hourly price over instance types.

    ``counts`` maps instance type → number of instances; ``prices`` maps instance type →
    USD per hour. A type without a price raises ValueError (never a silent zero).
    """
    missing = sorted(t for t in counts if t not in prices)
    if missing:
        raise ValueError(f"no hourly price for: {', '.join(missing)}")
    total = 0.0
    for kind, n in counts.items():
        total += count(f"count of {kind}", n, minimum=0) * positive(f"price of {kind}", prices[kind])
    return total


def instances_within_quota(quota_vcpus: float, vcpus_per_instance: int) -> int:
    """Whole instances that fit in a vCPU quota: ⌊quota ÷ vCPUs per instance⌋.

    AWS counts On-Demand limits in vCPUs per instance family (a p5.48xlarge uses 192).
    """
    return math.floor(non_negative("quota_vcpus", quota_vcpus) / count("vcpus_per_instance", vcpus_per_instance))


#: Hours in a year (365 days), for costs that accrue whether or not the hardware works.
HOURS_PER_YEAR = 8760.0


def usd_per_useful_exaflop(usd_per_gpu_hour: float, peak_flop_s_per_gpu: float, mfu: float = 1.0) -> float:
    """USD for 10^18 useful FLOPs on a GPU: price per hour ÷ (peak · MFU · 3600) × 10^18.

    The fair way to compare accelerators of different speeds: an H100 at $6.88 a GPU-hour
    and 989 TFLOP/s dense BF16 costs $1.93 per exaFLOP at its peak (MFU = 1) and $4.83 at
    40% MFU. Source: arithmetic on the lesson's ``instances`` and ``gpus`` tables.
    """
    rate = positive("peak_flop_s_per_gpu", peak_flop_s_per_gpu) * fraction("mfu", mfu)
    return positive("usd_per_gpu_hour", usd_per_gpu_hour) / (rate * 3600.0) * 1e18


def interruption_mtbf_hours(interruptions_per_hour: float) -> float:
    """Mean time between interruptions (hours) of a job interrupted at λ per hour: 1 ÷ λ.

    The rate and the MTBF are inverses: a 64-node job whose nodes are each reclaimed at
    1/500 per hour is interrupted 0.128 times an hour, so its MTBF is 7.8 hours (the number
    to put into Young's interval √(2·δ·MTBF)).
    """
    return 1.0 / positive("interruptions_per_hour", interruptions_per_hour)


def savings_plan_hour_usd(on_demand_usage_usd: float, commitment_usd_per_hour: float, discount: float) -> float:
    """USD billed for one hour under a Savings Plan-style commitment.

    A Savings Plan commits to spend ``commitment_usd_per_hour`` every hour, at the plan's
    discounted rates. This hour's usage is worth ``on_demand_usage_usd`` at on-demand prices,
    i.e. ``on_demand_usage_usd · (1 − discount)`` at plan rates. Usage up to the commitment is
    covered; the rest is billed at on-demand; an unused commitment is still paid:

        billed = commitment + max(0, on_demand_usage − commitment ÷ (1 − discount)).

    Source: AWS Savings Plans user guide, "How Savings Plans apply to your usage".
    """
    usage = non_negative("on_demand_usage_usd", on_demand_usage_usd)
    commit = non_negative("commitment_usd_per_hour", commitment_usd_per_hour)
    d = fraction("discount", discount, allow_zero=True)
    if d >= 1:
        raise ValueError("discount must be below 1")
    covered_on_demand = commit / (1.0 - d)
    return commit + max(0.0, usage - covered_on_demand)


def savings_plan_cost_usd(hourly_on_demand_usage_usd: Sequence[float], commitment_usd_per_hour: float,
                          discount: float) -> float:
    """Total USD over a usage profile (one on-demand value an hour): Σ :func:`savings_plan_hour_usd`.

    With a commitment of zero this is the on-demand bill. The cheapest commitment for a
    steady profile is the usage at plan rates; for a spiky one it is lower.
    """
    hours = list(hourly_on_demand_usage_usd)
    if not hours:
        raise ValueError("give at least one hour of usage")
    return sum(savings_plan_hour_usd(u, commitment_usd_per_hour, discount) for u in hours)


def tiered_storage_cost_usd(gb: float, tiers: Sequence[tuple[float, float, float]], months: float = 1.0) -> float:
    """USD to store ``gb`` GB for ``months`` months under tiered GB-month prices (S3 Standard).

    Each GB of the month's volume is priced at the tier it falls in (``tiers`` as for
    :func:`tiered_cost_usd`: ``(from_gb, to_gb, usd_per_gb_month)``); 200 TB in S3 Standard
    (US East) costs 51,200 × $0.023 + 148,800 × $0.022 a month, not 200,000 × $0.023.
    Source: Amazon S3 pricing (storage is tiered by the month's total volume).
    """
    return tiered_cost_usd(gb, tiers) * non_negative("months", months)


def fsx_lustre_throughput_gb_s(capacity_gib: float, mb_s_per_tib: float) -> float:
    """Baseline throughput (GB/s) of an FSx for Lustre file system of ``capacity_gib`` GiB.

    Throughput is bought with capacity: PERSISTENT_2 SSD file systems give 125, 250, 500 or
    1,000 MB/s per TiB of storage. AWS does this arithmetic with the capacity as Terraform
    and the API state it (``storage_capacity`` in GiB) read as thousands: 4,800 GiB at
    250 MB/s/TiB is 4.8 × 250 = 1,200 MB/s. Source: Amazon FSx for Lustre user guide.
    """
    return positive("capacity_gib", capacity_gib) / 1000.0 * positive("mb_s_per_tib", mb_s_per_tib) / 1000.0


def fsx_lustre_capacity_for_throughput_gib(target_gb_s: float, mb_s_per_tib: float, data_gib: float = 0.0,
                                           step_gib: float = 2400.0, smallest_gib: float = 1200.0) -> float:
    """Smallest FSx for Lustre capacity (GiB) that delivers ``target_gb_s`` and holds ``data_gib``.

    PERSISTENT_2 SSD capacity is 1,200 GiB or a multiple of 2,400 GiB, so a checkpoint that
    must land at 100 GB/s on the 250 MB/s/TiB tier needs 400,800 GiB (167 steps) of file
    system even if the data is 50,000 GiB: on Lustre you pay for bandwidth in capacity.
    Source: Amazon FSx for Lustre user guide (storage capacity and throughput).
    """
    step = positive("step_gib", step_gib)
    need = max(positive("target_gb_s", target_gb_s) * 1e6 / positive("mb_s_per_tib", mb_s_per_tib),
               non_negative("data_gib", data_gib))
    if need <= positive("smallest_gib", smallest_gib):
        return float(smallest_gib)
    return math.ceil(need / step - 1e-9) * step


def fsx_lustre_monthly_usd(capacity_gib: float, usd_per_gb_month: float, months: float = 1.0) -> float:
    """USD for an FSx for Lustre file system: capacity (GiB, billed as GB-months) × the tier's price × months.

    The tier's per-GB price includes its throughput: 4,800 GiB at $0.210 (250 MB/s/TiB) is $1,008 a month.
    """
    return positive("capacity_gib", capacity_gib) * non_negative("usd_per_gb_month", usd_per_gb_month) * \
        non_negative("months", months)


def on_prem_gpu_hour_usd(
    server_usd: float,
    gpus_per_server: int,
    years: float,
    server_kw: float,
    usd_per_kwh: float,
    pue: float = 1.0,
    utilisation: float = 1.0,
    other_usd_per_server_year: float = 0.0,
) -> dict[str, float]:
    """Cost of an owned GPU per *used* GPU-hour: depreciation, power and other yearly costs ÷ used hours.

    Straight-line depreciation ``server_usd ÷ years``; power ``server_kw · pue · 8,760 h ·
    usd_per_kwh`` a year (the server is assumed on, at ``server_kw``, all year); plus
    ``other_usd_per_server_year`` (network share, space, staff, support). The yearly total is
    spread over ``gpus_per_server · 8,760 · utilisation`` used GPU-hours. Returns
    ``depreciation``, ``power``, ``other`` and ``total`` in USD per used GPU-hour.
    Sources: NVIDIA DGX H100 datasheet (10.2 kW maximum); EIA electricity prices; Uptime
    Institute PUE survey; useful lives from hyperscalers' 10-K filings (5-6 years).
    """
    if positive("pue", pue) < 1:
        raise ValueError("pue is total facility power ÷ IT power, so it is at least 1")
    gpu_hours = count("gpus_per_server", gpus_per_server) * HOURS_PER_YEAR * fraction("utilisation", utilisation)
    per_year = {
        "depreciation": positive("server_usd", server_usd) / positive("years", years),
        "power": positive("server_kw", server_kw) * positive("pue", pue) * HOURS_PER_YEAR
        * non_negative("usd_per_kwh", usd_per_kwh),
        "other": non_negative("other_usd_per_server_year", other_usd_per_server_year),
    }
    out = {name: value / gpu_hours for name, value in per_year.items()}
    out["total"] = sum(out.values())
    return out


def on_prem_break_even_utilisation(cloud_usd_per_gpu_hour: float, server_usd: float, gpus_per_server: int,
                                   years: float, server_kw: float, usd_per_kwh: float, pue: float = 1.0,
                                   other_usd_per_server_year: float = 0.0) -> float:
    """Utilisation above which owning beats renting at ``cloud_usd_per_gpu_hour`` (a fraction; > 1 means never).

    Owning costs the same every hour, busy or idle, so its price per used hour is the
    full-use price ÷ utilisation: break-even = on_prem_gpu_hour_usd(u = 1) ÷ cloud price.
    """
    full = on_prem_gpu_hour_usd(server_usd, gpus_per_server, years, server_kw, usd_per_kwh, pue, 1.0,
                                other_usd_per_server_year)["total"]
    return full / positive("cloud_usd_per_gpu_hour", cloud_usd_per_gpu_hour)
