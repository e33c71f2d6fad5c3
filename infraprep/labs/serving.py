"""Lab: serve a real (tiny) transformer on this machine, with a paged KV cache and two schedulers.

What runs here is not a model of a serving system but a small one:

- :class:`TinyDecoder`, a decoder-only transformer in NumPy with random weights (grouped-query
  attention, SwiGLU MLP, RMSNorm, learned positions, tied embeddings). Greedy decoding; a step
  takes milliseconds.
- :class:`PagedKVCache`, a real KV cache in fixed-size blocks: the keys and values of each token
  are written into the blocks a sequence's **block table** lists, and attention gathers them back
  through the table (the PagedAttention idea, Kwon et al., SOSP 2023). Its blocks come from a
  :class:`BlockAllocator` with a free list, reference counts for shared prefixes, and invariants
  that :meth:`BlockAllocator.check` verifies.
- Two schedulers serving the same seeded synthetic trace (Poisson arrivals, prompt and output
  lengths drawn from wide distributions): :func:`serve_continuous`, iteration-level
  ("continuous") batching as in Orca and vLLM, with recompute preemption when blocks run out,
  and :func:`serve_static`, request-level batching that reserves each request's maximum length
  up front and runs a batch until its longest request is done.
- :func:`measure_decode_curve`, decode step time against batch size, set beside this machine's own
  roofline from lesson 2's lab (:func:`infraprep.labs.roofline.measure`).

**Clock.** Each iteration's model work is timed with ``time.perf_counter`` and the serving clock
advances by exactly that measured time; when nothing is running and nothing waits, the clock jumps
to the next arrival (an idle server does no work). So TTFT, TPOT and throughput are measured from
real compute on this machine, without sleeping through idle gaps. Both policies run the same model
code, so their difference is the scheduling.

**One BLAS thread.** :func:`run` keeps NumPy's BLAS on one thread while it measures
(:func:`blas_threads`): on a machine whose cores are busy with other work, BLAS threads waiting for
a core make every step several times slower and the timings erratic; one thread is slower at best
but steady, and its roofline is measured the same way.

``run(quick=True)`` does everything in a few seconds; ``quick=False`` uses a bigger trace and
model. The lab's measurements can be exported in Prometheus' text format, with vLLM's metric names
and bucket bounds (:meth:`ServingResult.prometheus`), and read back (:func:`histogram_quantiles`).
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import estimates
from ..estimates._validate import count, positive

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

__all__ = [
    "ModelConfig", "TinyDecoder", "OutOfBlocks", "BlockAllocator", "allocate_step", "PagedKVCache",
    "Request", "make_trace", "ServingResult", "serve_continuous", "serve_static", "serve_side_by_side",
    "admit_fcfs",
    "measure_decode_curve", "DecodeCurve", "LabResult", "run", "QUICK", "FULL",
    "parse_metrics", "histogram", "histogram_quantiles", "format_histogram", "engine_stats",
    "TTFT_BUCKETS_S", "ITL_BUCKETS_S", "blas_threads", "prefix_sharing",
]

#: vLLM's default bucket bounds (seconds) for ``vllm:time_to_first_token_seconds`` and
#: ``vllm:inter_token_latency_seconds`` (vllm/v1/metrics/buckets.py).
TTFT_BUCKETS_S = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                  20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS_S = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                 40.0, 80.0)


# ============================================================================ the model

@dataclass(frozen=True)
class ModelConfig:
    """Shape of the tiny decoder. ``kv_heads`` < ``heads`` is grouped-query attention."""

    vocab: int = 512
    d_model: int = 256
    layers: int = 4
    heads: int = 8
    kv_heads: int = 2
    ffn: int = 768
    max_positions: int = 1024
    dtype: str = "float32"
    seed: int = 0

    def __post_init__(self):
        for name in ("vocab", "d_model", "layers", "heads", "kv_heads", "ffn", "max_positions"):
            count(name, getattr(self, name))
        if self.d_model % self.heads or self.heads % self.kv_heads:
            raise ValueError("d_model must split into heads, and heads into kv_heads groups")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    @property
    def bytes_per_value(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def layer_params(self) -> int:
        d, kv = self.d_model, self.kv_heads * self.head_dim
        return 2 * d * d + 2 * d * kv + 3 * d * self.ffn + 2 * d

    @property
    def params(self) -> int:
        """Parameters read by every decode step (the position table is only indexed, not read whole)."""
        return self.layers * self.layer_params + self.vocab * self.d_model + self.d_model

    @property
    def weight_bytes(self) -> int:
        return self.params * self.bytes_per_value

    @property
    def kv_bytes_per_token(self) -> float:
        """2 · layers · kv_heads · head_dim · bytes, the formula of :func:`estimates.kv_cache_bytes_per_token`."""
        return estimates.kv_cache_bytes_per_token(self.layers, self.kv_heads, self.head_dim, self.bytes_per_value)


def _rmsnorm(x: np.ndarray, gain: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * gain


def _softmax_masked(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


class TinyDecoder:
    """A decoder-only transformer with random weights and a paged KV cache (see the module docstring).

    :meth:`forward` recomputes everything from the tokens (no cache: the reference);
    :meth:`prefill` and :meth:`decode` read and write a :class:`PagedKVCache`.
    """

    def __init__(self, config: ModelConfig = ModelConfig()):
        self.config = c = config
        rng = np.random.default_rng(c.seed)
        dt = np.dtype(c.dtype)

        def w(rows: int, cols: int) -> np.ndarray:
            return (rng.standard_normal((rows, cols)) / math.sqrt(rows)).astype(dt)

        kv = c.kv_heads * c.head_dim
        self.embed = (rng.standard_normal((c.vocab, c.d_model)) * 0.5).astype(dt)
        self.positions = (rng.standard_normal((c.max_positions, c.d_model)) * 0.1).astype(dt)
        self.layers = [{
            "norm1": np.ones(c.d_model, dt), "wq": w(c.d_model, c.d_model), "wk": w(c.d_model, kv),
            "wv": w(c.d_model, kv), "wo": w(c.d_model, c.d_model), "norm2": np.ones(c.d_model, dt),
            "wg": w(c.d_model, c.ffn), "wu": w(c.d_model, c.ffn), "wd": w(c.ffn, c.d_model),
        } for _ in range(c.layers)]
        self.final_norm = np.ones(c.d_model, dt)
        self._scale = 1.0 / math.sqrt(c.head_dim)

    # -- shared pieces
    def _mlp(self, layer: dict, x: np.ndarray) -> np.ndarray:
        h = _rmsnorm(x, layer["norm2"])
        gate = h @ layer["wg"]
        return ((gate / (1.0 + np.exp(-gate))) * (h @ layer["wu"])) @ layer["wd"]

    def _logits(self, x: np.ndarray) -> np.ndarray:
        return _rmsnorm(x, self.final_norm) @ self.embed.T

    def _check_positions(self, last: int) -> None:
        if last >= self.config.max_positions:
            raise ValueError(f"position {last} is past the model's {self.config.max_positions} positions")

    def forward(self, tokens: Sequence[int]) -> np.ndarray:
        """Logits at every position of ``tokens``, computed from scratch with causal attention."""
        c = self.config
        t = len(tokens)
        self._check_positions(t - 1)
        x = self.embed[np.asarray(tokens)] + self.positions[:t]
        causal = np.tril(np.ones((t, t), bool))
        groups = c.heads // c.kv_heads
        for layer in self.layers:
            h = _rmsnorm(x, layer["norm1"])
            q = (h @ layer["wq"]).reshape(t, c.kv_heads, groups, c.head_dim).transpose(1, 2, 0, 3)
            k = (h @ layer["wk"]).reshape(t, c.kv_heads, 1, c.head_dim).transpose(1, 2, 3, 0)
            v = (h @ layer["wv"]).reshape(t, c.kv_heads, 1, c.head_dim).transpose(1, 2, 0, 3)
            attn = _softmax_masked((q @ k) * self._scale, causal) @ v          # (kv, g, t, hd)
            x = x + attn.transpose(2, 0, 1, 3).reshape(t, c.d_model) @ layer["wo"]
            x = x + self._mlp(layer, x)
        return self._logits(x)

    def prefill(self, cache: PagedKVCache, seq: int, tokens: Sequence[int], start: int = 0) -> np.ndarray:
        """Write the KV of ``tokens`` at positions ``start`` ... into ``seq``'s blocks and return the logits
        of the last token. Positions before ``start`` must already be in the cache (a shared prefix)."""
        c = self.config
        t = len(tokens)
        total = start + t
        self._check_positions(total - 1)
        cache.allocator.grow(seq, total)
        positions = np.arange(start, total)
        x = self.embed[np.asarray(tokens)] + self.positions[positions]
        mask = positions[:, None] >= np.arange(total)[None, :]                 # (t, total)
        groups = c.heads // c.kv_heads
        for index, layer in enumerate(self.layers):
            h = _rmsnorm(x, layer["norm1"])
            cache.write(index, [seq] * t, positions, (h @ layer["wk"]).reshape(t, c.kv_heads, c.head_dim),
                        (h @ layer["wv"]).reshape(t, c.kv_heads, c.head_dim))
            keys, values = cache.gather(index, [seq], [total])                  # (1, T, kv, hd)
            q = (h @ layer["wq"]).reshape(t, c.kv_heads, groups, c.head_dim).transpose(1, 2, 0, 3)
            k = keys[0, :total].transpose(1, 2, 0)[:, None]                    # (kv, 1, hd, T)
            v = values[0, :total].transpose(1, 0, 2)[:, None]                  # (kv, 1, T, hd)
            attn = _softmax_masked((q @ k) * self._scale, mask) @ v
            x = x + attn.transpose(2, 0, 1, 3).reshape(t, c.d_model) @ layer["wo"]
            x = x + self._mlp(layer, x)
        return self._logits(x[-1])

    def decode(self, cache: PagedKVCache, seqs: Sequence[int], tokens: Sequence[int],
               positions: Sequence[int]) -> np.ndarray:
        """One decode step for a batch: token ``tokens[i]`` of sequence ``seqs[i]`` at ``positions[i]``.
        Its KV is written to the cache, attention reads the sequence's blocks; returns (B, vocab) logits."""
        c = self.config
        b = len(seqs)
        pos = np.asarray(positions)
        self._check_positions(int(pos.max()))
        lengths = pos + 1
        for seq, length in zip(seqs, lengths):
            cache.allocator.grow(seq, int(length))
        x = self.embed[np.asarray(tokens)] + self.positions[pos]
        groups = c.heads // c.kv_heads
        for index, layer in enumerate(self.layers):
            h = _rmsnorm(x, layer["norm1"])
            cache.write(index, seqs, pos, (h @ layer["wk"]).reshape(b, c.kv_heads, c.head_dim),
                        (h @ layer["wv"]).reshape(b, c.kv_heads, c.head_dim))
            keys, values = cache.gather(index, seqs, lengths)                   # (B, T, kv, hd)
            span = keys.shape[1]
            mask = (np.arange(span)[None, :] < lengths[:, None])[:, None, None, :]
            q = (h @ layer["wq"]).reshape(b, c.kv_heads, groups, c.head_dim)
            scores = q @ keys.transpose(0, 2, 3, 1)                              # (B, kv, g, T)
            attn = _softmax_masked(scores * self._scale, mask) @ values.transpose(0, 2, 1, 3)
            x = x + attn.reshape(b, c.d_model) @ layer["wo"]
            x = x + self._mlp(layer, x)
        return self._logits(x)


# ============================================================================ the paged KV cache

class OutOfBlocks(RuntimeError):
    """The free list has fewer blocks than an allocation needs (a scheduler preempts on this)."""


def allocate_step(tables: Mapping[int, Sequence[int]], free: Sequence[int], lengths: Mapping[int, int],
                  block_size: int) -> tuple[dict[int, list[int]], list[int]] | None:
    """One step of a paged-KV block allocator, as a pure function (no prefix sharing).

    ``tables`` maps each sequence to its block table, ``free`` is the free list, ``lengths`` the
    number of tokens each *live* sequence holds after this step. Sequences of ``tables`` missing
    from ``lengths`` have finished: their blocks go back to the **end** of the free list first (in
    ascending sequence id, each in its table's order). Then, in ascending sequence id, each live
    sequence gets blocks from the **front** of the free list until it has ⌈length ÷ block size⌉.
    Returns the new ``(tables, free)``, or None when the free blocks do not cover the step (a
    scheduler then preempts); the inputs are never modified.
    """
    size = count("block_size", block_size)
    new_tables = {int(s): list(t) for s, t in tables.items()}
    new_free = deque(int(b) for b in free)
    for seq in sorted(s for s in new_tables if s not in lengths):
        new_free.extend(new_tables.pop(seq))
    needs = {}
    for seq in sorted(lengths):
        want = estimates.kv_blocks_needed(count("length", lengths[seq], minimum=0), size)
        have = len(new_tables.get(int(seq), []))
        if want < have:
            raise ValueError(f"sequence {seq} would shrink from {have} to {want} blocks")
        needs[int(seq)] = want - have
    if sum(needs.values()) > len(new_free):
        return None
    for seq, extra in needs.items():
        table = new_tables.setdefault(seq, [])
        for _ in range(extra):
            table.append(new_free.popleft())
    return new_tables, list(new_free)


class BlockAllocator:
    """Fixed-size KV blocks handed out from a free list to per-sequence block tables.

    Blocks are taken from the front of the free list and returned to its end. A block can be in
    several tables at once (a shared prefix, :meth:`share`); its reference count says in how many,
    and it returns to the free list when the last table lets it go.
    """

    def __init__(self, num_blocks: int, block_size: int = 16):
        self.num_blocks = count("num_blocks", num_blocks)
        self.block_size = count("block_size", block_size)
        self.free_list: deque[int] = deque(range(self.num_blocks))
        self.tables: dict[int, list[int]] = {}
        self.refs = [0] * self.num_blocks

    # -- queries
    def blocks_for(self, tokens: int) -> int:
        """⌈tokens ÷ block size⌉ (:func:`estimates.kv_blocks_needed`, without its checks: called every step)."""
        if tokens < 0:
            raise ValueError(f"tokens must be 0 or more, got {tokens!r}")
        return -(-int(tokens) // self.block_size)

    @property
    def free_blocks(self) -> int:
        return len(self.free_list)

    @property
    def used_blocks(self) -> int:
        return self.num_blocks - len(self.free_list)

    def missing(self, seq: int, tokens: int) -> int:
        """Blocks ``seq`` still needs to hold ``tokens`` tokens."""
        return max(0, self.blocks_for(tokens) - len(self.tables.get(seq, ())))

    def can_grow(self, seq: int, tokens: int) -> bool:
        return self.missing(seq, tokens) <= len(self.free_list)

    # -- changes
    def grow(self, seq: int, tokens: int) -> list[int]:
        """Give ``seq`` enough blocks for ``tokens`` tokens (all or nothing); returns its table."""
        need = self.missing(seq, tokens)
        if need > len(self.free_list):
            raise OutOfBlocks(f"sequence {seq} needs {need} more blocks, {len(self.free_list)} are free")
        table = self.tables.setdefault(seq, [])
        for _ in range(need):
            block = self.free_list.popleft()
            self.refs[block] += 1
            table.append(block)
        return table

    def free(self, seq: int) -> int:
        """Let go of ``seq``'s blocks; those no other table holds return to the free list. Returns how many did."""
        returned = 0
        for block in self.tables.pop(seq, []):
            self.refs[block] -= 1
            if self.refs[block] == 0:
                self.free_list.append(block)
                returned += 1
        return returned

    def share(self, source: int, target: int, tokens: int) -> int:
        """Start ``target``'s table with the full blocks of ``source`` that cover its first ``tokens``
        tokens (a shared prompt prefix): no copy, the blocks' reference counts go up. Returns the
        number of tokens shared (a whole number of blocks)."""
        if target in self.tables:
            raise ValueError(f"sequence {target} already has blocks")
        full = min(count("tokens", tokens, minimum=0) // self.block_size, len(self.tables.get(source, ())))
        blocks = self.tables[source][:full] if full else []
        for block in blocks:
            self.refs[block] += 1
        self.tables[target] = list(blocks)
        return full * self.block_size

    def step(self, lengths: Mapping[int, int]) -> bool:
        """Apply :func:`allocate_step` to this allocator (no shared blocks allowed). False if it cannot run."""
        if any(r > 1 for r in self.refs):
            raise ValueError("step() works on unshared blocks only")
        result = allocate_step(self.tables, self.free_list, lengths, self.block_size)
        if result is None:
            return False
        self.tables, free = result
        self.free_list = deque(free)
        self.refs = [0] * self.num_blocks
        for table in self.tables.values():
            for block in table:
                self.refs[block] += 1
        return True

    def check(self) -> None:
        """Raise AssertionError if a block is lost, handed out twice, or counted wrong."""
        free = list(self.free_list)
        if len(free) != len(set(free)):
            raise AssertionError("a block is twice in the free list")
        held: dict[int, int] = {}
        for seq, table in self.tables.items():
            if len(table) != len(set(table)):
                raise AssertionError(f"sequence {seq} holds a block twice")
            for block in table:
                held[block] = held.get(block, 0) + 1
        if set(free) & set(held):
            raise AssertionError("a block is both free and in a block table")
        if set(free) | set(held) != set(range(self.num_blocks)):
            raise AssertionError("a block is neither free nor in any block table (leaked)")
        for block in range(self.num_blocks):
            if self.refs[block] != held.get(block, 0):
                raise AssertionError(f"block {block}: reference count {self.refs[block]}, held by {held.get(block, 0)}")


class PagedKVCache:
    """Keys and values in ``num_blocks`` blocks of ``block_size`` tokens for every layer, addressed
    through the block tables of its :class:`BlockAllocator`."""

    def __init__(self, config: ModelConfig, num_blocks: int, block_size: int = 16):
        self.config = config
        self.allocator = BlockAllocator(num_blocks, block_size)
        shape = (config.layers, num_blocks, block_size, config.kv_heads, config.head_dim)
        self.keys = np.zeros(shape, config.dtype)
        self.values = np.zeros(shape, config.dtype)

    @property
    def block_size(self) -> int:
        return self.allocator.block_size

    @property
    def bytes_per_block(self) -> float:
        return self.config.kv_bytes_per_token * self.block_size

    def _slots(self, seqs: Sequence[int], positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        pos = np.asarray(positions)
        size = self.block_size
        blocks = np.array([self.allocator.tables[s][p // size] for s, p in zip(seqs, pos.tolist())])
        return blocks, pos % size

    def write(self, layer: int, seqs: Sequence[int], positions: Sequence[int], k: np.ndarray, v: np.ndarray) -> None:
        blocks, offsets = self._slots(seqs, positions)
        self.keys[layer, blocks, offsets] = k
        self.values[layer, blocks, offsets] = v

    def gather(self, layer: int, seqs: Sequence[int], lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(keys, values) of each sequence, (B, T, kv_heads, head_dim), through its block table; T is
        the longest length rounded up to whole blocks (the caller masks what lies past each length)."""
        width = max(self.allocator.blocks_for(int(n)) for n in lengths)
        table = np.zeros((len(seqs), width), np.int64)
        for row, (seq, n) in enumerate(zip(seqs, lengths)):
            used = self.allocator.tables[seq][: self.allocator.blocks_for(int(n))]
            table[row, : len(used)] = used
        c = self.config
        span = width * self.block_size
        keys = self.keys[layer][table].reshape(len(seqs), span, c.kv_heads, c.head_dim)
        values = self.values[layer][table].reshape(len(seqs), span, c.kv_heads, c.head_dim)
        return keys, values


def prefix_sharing(prefix_tokens: int, suffix_tokens: int, sequences: int, block_size: int = 16) -> dict[str, int]:
    """Blocks ``sequences`` requests hold when they all start with the same ``prefix_tokens`` (a system
    prompt) and add ``suffix_tokens`` of their own, with and without sharing the prefix's full blocks,
    counted on a real :class:`BlockAllocator` (whose invariants are checked)."""
    per = estimates.kv_blocks_needed(prefix_tokens + suffix_tokens, block_size)
    alone = BlockAllocator(per * sequences, block_size)
    for seq in range(sequences):
        alone.grow(seq, prefix_tokens + suffix_tokens)
    shared = BlockAllocator(per * sequences, block_size)
    shared.grow(0, prefix_tokens + suffix_tokens)
    for seq in range(1, sequences):
        shared.share(0, seq, prefix_tokens)
        shared.grow(seq, prefix_tokens + suffix_tokens)
    alone.check()
    shared.check()
    return {"blocks_without_sharing": alone.used_blocks, "blocks_with_sharing": shared.used_blocks,
            "prefix_blocks_shared": (prefix_tokens // block_size), "tokens_not_recomputed":
            (sequences - 1) * (prefix_tokens // block_size) * block_size}


# ============================================================================ the trace

@dataclass(frozen=True)
class Request:
    id: int
    arrival_s: float
    prompt: tuple[int, ...]
    output_tokens: int

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt)


def make_trace(n: int = 48, rate_per_s: float = 400.0, prompt_tokens: tuple[int, int] = (16, 96),
               output_tokens: tuple[int, int] = (4, 128), vocab: int = 512, seed: int = 0) -> list[Request]:
    """A seeded synthetic trace: Poisson arrivals at ``rate_per_s``, prompt lengths uniform in
    ``prompt_tokens``, output lengths log-uniform in ``output_tokens`` (many short answers, a few long
    ones: the spread that hurts request-level batching), random prompt token ids."""
    rng = np.random.default_rng(seed)
    count("n", n)
    gaps = rng.exponential(1.0 / positive("rate_per_s", rate_per_s), n)
    arrivals = np.cumsum(gaps)
    lo, hi = output_tokens
    if not (1 <= lo <= hi and 1 <= prompt_tokens[0] <= prompt_tokens[1]):
        raise ValueError("length ranges must be 1 <= low <= high")
    outputs = np.rint(np.exp(rng.uniform(math.log(lo), math.log(hi), n))).astype(int)
    prompts = rng.integers(prompt_tokens[0], prompt_tokens[1] + 1, n)
    return [Request(i, float(arrivals[i]), tuple(int(t) for t in rng.integers(0, vocab, int(prompts[i]))),
                    int(outputs[i])) for i in range(n)]


# ============================================================================ serving

@dataclass
class _Live:
    request: Request
    tokens: list[int] = field(default_factory=list)          # generated so far
    first_token_s: float | None = None
    token_times: list[float] = field(default_factory=list)
    preemptions: int = 0

    @property
    def cached(self) -> int:
        """Tokens whose KV is in the cache: the prompt and every generated token but the last."""
        return self.request.prompt_tokens + max(0, len(self.tokens) - 1)

    @property
    def done(self) -> bool:
        return len(self.tokens) >= self.request.output_tokens


@dataclass
class ServingResult:
    """What one policy did on one trace: a row per request, and time series of the KV cache."""

    policy: str
    requests: pd.DataFrame
    kv: pd.DataFrame
    block_size: int
    iterations: int
    preemptions: int
    kv_bytes_per_token: float

    @property
    def makespan_s(self) -> float:
        return float(self.requests["finish_s"].max() - self.requests["arrival_s"].min())

    @property
    def throughput_tokens_s(self) -> float:
        return float(self.requests["output_tokens"].sum() / self.makespan_s)

    def kv_waste_fraction(self) -> float:
        """Time-weighted share of the allocated KV slots that held no token."""
        kv = self.kv[self.kv["allocated_slots"] > 0]
        return float(((kv["allocated_slots"] - kv["used_slots"]) * kv["duration_s"]).sum()
                     / (kv["allocated_slots"] * kv["duration_s"]).sum())

    def summary(self) -> dict[str, float]:
        r = self.requests
        tpot = r["tpot_s"].dropna().tolist()
        return {
            "policy": self.policy,
            "throughput_tokens_s": self.throughput_tokens_s,
            "ttft_p50_ms": estimates.latency_percentile(r["ttft_s"], 50) * 1e3,
            "ttft_p99_ms": estimates.latency_percentile(r["ttft_s"], 99) * 1e3,
            "tpot_p50_ms": estimates.latency_percentile(tpot, 50) * 1e3,
            "tpot_p99_ms": estimates.latency_percentile(tpot, 99) * 1e3,
            "kv_wasted_pct": self.kv_waste_fraction() * 100,
            "kv_peak_mb": float(self.kv["allocated_slots"].max() * self.kv_bytes_per_token / 1e6),
            "preemptions": self.preemptions,
            "iterations": self.iterations,
        }

    def goodput(self, ttft_slo_s: float, tpot_slo_s: float) -> float:
        r = self.requests
        tpot = [None if pd.isna(x) else float(x) for x in r["tpot_s"]]
        return estimates.goodput_requests_per_s(r["ttft_s"].tolist(), tpot, ttft_slo_s, tpot_slo_s, self.makespan_s)

    def prometheus(self, model_name: str = "tiny-numpy-decoder") -> str:
        """The run as a vLLM-style ``/metrics`` scrape: TTFT and inter-token-latency histograms with
        vLLM's bucket bounds, request and token counters, preemptions."""
        label = f'model_name="{model_name}"'
        lines: list[str] = []
        ttft = self.requests["ttft_s"].tolist()
        itl = [g for gaps in self.requests["itl_s"] for g in gaps]
        for name, about, values, bounds in (
                ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttft, TTFT_BUCKETS_S),
                ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itl, ITL_BUCKETS_S)):
            cumulative = [sum(v <= b for v in values) for b in bounds] + [len(values)]
            lines += format_histogram(name, bounds, cumulative, {"model_name": model_name}, sum(values), about).splitlines()
        for name, about, value in (
                ("vllm:generation_tokens_total", "Number of generation tokens processed.", self.requests["output_tokens"].sum()),
                ("vllm:prompt_tokens_total", "Number of prefill tokens processed.", self.requests["prompt_tokens"].sum()),
                ("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", self.preemptions)):
            lines += [f"# HELP {name} {about}", f"# TYPE {name} counter", f"{name}{{{label}}} {float(value)!r}"]
        return "\n".join(lines) + "\n"


def _result(policy: str, lives: Iterable[_Live], kv_rows: list[dict], block_size: int, iterations: int,
            preemptions: int, kv_bytes_per_token: float) -> ServingResult:
    rows = []
    for live in sorted(lives, key=lambda l: l.request.id):
        times = live.token_times
        r = live.request
        itl = [b - a for a, b in zip(times, times[1:])]
        rows.append({"id": r.id, "arrival_s": r.arrival_s, "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens,
                     "first_token_s": times[0], "finish_s": times[-1], "ttft_s": times[0] - r.arrival_s,
                     "tpot_s": (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else float("nan"),
                     "itl_s": itl, "preemptions": live.preemptions, "tokens": tuple(live.tokens)})
    return ServingResult(policy, pd.DataFrame(rows), pd.DataFrame(kv_rows), block_size, iterations, preemptions,
                         kv_bytes_per_token)


def admit_fcfs(waiting: Sequence[tuple[int, int]], free_blocks: int, block_size: int, running: int,
               max_batch: int, token_budget: int | None = None) -> list[int]:
    """Which waiting requests a continuous-batching scheduler admits this iteration, first come first
    served. ``waiting`` lists (request id, tokens to prefill) in arrival order. Each admitted request
    takes ⌈tokens ÷ block size⌉ of the ``free_blocks``, one of the ``max_batch − running`` free batch
    slots and, with a ``token_budget`` (tokens an iteration may process, vLLM's
    ``max_num_batched_tokens``), its tokens from what the ``running`` sequences' one decode token
    each leave of the budget. Admission stops at the first request that does not fit (no skipping
    ahead), as vLLM's FCFS policy does. Returns the admitted ids in order."""
    size = count("block_size", block_size)
    busy = count("running", running, minimum=0)
    slots = count("max_batch", max_batch) - busy
    left = count("free_blocks", free_blocks, minimum=0)
    budget = math.inf if token_budget is None else count("token_budget", token_budget) - busy
    admitted = []
    for request_id, tokens in waiting:
        need = estimates.kv_blocks_needed(count("tokens", tokens), size)
        if slots <= 0 or need > left or tokens > budget:
            break
        admitted.append(request_id)
        left -= need
        slots -= 1
        budget -= tokens
    return admitted


def _kv_row(now: float, duration: float, allocator: BlockAllocator, lives: Iterable[_Live], reserved: bool) -> dict:
    used = sum(l.cached for l in lives)
    return {"time_s": now, "duration_s": duration, "allocated_slots": allocator.used_blocks * allocator.block_size,
            "used_slots": used, "free_blocks": allocator.free_blocks}


def serve_continuous(model: TinyDecoder, trace: Sequence[Request], kv_blocks: int = 96, block_size: int = 16,
                     max_batch: int = 16, token_budget: int = 512) -> ServingResult:
    """Serve ``trace`` with continuous batching (see :func:`_continuous`) and return what happened."""
    return _drive(_continuous(model, trace, kv_blocks, block_size, max_batch, token_budget))


def serve_static(model: TinyDecoder, trace: Sequence[Request], kv_blocks: int = 96, block_size: int = 16,
                 max_batch: int = 16, reserve_tokens: int | None = None) -> ServingResult:
    """Serve ``trace`` with static batching (see :func:`_static`) and return what happened."""
    return _drive(_static(model, trace, kv_blocks, block_size, max_batch, reserve_tokens))


def serve_side_by_side(model: TinyDecoder, trace: Sequence[Request], kv_blocks: int = 96, block_size: int = 16,
                       max_batch: int = 16, token_budget: int = 512) -> tuple[ServingResult, ServingResult]:
    """(continuous, static) on the same trace, run step for step: the policy whose serving clock is
    behind takes the next iteration. Both cross the same stretch of real time together, so other
    programs slowing this machine down slow both alike and the comparison stays fair."""
    runs = [_continuous(model, trace, kv_blocks, block_size, max_batch, token_budget),
            _static(model, trace, kv_blocks, block_size, max_batch, None)]
    clocks, results = [0.0, 0.0], [None, None]
    while any(r is None for r in results):
        i = min((j for j in (0, 1) if results[j] is None), key=lambda j: clocks[j])
        try:
            clocks[i] = next(runs[i])
        except StopIteration as stop:
            results[i] = stop.value
    return results[0], results[1]


def _drive(steps) -> ServingResult:
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def _continuous(model: TinyDecoder, trace: Sequence[Request], kv_blocks: int, block_size: int, max_batch: int,
                token_budget: int):
    """Iteration-level (continuous) batching with a paged KV cache (Orca's scheduling, vLLM's memory).

    Every iteration: (1) make sure each running sequence has a slot for its next token, preempting the
    most recently admitted ones (their blocks are freed and they go back to the front of the queue, to
    be recomputed later) when blocks run out; (2) admit waiting requests first come first served while
    a batch slot and the blocks for their prompt are free (:func:`admit_fcfs`); (3) prefill the
    admitted ones and run one decode step for the others; (4) free finished sequences at once.
    """
    cache = PagedKVCache(model.config, kv_blocks, block_size)
    alloc = cache.allocator
    pending = deque(sorted(trace, key=lambda r: r.arrival_s))
    waiting: deque[_Live] = deque()
    running: list[_Live] = []
    finished: list[_Live] = []
    now, iterations, preemptions, kv_rows = 0.0, 0, 0, []
    longest = max(r.prompt_tokens + r.output_tokens for r in trace)
    if alloc.blocks_for(longest) > kv_blocks:
        raise ValueError(f"the longest request needs {alloc.blocks_for(longest)} blocks, the cache has {kv_blocks}")
    if longest > token_budget:
        raise ValueError(f"token_budget {token_budget} is below the longest request ({longest} tokens): without "
                         "chunked prefill it could never be (re)computed")
    while pending or waiting or running:
        while pending and pending[0].arrival_s <= now:
            waiting.append(_Live(pending.popleft()))
        if not waiting and not running:
            now = pending[0].arrival_s
            continue
        # (1) room for every running sequence's next token, preempting the newest first
        while running:
            need = sum(alloc.missing(l.request.id, l.cached + 1) for l in running)
            if need <= alloc.free_blocks:
                break
            victim = running.pop()
            alloc.free(victim.request.id)
            victim.preemptions += 1
            preemptions += 1
            waiting.appendleft(victim)
        # (2) admit first come first served
        queue = [(l.request.id, l.request.prompt_tokens + len(l.tokens)) for l in waiting]
        spare = alloc.free_blocks - sum(alloc.missing(l.request.id, l.cached + 1) for l in running)
        admitted_ids = admit_fcfs(queue, max(0, spare), block_size, len(running), max_batch, token_budget)
        admitted = [waiting.popleft() for _ in admitted_ids]
        # (3) one iteration of real model work, timed
        start = time.perf_counter()
        emitted: list[tuple[_Live, int]] = []
        if running:
            logits = model.decode(cache, [l.request.id for l in running], [l.tokens[-1] for l in running],
                                  [l.cached for l in running])
            emitted += list(zip(running, logits.argmax(axis=1).tolist()))
        for live in admitted:
            context = list(live.request.prompt) + live.tokens            # recompute after a preemption
            emitted.append((live, int(model.prefill(cache, live.request.id, context).argmax())))
        elapsed = time.perf_counter() - start
        now += elapsed
        iterations += 1
        for live, token in emitted:
            live.tokens.append(token)
            live.token_times.append(now)
        running += admitted
        kv_rows.append(_kv_row(now, elapsed, alloc, running, False))
        yield now
        # (4) finished sequences leave at once
        for live in [l for l in running if l.done]:
            alloc.free(live.request.id)
            running.remove(live)
            finished.append(live)
    alloc.check()
    return _result("continuous", finished, kv_rows, block_size, iterations, preemptions, model.config.kv_bytes_per_token)


def _static(model: TinyDecoder, trace: Sequence[Request], kv_blocks: int, block_size: int, max_batch: int,
            reserve_tokens: int | None = None):
    """Request-level (static) batching, the baseline: when the engine is free it takes up to
    ``max_batch`` waiting requests first come first served, each reserving KV for ``reserve_tokens``
    (default: the trace's longest prompt plus its longest output, the maximum a padded batch can
    reach) up front; it prefills them and decodes the
    whole batch until its longest request is done (finished rows keep computing, as padding), and only
    then frees the memory and takes the next batch. Arrivals during a batch wait for it to end."""
    cache = PagedKVCache(model.config, kv_blocks, block_size)
    alloc = cache.allocator
    reserve = reserve_tokens or (max(r.prompt_tokens for r in trace) + max(r.output_tokens for r in trace))
    if alloc.blocks_for(reserve) > kv_blocks:
        raise ValueError("the cache cannot hold even one reservation")
    pending = deque(sorted(trace, key=lambda r: r.arrival_s))
    waiting: deque[_Live] = deque()
    finished: list[_Live] = []
    now, iterations, kv_rows = 0.0, 0, []
    while pending or waiting:
        while pending and pending[0].arrival_s <= now:
            waiting.append(_Live(pending.popleft()))
        if not waiting:
            now = pending[0].arrival_s
            continue
        batch: list[_Live] = []
        while waiting and len(batch) < max_batch and alloc.can_grow(waiting[0].request.id, reserve):
            live = waiting.popleft()
            alloc.grow(live.request.id, reserve)
            batch.append(live)
        start = time.perf_counter()
        firsts = [int(model.prefill(cache, l.request.id, l.request.prompt).argmax()) for l in batch]
        elapsed = time.perf_counter() - start
        now += elapsed
        iterations += 1
        for live, token in zip(batch, firsts):
            live.tokens.append(token)
            live.token_times.append(now)
        kv_rows.append(_kv_row(now, elapsed, alloc, batch, True))
        yield now
        steps = max(l.request.output_tokens for l in batch) - 1
        padded = [0] * len(batch)                                   # tokens computed past a request's end
        for _ in range(steps):
            start = time.perf_counter()
            positions = [l.request.prompt_tokens + len(l.tokens) - 1 + p for l, p in zip(batch, padded)]
            last = [l.tokens[-1] for l in batch]
            logits = model.decode(cache, [l.request.id for l in batch], last, positions)
            elapsed = time.perf_counter() - start
            now += elapsed
            iterations += 1
            for row, (live, token) in enumerate(zip(batch, logits.argmax(axis=1).tolist())):
                if live.done:
                    padded[row] += 1
                else:
                    live.tokens.append(token)
                    live.token_times.append(now)
            kv_rows.append(_kv_row(now, elapsed, alloc, batch, True))
            yield now
        for live in batch:
            alloc.free(live.request.id)
            finished.append(live)
    alloc.check()
    return _result("static", finished, kv_rows, block_size, iterations, 0, model.config.kv_bytes_per_token)


# ============================================================================ decode step time vs batch

@dataclass
class DecodeCurve:
    """Measured decode step times against batch size, and this machine's roofline prediction."""

    config: ModelConfig
    context_tokens: int
    table: pd.DataFrame
    peak_flop_s: float | None = None
    bandwidth_bytes_s: float | None = None

    def with_roofline(self, peak_flop_s: float, bandwidth_bytes_s: float) -> DecodeCurve:
        """The curve with a ``roofline_ms`` column: max(bytes ÷ bandwidth, FLOPs ÷ peak) for each batch."""
        table = self.table.copy()
        table["roofline_ms"] = [estimates.roofline_time_s(f, b, peak_flop_s, bandwidth_bytes_s) * 1e3
                                for f, b in zip(table["flops"], table["bytes_read"])]
        return DecodeCurve(self.config, self.context_tokens, table, peak_flop_s, bandwidth_bytes_s)

    @property
    def knee_batch(self) -> int:
        """The batch where the roofline turns from memory- to compute-bound on this machine."""
        if self.peak_flop_s is None:
            raise ValueError("call with_roofline() first")
        ridge = estimates.ridge_point(self.peak_flop_s, self.bandwidth_bytes_s)
        above = self.table[self.table["intensity_flop_per_byte"] >= ridge]
        return int(above["batch"].iloc[0]) if len(above) else int(self.table["batch"].max())


def measure_decode_curve(config: ModelConfig, batches: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
                         context_tokens: int = 32, repeats: int = 3) -> DecodeCurve:
    """Time one decode step of ``config``'s model at each batch size (best of ``repeats`` passes over
    all the batch sizes, after a warm-up pass: interleaving the passes and keeping the best makes a
    burst of other work on a shared machine spoil at most one pass of each size), every sequence
    holding ``context_tokens`` tokens of KV cache. Columns: ``batch, step_ms, ms_per_token,
    tokens_per_s, flops, bytes_read, intensity_flop_per_byte``."""
    model = TinyDecoder(config)
    ctx = count("context_tokens", context_tokens)
    setups = []
    for b in batches:
        b = count("batch", b)
        cache = PagedKVCache(config, b * estimates.kv_blocks_needed(ctx + 1, 16) + 1, 16)
        for seq in range(b):
            cache.allocator.grow(seq, ctx + 1)
        cache.keys[...] = 0.01                   # the cache's values do not change the time a step takes
        cache.values[...] = 0.01
        setups.append((b, cache, list(range(b)), [1] * b, [ctx] * b))
    best = {b: math.inf for b, *_ in setups}
    for round_ in range(count("repeats", repeats) + 1):          # round 0 warms up; passes interleave batches
        for b, cache, seqs, tokens, positions in setups:
            start = time.perf_counter()
            model.decode(cache, seqs, tokens, positions)
            if round_:
                best[b] = min(best[b], time.perf_counter() - start)
    rows = []
    for b, *_ in setups:
        flops = estimates.decode_flops_per_step(config.params, b)
        moved = estimates.decode_bytes_per_step(config.weight_bytes, b, ctx + 1, config.kv_bytes_per_token)
        rows.append({"batch": b, "step_ms": best[b] * 1e3, "ms_per_token": best[b] * 1e3 / b, "tokens_per_s": b / best[b],
                     "flops": flops, "bytes_read": moved, "intensity_flop_per_byte": flops / moved})
    return DecodeCurve(config, ctx, pd.DataFrame(rows))


# ============================================================================ the whole lab

def _openblas():
    """NumPy's bundled OpenBLAS as (get, set) functions for its thread count, or None if not found."""
    import ctypes
    import glob
    import os

    folder = os.path.dirname(np.__file__) + ".libs"
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, put in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                         ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                         ("openblas_get_num_threads", "openblas_set_num_threads")):
            if hasattr(lib, get) and hasattr(lib, put):
                return getattr(lib, get), getattr(lib, put)
    return None


@contextmanager
def blas_threads(threads: int = 1):
    """Run the block with NumPy's OpenBLAS limited to ``threads`` threads (nothing changes where NumPy
    uses another BLAS). The previous setting comes back afterwards."""
    count("threads", threads)
    handles = _openblas()
    if handles is None:
        yield None
        return
    get, put = handles
    before = int(get())
    put(int(threads))
    try:
        yield threads
    finally:
        put(before)


QUICK = {"curve_model": ModelConfig(d_model=512, ffn=2048, layers=2, heads=8, kv_heads=2, seed=1),
         "curve_batches": (1, 2, 4, 8, 16, 32, 64, 128, 256), "curve_repeats": 2,
         "serve_model": ModelConfig(d_model=128, ffn=384, layers=2, heads=4, kv_heads=2), "requests": 24,
         "rate_per_s": 1000.0, "prompt_tokens": (16, 96), "output_tokens": (4, 80), "kv_blocks": 48,
         "max_batch": 16, "token_budget": 512}
FULL = {"curve_model": ModelConfig(d_model=1024, ffn=4096, layers=4, heads=16, kv_heads=4, seed=1),
        "curve_batches": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512), "curve_repeats": 5,
        "serve_model": ModelConfig(), "requests": 128, "rate_per_s": 500.0, "prompt_tokens": (16, 128),
        "output_tokens": (4, 160), "kv_blocks": 192, "max_batch": 32, "token_budget": 1024}


@dataclass
class LabResult:
    curve: DecodeCurve
    continuous: ServingResult
    static: ServingResult
    trace: list[Request]

    def comparison(self) -> pd.DataFrame:
        """One row a policy: throughput, TTFT and TPOT percentiles, KV memory wasted, preemptions."""
        return pd.DataFrame([self.continuous.summary(), self.static.summary()])

    def relative_slo(self, multiple: float = 4.0) -> tuple[float, float]:
        """(TTFT SLO, TPOT SLO) in seconds at ``multiple`` times the continuous policy's median TTFT and
        TPOT on this machine: an SLO that scales with the machine the lab ran on."""
        r = self.continuous.requests
        tpot = r["tpot_s"].dropna().tolist()
        m = positive("multiple", multiple)
        return (m * estimates.latency_percentile(r["ttft_s"], 50), m * estimates.latency_percentile(tpot, 50))

    def goodput(self, ttft_slo_s: float, tpot_slo_s: float) -> dict[str, float]:
        """Requests a second within both SLOs, for each policy."""
        return {r.policy: r.goodput(ttft_slo_s, tpot_slo_s) for r in (self.continuous, self.static)}

    def plot_curve(self) -> Figure:
        """The measured decode curve (lesson 8's chart)."""
        from ..charts.inference import lab_decode_curve

        return lab_decode_curve(self.curve)

    def plot_serving(self) -> Figure:
        """Continuous against static batching on the same trace."""
        from ..charts.inference import lab_serving_comparison

        return lab_serving_comparison(self.continuous, self.static)


def run(quick: bool = True, roofline: tuple[float, float] | None = None, seed: int = 0, threads: int = 1,
        **overrides) -> LabResult:
    """The whole lab: the decode curve (with this machine's roofline: lesson 2's quick measurement,
    made under the same BLAS setting, or ``roofline=(peak_flop_s, bandwidth_bytes_s)``) and both
    policies side by side on one seeded trace. BLAS runs on ``threads`` threads meanwhile."""
    settings = dict(QUICK if quick else FULL)
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; use {sorted(settings)}")
    settings.update(overrides)
    with blas_threads(threads):
        if roofline is None:
            from . import roofline as roofline_lab

            measured = roofline_lab.measure(quick=True)
            roofline = (measured.peak_flop_s, measured.bandwidth_bytes_s)
        curve = measure_decode_curve(settings["curve_model"], settings["curve_batches"],
                                     repeats=settings["curve_repeats"]).with_roofline(*roofline)
        model = TinyDecoder(settings["serve_model"])
        trace = make_trace(settings["requests"], settings["rate_per_s"], settings["prompt_tokens"],
                           settings["output_tokens"], settings["serve_model"].vocab, seed)
        kw = dict(kv_blocks=settings["kv_blocks"], max_batch=settings["max_batch"])
        continuous, static = serve_side_by_side(model, trace, token_budget=settings["token_budget"], **kw)
    return LabResult(curve, continuous, static, trace)


# ============================================================================ Prometheus text

_SAMPLE = re.compile(r'^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[dict]:
    """Samples of a Prometheus text-format scrape: dicts ``{"name", "labels", "value"}`` (comments skipped)."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ValueError(f"not a Prometheus sample line: {line!r}")
        labels = dict(_LABEL.findall(match["labels"] or ""))
        samples.append({"name": match["name"], "labels": labels, "value": float(match["value"])})
    return samples


def _bucket_counts(text: str, metric: str, labels: Mapping[str, str]) -> dict[float, float]:
    counts: dict[float, float] = {}
    for sample in parse_metrics(text):
        if sample["name"] != f"{metric}_bucket":
            continue
        if any(sample["labels"].get(k) != v for k, v in labels.items()):
            continue
        bound = float(sample["labels"]["le"])
        counts[bound] = counts.get(bound, 0.0) + sample["value"]
    return counts


def histogram(text: str, metric: str, since: str | None = None, **labels: str) -> tuple[list[float], list[float]]:
    """(upper bounds, cumulative counts) of histogram ``metric`` in a scrape, summed over every series
    whose labels include ``labels`` (PromQL's ``sum by (le)``). With ``since`` (an earlier scrape of
    the same server), the counts of the interval between the two (what ``increase()`` computes)."""
    counts = _bucket_counts(text, metric, labels)
    if not counts:
        raise ValueError(f"no {metric}_bucket samples match {labels or 'any labels'}")
    if since is not None:
        before = _bucket_counts(since, metric, labels)
        if set(before) != set(counts):
            raise ValueError("the two scrapes have different buckets")
        counts = {b: counts[b] - before[b] for b in counts}
        if any(v < 0 for v in counts.values()):
            raise ValueError("the later scrape has fewer observations: did the server restart?")
    bounds = sorted(counts)
    return bounds, [counts[b] for b in bounds]


def histogram_quantiles(text: str, metric: str, quantiles: Sequence[float] = (0.5, 0.99), since: str | None = None,
                        **labels: str) -> list[float]:
    """Quantiles of a histogram in a scrape (over the interval after ``since`` if given), by
    :func:`infraprep.estimates.histogram_quantile`."""
    bounds, counts = histogram(text, metric, since, **labels)
    return [estimates.histogram_quantile(q, bounds, counts) for q in quantiles]


def format_histogram(metric: str, bounds: Sequence[float], cumulative: Sequence[float], labels: Mapping[str, str],
                     total: float = 0.0, about: str = "") -> str:
    """One histogram series in Prometheus' text format (``_bucket`` lines with ``le`` in label order,
    the +Inf bucket, ``_sum`` and ``_count``): ``cumulative`` has one count a bound plus the +Inf count."""
    if len(cumulative) != len(bounds) + 1:
        raise ValueError("give a cumulative count for every bound and one for +Inf")

    def render(extra: dict[str, str]) -> str:
        merged = {**labels, **extra}
        return ",".join(f'{k}="{merged[k]}"' for k in sorted(merged))

    lines = [f"# HELP {metric} {about or 'Histogram.'}", f"# TYPE {metric} histogram",
             f"{metric}_sum{{{render({})}}} {float(total)!r}"]
    for bound, value in zip([*map(float, bounds), math.inf], cumulative):
        le = "+Inf" if math.isinf(bound) else repr(bound)
        lines.append(f"{metric}_bucket{{{render({'le': le})}}} {float(value)!r}")
    lines.append(f"{metric}_count{{{render({})}}} {float(cumulative[-1])!r}")
    return "\n".join(lines) + "\n"


_STATS = re.compile(
    r"INFO (?P<stamp>\d\d-\d\d \d\d:\d\d:\d\d) \[[^\]]+\] Engine (?P<engine>\d+): "
    r"Avg prompt throughput: (?P<prompt>[\d.]+) tokens/s, Avg generation throughput: (?P<gen>[\d.]+) tokens/s, "
    r"Running: (?P<running>\d+) reqs, Waiting: (?P<waiting>\d+) reqs, (?:Preemptions: (?P<preempt>\d+), )?"
    r"GPU KV cache usage: (?P<kv>[\d.]+)%(?:, Prefix cache hit rate: (?P<hit>[\d.]+)%)?")


def engine_stats(log: str) -> pd.DataFrame:
    """The periodic ``Engine NNN: Avg prompt throughput ...`` lines of a vLLM log as a table: ``time``
    (MM-DD HH:MM:SS as logged), ``engine``, prompt and generation tokens/s, running and waiting
    requests, preemptions in the interval, KV-cache usage and prefix-cache hit rate (%)."""
    rows = []
    for match in _STATS.finditer(log):
        rows.append({"time": match["stamp"], "engine": int(match["engine"]),
                     "prompt_tokens_s": float(match["prompt"]), "generation_tokens_s": float(match["gen"]),
                     "running": int(match["running"]), "waiting": int(match["waiting"]),
                     "preemptions": int(match["preempt"] or 0), "kv_cache_usage_pct": float(match["kv"]),
                     "prefix_hit_pct": float(match["hit"]) if match["hit"] else float("nan")})
    return pd.DataFrame(rows, columns=["time", "engine", "prompt_tokens_s", "generation_tokens_s", "running",
                                       "waiting", "preemptions", "kv_cache_usage_pct", "prefix_hit_pct"])
