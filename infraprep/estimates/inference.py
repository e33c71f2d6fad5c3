"""Inference serving estimates: prefill and decode on the roofline, KV capacity, queues, speculation, cost.

Units: FLOPs, FLOP/s, bytes, bytes/s, seconds, tokens, requests/s, US dollars.

The two phases of serving a transformer with N parameters:

- **prefill** reads the prompt's T tokens at once: about 2·N·T FLOPs (a forward pass is 2 FLOPs a
  parameter a token, a third of training's 6·N·D), so it is compute-bound and sets the time to
  first token (TTFT);
- **decode** makes one token a sequence a step: every step reads all the weights (and each
  sequence's KV cache) once, for 2·N·B FLOPs at batch B, so at small batch it is memory-bound and
  its arithmetic intensity is about B FLOPs a byte of BF16 weights (2·N·B FLOPs ÷ 2·N bytes).

Sources: Pope et al., "Efficiently Scaling Transformer Inference" (MLSys 2023), §2-3; Austin et al.,
"How to Scale Your Model" (2025), the inference chapter; Leviathan et al., "Fast Inference from
Transformers via Speculative Decoding" (ICML 2023), §3; Little, "A Proof for the Queuing Formula
L = λW" (Operations Research, 1961).
"""

from __future__ import annotations

import math

from ._validate import count, fraction, non_negative, positive

# KV-cache bytes a token: memory.kv_cache_bytes_per_token (with GQA, kv_heads is the number of KV
# groups - 8 for Llama 3 70B - not of query heads: Ainslie et al., "GQA", EMNLP 2023).

__all__ = [
    "prefill_flops", "prefill_time_s", "decode_flops_per_step", "decode_bytes_per_step", "decode_step_time_s",
    "decode_tokens_per_s", "decode_intensity", "kv_capacity_sequences",
    "littles_law_concurrency", "speculative_expected_tokens", "speculative_speedup", "max_batch_for_tpot",
    "replicas_for_load", "cost_per_million_tokens", "kv_transfer_time_s", "weight_load_time_s",
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
                       mfu: float = 1.0, mbu: float = 1.0) -> float:
    """Seconds a decode step takes on the roofline: the larger of the memory time (bytes read ÷
    bandwidth · MBU) and the compute time (2·N·B ÷ peak · MFU). This is also the time per output token
    (TPOT) each sequence of the batch sees.

    MBU, model bandwidth utilisation, is to memory what MFU is to compute (Databricks' name for it).
    """
    memory = (decode_bytes_per_step(weight_bytes, batch, context_tokens, kv_bytes_token)
              / (positive("bandwidth_bytes_s", bandwidth_bytes_s) * fraction("mbu", mbu)))
    compute = decode_flops_per_step(params, batch) / (positive("peak_flop_s", peak_flop_s) * fraction("mfu", mfu))
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
                       mfu: float = 1.0, mbu: float = 1.0, limit: int = 65_536) -> int:
    """The largest decode batch whose step time stays within the time-per-output-token SLO
    (0 when even a batch of 1 misses it). Step time grows with the batch, so a bisection finds it."""
    slo = positive("tpot_slo_s", tpot_slo_s)

    def step(b: int) -> float:
        return decode_step_time_s(params, weight_bytes, b, peak_flop_s, bandwidth_bytes_s,
                                  context_tokens, kv_bytes_token, mfu, mbu)

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
