"""Storage estimates: checkpoint size and write time, data-loader bandwidth, small files, Lustre striping.

Units: bytes, bytes/s, seconds, samples/s. Decimal prefixes (1 GB = 1e9 bytes) unless a
name says otherwise.
"""

from __future__ import annotations

import math

from ._validate import count, non_negative, positive
from .communication import transfer_time_s
from .memory import OPTIMIZER_BYTES, WEIGHT_BYTES, weights_bytes

__all__ = [
    "CHECKPOINT_BYTES_PER_PARAM",
    "checkpoint_bytes", "checkpoint_write_time_s", "checkpoint_step_overhead_s",
    "checkpoint_overhead_fraction", "loader_bandwidth_bytes_s", "files_opened_per_s",
    "shards_needed", "lustre_stripe_index", "lustre_ost_for_offset",
    "metadata_ops_per_s", "metadata_targets_needed", "raid0_bandwidth_bytes_s",
    "parallel_write_bandwidth_bytes_s",
]

#: Bytes a parameter in a full mixed-precision Adam checkpoint: 2 (BF16 weights) + 12 (FP32
#: master weights, momentum and variance). The course uses this one definition everywhere.
CHECKPOINT_BYTES_PER_PARAM = WEIGHT_BYTES + OPTIMIZER_BYTES


def checkpoint_bytes(params: float, include_optimizer: bool = True,
                     weight_bytes: float = WEIGHT_BYTES, optimizer_bytes: float = OPTIMIZER_BYTES) -> float:
    """Size of a full training checkpoint: BF16 weights (2 B) + FP32 Adam state (12 B) a parameter.

    With the optimizer that is :data:`CHECKPOINT_BYTES_PER_PARAM` = 14 bytes a parameter, the
    course's one definition. Training memory holds 16 (ZeRO paper, §3.1: 2 + 2 + 12); the
    2 bytes of gradients are not saved because a checkpoint is taken at a step boundary,
    after the optimizer has used them, and the next step computes fresh ones from its own
    batch. Weights alone (for inference) are 2 bytes a parameter. Byte counts come from
    :mod:`infraprep.estimates.memory`.
    """
    size = weights_bytes(params, weight_bytes)
    if include_optimizer:
        size += positive("params", params) * positive("optimizer_bytes", optimizer_bytes)
    return size


def checkpoint_write_time_s(size_bytes: float, write_bandwidth_bytes_s: float, latency_s: float = 0.0) -> float:
    """Seconds to write a checkpoint of ``size_bytes`` at an aggregate write bandwidth.

    The bandwidth is what the whole job gets from the storage tier (for example the
    file system's aggregate write rate, or the sum over nodes of local NVMe).
    """
    return transfer_time_s(size_bytes, write_bandwidth_bytes_s, latency_s)


def checkpoint_step_overhead_s(write_time_s: float, steps_between_checkpoints: int) -> float:
    """Average seconds a blocking checkpoint adds to each training step: write time ÷ interval in steps."""
    return non_negative("write_time_s", write_time_s) / count("steps_between_checkpoints", steps_between_checkpoints)


def checkpoint_overhead_fraction(write_time_s: float, interval_s: float) -> float:
    """Fraction of wall-clock time spent in blocking checkpoints: δ ÷ (interval + δ)."""
    delta = non_negative("write_time_s", write_time_s)
    return delta / (positive("interval_s", interval_s) + delta)


def loader_bandwidth_bytes_s(samples_per_s: float, bytes_per_sample: float, replicas: int = 1) -> float:
    """Read bandwidth a data loader needs: samples/s × bytes per sample (× replicas).

    Use ``samples_per_s`` per GPU (or per node) and ``replicas`` = GPUs (or nodes) to get
    the bandwidth the whole cluster pulls from storage.
    """
    return positive("samples_per_s", samples_per_s) * positive("bytes_per_sample", bytes_per_sample) * count(
        "replicas", replicas
    )


def files_opened_per_s(samples_per_s: float, samples_per_file: float = 1) -> float:
    """File opens (metadata operations) a second: samples/s ÷ samples per file.

    One file a sample turns every sample into an open/stat on the metadata server (or a
    GET request on object storage); a tar shard of 10,000 samples needs 10,000× fewer.
    """
    return positive("samples_per_s", samples_per_s) / positive("samples_per_file", samples_per_file)


def shards_needed(dataset_bytes: float, shard_bytes: float) -> int:
    """Number of shards of about ``shard_bytes`` each that hold ``dataset_bytes`` (rounded up)."""
    return math.ceil(positive("dataset_bytes", dataset_bytes) / positive("shard_bytes", shard_bytes))


def lustre_stripe_index(offset_bytes: float, stripe_size_bytes: float, stripe_count: int) -> int:
    """Position (0-based) in the file's OST list of the stripe that holds byte ``offset_bytes``.

    RAID-0 layout: stripe k covers [k·size, (k+1)·size) and lands on OST (k mod count) of the
    list shown by ``lfs getstripe``. Source: Lustre Operations Manual, file layout chapter.
    """
    offset = non_negative("offset_bytes", offset_bytes)
    size = positive("stripe_size_bytes", stripe_size_bytes)
    return int(offset // size) % count("stripe_count", stripe_count)


def lustre_ost_for_offset(offset_bytes: float, stripe_size_bytes: float, ost_indices: list[int]) -> int:
    """OST index (``obdidx``) that stores byte ``offset_bytes`` of a file striped over ``ost_indices``."""
    if not ost_indices:
        raise ValueError("ost_indices must list at least one OST")
    return ost_indices[lustre_stripe_index(offset_bytes, stripe_size_bytes, len(ost_indices))]


def metadata_ops_per_s(samples_per_s: float, samples_per_file: float = 1, ops_per_file: float = 2) -> float:
    """Metadata operations a second a loader asks of the file system: files opened a second × ops per file.

    Opening a file on Lustre costs at least an ``open`` (with its lookup) and usually a
    ``stat`` or ``close`` on the MDS: 2 operations a file is the default here.
    """
    return files_opened_per_s(samples_per_s, samples_per_file) * positive("ops_per_file", ops_per_file)


def metadata_targets_needed(ops_per_s: float, ops_per_s_per_target: float) -> int:
    """Metadata targets (Lustre MDTs behind DNE striped directories) needed for a metadata rate.

    One MDT serves a bounded rate (a Lustre 2.5 MDT measured about 15,000 file creates and
    400,000 stats a second); DNE spreads a directory tree, or one striped directory, over
    several MDTs so the rates add up (Lustre manual, Distributed Namespace).
    """
    return math.ceil(positive("ops_per_s", ops_per_s) / positive("ops_per_s_per_target", ops_per_s_per_target))


def raid0_bandwidth_bytes_s(drives: int, per_drive_bytes_s: float) -> float:
    """Sequential bandwidth of ``drives`` NVMe drives striped as RAID 0: drives × one drive's rate."""
    return count("drives", drives) * positive("per_drive_bytes_s", per_drive_bytes_s)


def parallel_write_bandwidth_bytes_s(writers: int, per_writer_bytes_s: float, tier_bytes_s: float) -> float:
    """Aggregate write bandwidth of ``writers`` parallel writers into a shared tier: the smaller of
    writers × each writer's rate (its NIC or its local disks) and the tier's own aggregate limit."""
    return min(count("writers", writers) * positive("per_writer_bytes_s", per_writer_bytes_s),
               positive("tier_bytes_s", tier_bytes_s))
