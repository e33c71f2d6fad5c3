"""Inference serving estimates: prefill and decode on the roofline, KV capacity, queues, speculation, cost.

Units: FLOPs, FLOP/s, bytes, bytes/s, seconds, tokens, requests/s, US dollars.

The two phases of serving a transformer with N parameters:

- **prefill** reads the prompt's T tokens at once: about 2·N·T FLOPs (a forward pass is 2 FLOPs a
  parameter a token, a third of training's 6·N·D), so it is compute-bound and sets the time to
  first token (TTFT);
- **decode** makes one token a sequence a step: every step reads all the weights (and each
  sequence's KV cache) once, for 2·N·B FLOPs at batch B, so at small batch it is memory-bound and
  its arithmetic intensity is about B FLOPs a byte of BF16 weights (2·N·B FLOPs ÷ 2·N bytes).

Beyond the two phases: KV-cache paging and its waste (Kwon et al., "Efficient Memory Management
for Large Language Model Serving with PagedAttention", SOSP 2023), latency percentiles from a list
of measurements or from a Prometheus histogram, SLO attainment and goodput (Zhong et al.,
"DistServe", OSDI 2024), mixture-of-experts reads, tensor-parallel decode, disaggregated pools and a
whole serving plan (GPUs for a load under TTFT and TPOT SLOs, and its $ per million tokens).

Sources: Pope et al., "Efficiently Scaling Transformer Inference" (MLSys 2023), §2-3; Austin et al.,
"How to Scale Your Model" (2025), the inference chapter; Leviathan et al., "Fast Inference from
Transformers via Speculative Decoding" (ICML 2023), §3; Little, "A Proof for the Queuing Formula
L = λW" (Operations Research, 1961).
"""

from __future__ import annotations

import math

from collections.abc import Sequence

from . import communication
from ._validate import count, fraction, non_negative, positive

# KV-cache bytes a token: memory.kv_cache_bytes_per_token (with GQA, kv_heads is the number of KV
# groups - 8 for Llama 3 70B - not of query heads: Ainslie et al., "GQA", EMNLP 2023).

__all__ = [
    "prefill_flops", "prefill_time_s", "decode_flops_per_step", "decode_bytes_per_step", "decode_step_time_s",
    "decode_tokens_per_s", "decode_intensity", "kv_capacity_sequences",
    "littles_law_concurrency", "speculative_expected_tokens", "speculative_speedup", "max_batch_for_tpot",
    "replicas_for_load", "cost_per_million_tokens", "kv_transfer_time_s", "weight_load_time_s",
    "kv_bytes_per_token_latent", "model_kv_bytes_per_token", "moe_param_split", "kv_blocks_needed", "paged_kv_waste_fraction", "reserved_kv_waste_fraction",
    "latency_percentile", "histogram_quantile", "slo_attainment", "goodput_requests_per_s",
    "speculative_best_draft_tokens", "moe_expected_experts", "moe_weight_bytes_per_step",
    "tensor_parallel_decode_step_time_s", "disaggregated_pool_gpus", "prefill_tokens_per_s", "serving_plan",
]


def prefill_flops(params: float, prompt_tokens: float) -> float:
    """Forward-pass FLOPs of a prompt: 2·N·T (attention's own T² term left out; it matters only when
    the context is long compared with the model width).

    Source: Kaplan et al. (2020) §2.1 (2N FLOPs a token forward); Pope et al. (2023) §2.
    """
    return 2.0 * positive("params", params) * positive("prompt_tokens", prompt_tokens)


def prefill_time_s(params: float, prompt_tokens: float, peak_flop_s: float, mfu: float = 1.0) -> float:
    """Seconds to prefill a prompt on hardware with ``peak_flop_s`` at utilisation ``mfu``:
    2·N·T ÷ (peak · MFU). A lower bound on the time to first token (queueing and the first decode
    step come on top)."""
    return prefill_flops(params, prompt_tokens) / (positive("peak_flop_s", peak_flop_s) * fraction("mfu", mfu))


def decode_flops_per_step(params: float, batch: int) -> float:
    """FLOPs of one decode step for ``batch`` sequences: 2·N·B (one new token each)."""
    return 2.0 * positive("params", params) * count("batch", batch)


def decode_bytes_per_step(weight_bytes: float, batch: int, context_tokens: float, kv_bytes_token: float) -> float:
    """Bytes read from HBM by one decode step: all the weights once, plus each sequence's KV cache
    (``context_tokens`` tokens of ``kv_bytes_token`` bytes each)."""
    return (positive("weight_bytes", weight_bytes)
            + count("batch", batch) * non_negative("context_tokens", context_tokens)
            * non_negative("kv_bytes_token", kv_bytes_token))


def decode_step_time_s(params: float, weight_bytes: float, batch: int, peak_flop_s: float, bandwidth_bytes_s: float,
                       context_tokens: float = 0.0, kv_bytes_token: float = 0.0,
                       mfu: float = 1.0, mbu: float = 1.0, split_attention: bool = False) -> float:
    """Seconds a decode step takes on the roofline. This is also the time per output token
    (TPOT) each sequence of the batch sees.

    By default, the roofline bound of the whole step: the larger of the memory time (weights and
    KV cache read ÷ bandwidth · MBU) and the compute time (2·N·B ÷ peak · MFU). With
    ``split_attention=True``, the form of Austin et al.'s inference chapter: attention runs as its
    own kernels and is always bandwidth-bound (each sequence reads its own cache, so nothing is
    reused), so its KV read time is added to the larger of the weight-read and matmul times. The two
    agree whenever the matmuls are memory-bound; past the ridge point the split form is the longer.

    MBU, model bandwidth utilisation, is to memory what MFU is to compute (Databricks' name for it).
    """
    bandwidth = positive("bandwidth_bytes_s", bandwidth_bytes_s) * fraction("mbu", mbu)
    compute = decode_flops_per_step(params, batch) / (positive("peak_flop_s", peak_flop_s) * fraction("mfu", mfu))
    if split_attention:
        weights = positive("weight_bytes", weight_bytes) / bandwidth
        kv = decode_bytes_per_step(weight_bytes, batch, context_tokens, kv_bytes_token) / bandwidth - weights
        return kv + max(weights, compute)
    memory = decode_bytes_per_step(weight_bytes, batch, context_tokens, kv_bytes_token) / bandwidth
    return max(memory, compute)


def decode_tokens_per_s(step_time_s: float, batch: int) -> tuple[float, float]:
    """(tokens/s each sequence sees, tokens/s the whole batch makes) for a decode step of ``step_time_s``."""
    step = positive("step_time_s", step_time_s)
    return 1.0 / step, count("batch", batch) / step


def decode_intensity(batch: int, bytes_per_param: float = 2) -> float:
    """Arithmetic intensity of decode, KV cache left out: 2·N·B FLOPs ÷ (N · bytes a parameter)
    = 2·B ÷ bytes a parameter (B FLOP/byte in BF16). Decode stops being memory-bound when this
    reaches the GPU's ridge point (about 295 FLOP/byte on an H100 SXM, so B ≈ 295 in BF16)."""
    return 2.0 * count("batch", batch) / positive("bytes_per_param", bytes_per_param)


def kv_capacity_sequences(free_bytes: float, tokens_per_sequence: float, kv_bytes_token: float) -> int:
    """How many sequences of ``tokens_per_sequence`` fit in ``free_bytes`` of KV cache (whole sequences)."""
    per_sequence = positive("tokens_per_sequence", tokens_per_sequence) * positive("kv_bytes_token", kv_bytes_token)
    return int(non_negative("free_bytes", free_bytes) // per_sequence)


def littles_law_concurrency(arrival_rate_per_s: float, time_in_system_s: float) -> float:
    """Little's law, L = λ·W: requests in flight on average, for arrivals at λ a second that each
    stay W seconds. Holds for any arrival pattern and any scheduler, in steady state."""
    return positive("arrival_rate_per_s", arrival_rate_per_s) * positive("time_in_system_s", time_in_system_s)


def speculative_expected_tokens(acceptance_rate: float, draft_tokens: int) -> float:
    """Expected tokens one target-model pass yields with speculative decoding: (1 − α^(k+1)) ÷ (1 − α)
    for acceptance rate α and k drafted tokens (k + 1 when every draft is accepted).

    Source: Leviathan et al. (ICML 2023), §3.1, equation (1); the α is assumed independent token to token.
    """
    alpha = fraction("acceptance_rate", acceptance_rate, allow_zero=True)
    k = count("draft_tokens", draft_tokens)
    if alpha == 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def speculative_speedup(acceptance_rate: float, draft_tokens: int, draft_cost_ratio: float) -> float:
    """Walltime speed-up of speculative decoding over plain decoding: expected tokens a pass ÷
    (k · c + 1), where c is the cost of a draft step relative to a target step.

    Source: Leviathan et al. (ICML 2023), §3.4, Theorem 3.8. Below 1 it no longer pays.
    """
    c = non_negative("draft_cost_ratio", draft_cost_ratio)
    k = count("draft_tokens", draft_tokens)
    return speculative_expected_tokens(acceptance_rate, k) / (k * c + 1.0)


def max_batch_for_tpot(tpot_slo_s: float, params: float, weight_bytes: float, peak_flop_s: float,
                       bandwidth_bytes_s: float, context_tokens: float = 0.0, kv_bytes_token: float = 0.0,
                       mfu: float = 1.0, mbu: float = 1.0, limit: int = 65_536, split_attention: bool = False) -> int:
    """The largest decode batch whose step time stays within the time-per-output-token SLO
    (0 when even a batch of 1 misses it). Step time grows with the batch, so a bisection finds it."""
    slo = positive("tpot_slo_s", tpot_slo_s)

    def step(b: int) -> float:
        return decode_step_time_s(params, weight_bytes, b, peak_flop_s, bandwidth_bytes_s,
                                  context_tokens, kv_bytes_token, mfu, mbu, split_attention)

    if step(1) > slo:
        return 0
    low, high = 1, count("limit", limit)
    if step(high) <= slo:
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if step(middle) <= slo:
            low = middle
        else:
            high = middle
    return low


def replicas_for_load(requests_per_s: float, output_tokens_per_request: float, tokens_per_s_per_replica: float,
                      headroom: float = 1.0) -> int:
    """Replicas needed to keep up with the load: output tokens a second needed ÷ what one replica makes,
    rounded up, with ``headroom`` (e.g. 1.25 to keep 20 % spare)."""
    need = positive("requests_per_s", requests_per_s) * positive("output_tokens_per_request", output_tokens_per_request)
    if headroom < 1:
        raise ValueError(f"headroom must be 1 or more (1.25 keeps 20 % spare), got {headroom!r}")
    return max(1, math.ceil(need * headroom / positive("tokens_per_s_per_replica", tokens_per_s_per_replica)))


def cost_per_million_tokens(price_usd_per_hour: float, tokens_per_s: float) -> float:
    """US dollars per million tokens for hardware billed at ``price_usd_per_hour`` making ``tokens_per_s``:
    price ÷ (tokens/s · 3,600) · 10⁶."""
    return positive("price_usd_per_hour", price_usd_per_hour) / (positive("tokens_per_s", tokens_per_s) * 3600.0) * 1e6


def kv_transfer_time_s(prompt_tokens: float, kv_bytes_token: float, link_bytes_s: float) -> float:
    """Seconds to move a prompt's KV cache from a prefill worker to a decode worker (disaggregated
    serving) over a link of ``link_bytes_s``, latency and protocol overhead left out."""
    return (positive("prompt_tokens", prompt_tokens) * positive("kv_bytes_token", kv_bytes_token)
            / positive("link_bytes_s", link_bytes_s))


def weight_load_time_s(weight_bytes: float, read_bytes_s: float) -> float:
    """Seconds to load a model's weights at ``read_bytes_s`` (object storage, NVMe, a peer): the floor
    under a cold start, before the server compiles kernels and warms up."""
    return positive("weight_bytes", weight_bytes) / positive("read_bytes_s", read_bytes_s)


# ---------------------------------------------------------------------------- the KV cache, paged

def kv_bytes_per_token_latent(layers: int, latent_values: int, bytes_per_value: float = 2) -> float:
    """KV-cache bytes a token for multi-head latent attention (MLA, DeepSeek-V2/V3): every layer keeps
    one compressed latent vector a token (plus the small decoupled RoPE key), shared by all heads,
    instead of a key and a value for each KV head: layers · latent values · bytes.

    DeepSeek-V3: 61 layers · (512 latent + 64 RoPE) values · 2 bytes = 70,272 bytes a token.
    Source: DeepSeek-AI, "DeepSeek-V2" (2024), §2.1, and the DeepSeek-V3 model configuration.
    """
    return float(count("layers", layers) * count("latent_values", latent_values)
                 * positive("bytes_per_value", bytes_per_value))


def model_kv_bytes_per_token(attention: str, layers: int, kv_heads: int, head_dim: int,
                             latent_values: int | None = None, bytes_per_value: float = 2) -> float:
    """KV-cache bytes a token for a model of the lesson's ``models`` table: ``attention`` is "MHA",
    "GQA" or "MQA" (2 · layers · kv_heads · head_dim · bytes, with kv_heads = query heads for MHA
    and 1 for MQA) or "MLA" (layers · latent values · bytes, :func:`kv_bytes_per_token_latent`)."""
    from .memory import kv_cache_bytes_per_token

    kind = str(attention).strip().upper()
    if kind == "MLA":
        if latent_values is None or (isinstance(latent_values, float) and math.isnan(latent_values)):
            raise ValueError("an MLA model needs its latent_values (e.g. 576 for DeepSeek-V3)")
        return kv_bytes_per_token_latent(layers, int(latent_values), bytes_per_value)
    if kind not in ("MHA", "GQA", "MQA"):
        raise ValueError(f"attention must be MHA, GQA, MQA or MLA, got {attention!r}")
    return kv_cache_bytes_per_token(layers, 1 if kind == "MQA" else kv_heads, head_dim, bytes_per_value)


def moe_param_split(params: float, experts: int, moe_layers: int, hidden: int,
                    expert_intermediate: int) -> tuple[float, float]:
    """(dense parameters, parameters of one routed expert over all MoE layers) of a mixture-of-experts
    model whose experts are SwiGLU MLPs (3 · hidden · intermediate weights a layer): the dense part
    is everything else (attention, shared experts, embeddings, the dense layers).

    DeepSeek-V3: 58 MoE layers · 3 · 7168 · 2048 = 2.55 B a routed expert, 256 of them = 654 B,
    leaving 17 B dense; 17 B + 8 experts a token ≈ the 37 B active parameters of its report."""
    one = count("moe_layers", moe_layers) * 3.0 * count("hidden", hidden) * count("expert_intermediate", expert_intermediate)
    dense = positive("params", params) - count("experts", experts) * one
    if dense <= 0:
        raise ValueError("the experts alone exceed the parameter count: check the inputs")
    return dense, one


def kv_blocks_needed(tokens: int, block_size: int = 16) -> int:
    """Blocks a sequence of ``tokens`` tokens holds in a paged KV cache: ⌈tokens ÷ block size⌉
    (vLLM's default block is 16 tokens). Source: Kwon et al. (SOSP 2023), §4.1-4.2."""
    n = count("tokens", tokens, minimum=0)
    size = count("block_size", block_size)
    return -(-n // size)


def paged_kv_waste_fraction(lengths: Sequence[int], block_size: int = 16) -> float:
    """Share of the allocated KV slots that hold no token when each sequence gets whole blocks on
    demand: only the last block of a sequence is partly empty (at most block size − 1 slots).
    Source: Kwon et al. (SOSP 2023), §4.2 (internal fragmentation bounded by one block)."""
    tokens = [count("length", n, minimum=0) for n in lengths]
    slots = sum(kv_blocks_needed(n, block_size) for n in tokens) * count("block_size", block_size)
    if slots == 0:
        raise ValueError("no sequence holds any token")
    return 1.0 - sum(tokens) / slots


def reserved_kv_waste_fraction(lengths: Sequence[int], reserved_tokens: int) -> float:
    """Share of the KV memory that holds no token when every sequence reserves a contiguous chunk of
    ``reserved_tokens`` (its maximum length) up front, as systems before vLLM did.
    Source: Kwon et al. (SOSP 2023), §3.1 and Figure 2 (only 20.4 %-38.2 % of it held tokens)."""
    reserve = count("reserved_tokens", reserved_tokens)
    tokens = [count("length", n, minimum=0) for n in lengths]
    if not tokens:
        raise ValueError("give at least one sequence length")
    if max(tokens) > reserve:
        raise ValueError(f"a sequence of {max(tokens)} tokens does not fit a reservation of {reserve}")
    return 1.0 - sum(tokens) / (len(tokens) * reserve)


# ---------------------------------------------------------------------------- latency percentiles, SLOs

def latency_percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of measured latencies, interpolating linearly between the two
    closest ranks (the "linear" method, NumPy's default): for n sorted values the rank is
    (n − 1) · q ÷ 100. Report p50 and p99, not the mean: a mean hides the tail users feel."""
    data = sorted(non_negative("value", v) for v in values)
    if not data:
        raise ValueError("give at least one latency")
    share = non_negative("q", q)
    if share > 100:
        raise ValueError(f"q is a percentile from 0 to 100, got {q!r}")
    rank = (len(data) - 1) * share / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def histogram_quantile(q: float, upper_bounds: Sequence[float], cumulative_counts: Sequence[float]) -> float:
    """The q-quantile (0 < q ≤ 1) of a Prometheus histogram, as PromQL's ``histogram_quantile`` computes it.

    ``upper_bounds`` are the buckets' ``le`` values in increasing order, the last one ``+Inf``;
    ``cumulative_counts`` the buckets' counts (each counts every observation ≤ its bound). The rank
    q · total falls in the first bucket whose count reaches it; the answer interpolates linearly
    between that bucket's lower bound (the previous bound, 0 for the first) and its upper bound. A
    rank in the +Inf bucket returns the largest finite bound.
    Source: Prometheus documentation, "Histograms and summaries" and ``histogram_quantile()``.
    """
    share = _open_fraction("q", q)
    bounds = [float(b) for b in upper_bounds]
    counts = [non_negative("count", c) for c in cumulative_counts]
    if len(bounds) != len(counts) or len(bounds) < 2:
        raise ValueError("give one cumulative count for each bucket bound, at least two buckets")
    if not math.isinf(bounds[-1]) or bounds[-1] < 0:
        raise ValueError("the last bucket bound must be +Inf")
    if any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:])):
        raise ValueError("bucket bounds must increase")
    if any(c2 < c1 for c1, c2 in zip(counts, counts[1:])):
        raise ValueError("cumulative counts must not decrease")
    total = counts[-1]
    if total == 0:
        raise ValueError("the histogram has no observations")
    rank = share * total
    bucket = next((i for i, c in enumerate(counts[:-1]) if c >= rank), len(counts) - 1)
    if bucket == len(counts) - 1:
        return bounds[-2]
    if bucket == 0 and bounds[0] <= 0:
        return bounds[0]
    start = 0.0 if bucket == 0 else bounds[bucket - 1]
    below = 0.0 if bucket == 0 else counts[bucket - 1]
    inside = counts[bucket] - below
    return start + (bounds[bucket] - start) * (rank - below) / inside


def _met(ttft_s: Sequence[float], tpot_s: Sequence[float | None], ttft_slo_s: float, tpot_slo_s: float) -> list[bool]:
    ttft_limit, tpot_limit = positive("ttft_slo_s", ttft_slo_s), positive("tpot_slo_s", tpot_slo_s)
    firsts, others = list(ttft_s), list(tpot_s)
    if len(firsts) != len(others) or not firsts:
        raise ValueError("give a TTFT and a TPOT for each request (TPOT None for one-token outputs)")
    met = []
    for first, each in zip(firsts, others):
        ok_first = non_negative("ttft", first) <= ttft_limit
        ok_each = each is None or (isinstance(each, float) and math.isnan(each)) or non_negative("tpot", each) <= tpot_limit
        met.append(ok_first and ok_each)
    return met


def slo_attainment(ttft_s: Sequence[float], tpot_s: Sequence[float | None], ttft_slo_s: float, tpot_slo_s: float) -> float:
    """Share of requests that met both latency targets: TTFT ≤ its SLO and TPOT ≤ its SLO (a request
    of one output token has no TPOT and is judged on TTFT alone). Source: Zhong et al. (OSDI 2024), §2."""
    met = _met(ttft_s, tpot_s, ttft_slo_s, tpot_slo_s)
    return sum(met) / len(met)


def goodput_requests_per_s(ttft_s: Sequence[float], tpot_s: Sequence[float | None], ttft_slo_s: float,
                           tpot_slo_s: float, duration_s: float) -> float:
    """Requests a second that finished within both SLOs over a run of ``duration_s``: throughput that
    counts only what users were promised. (DistServe calls goodput the highest request rate at which
    a target share, e.g. 90 %, of requests meets the SLOs; measure this at several rates to find it.)
    Source: Zhong et al., "DistServe" (OSDI 2024), §2."""
    return sum(_met(ttft_s, tpot_s, ttft_slo_s, tpot_slo_s)) / positive("duration_s", duration_s)


# ---------------------------------------------------------------------------- speculation, MoE, parallelism

def speculative_best_draft_tokens(acceptance_rate: float, draft_cost_ratio: float,
                                  max_draft_tokens: int = 16) -> tuple[int, float]:
    """(k, speed-up): the number of drafted tokens 1 ≤ k ≤ ``max_draft_tokens`` with the largest
    walltime speed-up (Leviathan et al., Theorem 3.8), or (0, 1.0) when no k beats plain decoding."""
    best = (0, 1.0)
    for k in range(1, count("max_draft_tokens", max_draft_tokens) + 1):
        gain = speculative_speedup(acceptance_rate, k, draft_cost_ratio)
        if gain > best[1] + 1e-12:
            best = (k, gain)
    return best


def moe_expected_experts(experts: int, experts_per_token: int, tokens: int) -> float:
    """Distinct routed experts a layer uses, on average, for a batch of ``tokens`` tokens when each
    token picks ``experts_per_token`` of ``experts`` uniformly: E · (1 − (1 − k/E)^T). At batch 1
    that is k; at large batch it approaches E, so every expert's weights are read every step."""
    e = count("experts", experts)
    k = count("experts_per_token", experts_per_token)
    if k > e:
        raise ValueError(f"experts_per_token ({k}) cannot exceed experts ({e})")
    t = count("tokens", tokens)
    return e * (1.0 - (1.0 - k / e) ** t)


def moe_weight_bytes_per_step(dense_bytes: float, expert_bytes: float, experts: int, experts_per_token: int,
                              tokens: int) -> float:
    """Weight bytes one decode step of a mixture-of-experts model reads, on average: the dense part
    (attention, shared experts, embeddings) plus the experts the batch touches, each
    ``expert_bytes`` (one routed expert summed over the MoE layers), by :func:`moe_expected_experts`."""
    return (non_negative("dense_bytes", dense_bytes)
            + moe_expected_experts(experts, experts_per_token, tokens) * positive("expert_bytes", expert_bytes))


def tensor_parallel_decode_step_time_s(params: float, weight_bytes: float, batch: int, tensor_parallel: int,
                                       peak_flop_s: float, bandwidth_bytes_s: float, hidden: int, layers: int,
                                       link_bytes_s: float, allreduce_latency_s: float, context_tokens: float = 0.0,
                                       kv_bytes_token: float = 0.0, bytes_per_activation: float = 2,
                                       mfu: float = 1.0, mbu: float = 1.0) -> dict[str, float]:
    """A decode step with the model split ``tensor_parallel`` ways inside a node (Megatron-style):
    each GPU reads 1/TP of the weights and KV cache, and every layer ends its attention and its MLP
    with an AllReduce of the batch's activations (B · hidden · bytes). Returns seconds: ``compute``
    (the per-GPU roofline step), ``communication`` (2 · layers AllReduces, each its fixed cost
    ``allreduce_latency_s``, what nccl-tests reports for small messages, plus the ring's
    2(TP − 1)/TP · message ÷ ``link_bytes_s`` one way) and ``total``. Decode's messages are small,
    so the fixed cost dominates.
    Source: Shoeybi et al., "Megatron-LM" (2019), §3; Pope et al. (MLSys 2023), §3."""
    tp = count("tensor_parallel", tensor_parallel)
    step = decode_step_time_s(params / tp, weight_bytes / tp, batch, peak_flop_s, bandwidth_bytes_s,
                              context_tokens, kv_bytes_token / tp, mfu, mbu)
    message = count("batch", batch) * count("hidden", hidden) * positive("bytes_per_activation", bytes_per_activation)
    latency = non_negative("allreduce_latency_s", allreduce_latency_s)
    comm = 0.0
    if tp > 1:
        one = latency + communication.ring_allreduce_bytes_per_gpu(message, tp) / positive("link_bytes_s", link_bytes_s)
        comm = 2 * count("layers", layers) * one
    return {"compute": step, "communication": comm, "total": step + comm}


def disaggregated_pool_gpus(requests_per_s: float, prompt_tokens: float, output_tokens: float,
                            prefill_tokens_per_s_per_gpu: float, decode_tokens_per_s_per_gpu: float,
                            headroom: float = 1.0) -> dict[str, float]:
    """GPUs for each pool of a disaggregated deployment (prefill on some GPUs, decode on others):
    prefill pool = ⌈λ · prompt tokens · headroom ÷ prefill tokens/s a GPU⌉, decode pool likewise with
    output tokens. The two pools scale on different signals, which is the point of splitting them.
    Source: Zhong et al., "DistServe" (OSDI 2024), §3-4; Patel et al., "Splitwise" (ISCA 2024), §4."""
    rate = positive("requests_per_s", requests_per_s)
    if headroom < 1:
        raise ValueError(f"headroom must be 1 or more, got {headroom!r}")
    prefill = math.ceil(rate * positive("prompt_tokens", prompt_tokens) * headroom
                        / positive("prefill_tokens_per_s_per_gpu", prefill_tokens_per_s_per_gpu))
    decode = math.ceil(rate * positive("output_tokens", output_tokens) * headroom
                       / positive("decode_tokens_per_s_per_gpu", decode_tokens_per_s_per_gpu))
    return {"prefill_gpus": max(1, prefill), "decode_gpus": max(1, decode),
            "decode_per_prefill": max(1, decode) / max(1, prefill)}


def prefill_tokens_per_s(params: float, peak_flop_s: float, mfu: float = 1.0) -> float:
    """Prompt tokens a second a compute-bound prefill processes: peak · MFU ÷ 2·N."""
    return positive("peak_flop_s", peak_flop_s) * fraction("mfu", mfu) / (2.0 * positive("params", params))


# ---------------------------------------------------------------------------- a whole serving plan

def serving_plan(params: float, bytes_per_param: float, kv_bytes_token: float, gpu_memory_bytes: float,
                 gpu_bandwidth_bytes_s: float, gpu_peak_flop_s: float, prompt_tokens: int, output_tokens: int,
                 requests_per_s: float, ttft_slo_s: float, tpot_slo_s: float, usd_per_gpu_hour: float,
                 gpus_per_replica: int | None = None, batch: int | None = None, active_params: float | None = None,
                 usable_memory_fraction: float = 0.9, prefill_mfu: float = 0.5, mbu: float = 0.8,
                 headroom: float = 1.0) -> dict[str, float]:
    """A first-order plan for serving one model: how it is split, how fast it is, how many GPUs the
    load needs and what a token costs. All on the roofline, with realistic MFU and MBU you choose.

    - **Replica**: ``gpus_per_replica``, or by default the smallest power-of-two width whose usable
      memory holds the weights in at most 80 % of it (leaving a KV cache) and whose batch-1 step
      meets the TPOT SLO, trying up to eight times the width the memory needs. Tensor-parallel; its
      communication is left out (see :func:`tensor_parallel_decode_step_time_s`). Wider replicas
      hold more KV cache a copy of the weights and so run bigger batches, but their communication
      grows: pass ``gpus_per_replica`` to compare widths.
    - **Batch**: ``batch`` if given, else the largest one within the TPOT SLO whose KV cache fits
      (each sequence counted at its full prompt + output length).
    - **TTFT** is the prefill of one prompt at ``prefill_mfu`` (queueing left out); **TPOT** is the
      decode step at that batch, with every sequence at its full length (the worst case).
    - **Replicas** come from Little's law: requests in flight = λ · (TTFT + output tokens · TPOT),
      divided by the batch a replica holds, times ``headroom``.
    - **Cost**: $ per million output tokens at full batch, $ per million tokens actually served at
      this load (the fleet's cost ÷ λ · output tokens), and $ per million input tokens of prefill.

    ``active_params`` (MoE: the parameters a token uses) sets the FLOPs; the weights read each step
    are then the whole model at large batch, so this is a conservative decode estimate for MoE.
    """
    n = positive("params", params)
    active = n if active_params is None else positive("active_params", active_params)
    weights = n * positive("bytes_per_param", bytes_per_param)
    memory = positive("gpu_memory_bytes", gpu_memory_bytes) * fraction("usable_memory_fraction", usable_memory_fraction)
    seq_tokens = count("prompt_tokens", prompt_tokens) + count("output_tokens", output_tokens)
    kv_token = positive("kv_bytes_token", kv_bytes_token)
    gpu_peak = positive("gpu_peak_flop_s", gpu_peak_flop_s)
    gpu_bandwidth = positive("gpu_bandwidth_bytes_s", gpu_bandwidth_bytes_s)
    price = positive("usd_per_gpu_hour", usd_per_gpu_hour)
    slo = positive("tpot_slo_s", tpot_slo_s)
    fixed = None if batch is None else count("batch", batch)

    def replica(g: int) -> dict:
        peak, bandwidth = gpu_peak * g, gpu_bandwidth * g
        slo_batch = max_batch_for_tpot(slo, active, weights, peak, bandwidth, seq_tokens, kv_token, 1.0, mbu)
        free = g * memory - weights
        capacity = kv_capacity_sequences(max(free, 0.0), seq_tokens, kv_token)
        chosen = max(1, min(slo_batch, capacity)) if fixed is None else fixed
        tpot = decode_step_time_s(active, weights, chosen, peak, bandwidth, seq_tokens, kv_token, 1.0, mbu)
        return {"gpus": g, "peak": peak, "bandwidth": bandwidth, "slo_batch": slo_batch, "free": free,
                "capacity": capacity, "batch": chosen, "tpot": tpot}

    if gpus_per_replica is None:
        smallest = 1
        while weights > 0.8 * smallest * memory:
            smallest *= 2
            if smallest > 4096:
                raise ValueError("the weights do not fit any replica of up to 4,096 GPUs")
        best = replica(smallest)
        for i in range(1, 4):
            if best["slo_batch"] >= 1:
                break
            best = replica(smallest * 2 ** i)
    else:
        best = replica(count("gpus_per_replica", gpus_per_replica))
    gpus, peak, bandwidth, chosen, tpot = best["gpus"], best["peak"], best["bandwidth"], best["batch"], best["tpot"]
    ttft = prefill_time_s(active, prompt_tokens, peak, prefill_mfu)
    per_seq, per_replica = decode_tokens_per_s(tpot, chosen)
    rate = positive("requests_per_s", requests_per_s)
    in_flight = littles_law_concurrency(rate, ttft + output_tokens * tpot)
    if headroom < 1:
        raise ValueError(f"headroom must be 1 or more, got {headroom!r}")
    replicas = max(1, math.ceil(in_flight * headroom / chosen - 1e-9))
    fleet_usd_per_hour = price * gpus * replicas
    return {
        "gpus_per_replica": gpus, "weight_bytes": weights, "kv_free_bytes": best["free"],
        "kv_capacity_sequences": best["capacity"], "batch": chosen, "batch_within_tpot_slo": best["slo_batch"],
        "fits_kv": chosen <= best["capacity"],
        "ttft_s": ttft, "tpot_s": tpot, "tokens_per_s_per_sequence": per_seq,
        "tokens_per_s_per_replica": per_replica, "tokens_per_s_per_gpu": per_replica / gpus,
        "decode_intensity_flop_per_byte": decode_flops_per_step(active, chosen)
        / decode_bytes_per_step(weights, chosen, seq_tokens, kv_token),
        "ridge_flop_per_byte": peak / bandwidth,
        "requests_in_flight": in_flight, "replicas": replicas, "gpus_total": replicas * gpus,
        "meets_ttft": ttft <= positive("ttft_slo_s", ttft_slo_s), "meets_tpot": tpot <= slo,
        "usd_per_million_output_tokens_at_capacity": cost_per_million_tokens(price * gpus, per_replica),
        "usd_per_million_output_tokens_at_load": cost_per_million_tokens(fleet_usd_per_hour, rate * output_tokens),
        "usd_per_million_input_tokens": cost_per_million_tokens(price * gpus,
                                                                prefill_tokens_per_s(active, peak, prefill_mfu)),
        "fleet_usd_per_hour": fleet_usd_per_hour,
    }


def _open_fraction(name: str, value: float) -> float:
    number = non_negative(name, value)
    if not 0 < number <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return number
