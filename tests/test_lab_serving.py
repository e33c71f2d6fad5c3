"""The serving lab: a real KV cache, an allocator that never loses or double-books a block, schedulers
that serve every request correctly, and measured results that show what the lesson claims."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from infraprep import estimates
from infraprep.labs import serving as s

EXACT = s.ModelConfig(vocab=97, d_model=48, layers=2, heads=6, kv_heads=2, ffn=96, max_positions=256,
                      dtype="float64", seed=5)


@pytest.fixture(scope="module")
def lab():
    return s.run(quick=True)


# ---------------------------------------------------------------- the model and its KV cache

def test_paged_cache_gives_the_logits_of_a_full_recompute():
    model = s.TinyDecoder(EXACT)
    tokens = np.random.default_rng(0).integers(0, EXACT.vocab, 45).tolist()
    reference = model.forward(tokens)
    cache = s.PagedKVCache(EXACT, 40, block_size=4)
    cache.allocator.grow(99, 4)                      # another sequence holds blocks first: tables are not contiguous
    np.testing.assert_allclose(model.prefill(cache, 1, tokens[:13]), reference[12], rtol=1e-10, atol=1e-10)
    for position in range(13, 45):                  # crosses many block boundaries
        if position == 20:
            cache.allocator.grow(99, 12)             # the other sequence grows meanwhile
        logits = model.decode(cache, [1], [tokens[position]], [position])
        np.testing.assert_allclose(logits[0], reference[position], rtol=1e-10, atol=1e-10)
    assert len(cache.allocator.tables[1]) == math.ceil(45 / 4)
    assert cache.allocator.tables[1] != list(range(1, 13))      # blocks interleave with the other sequence's


def test_a_batch_of_different_lengths_decodes_each_sequence_correctly():
    model = s.TinyDecoder(EXACT)
    rng = np.random.default_rng(1)
    seqs = {i: rng.integers(0, EXACT.vocab, n).tolist() for i, n in enumerate((5, 17, 30))}
    cache = s.PagedKVCache(EXACT, 60, block_size=8)
    for i, toks in seqs.items():
        model.prefill(cache, i, toks[:-1])
    logits = model.decode(cache, list(seqs), [t[-1] for t in seqs.values()], [len(t) - 1 for t in seqs.values()])
    for row, toks in enumerate(seqs.values()):
        np.testing.assert_allclose(logits[row], model.forward(toks)[-1], rtol=1e-10, atol=1e-10)


def test_shared_prefix_blocks_are_reused_not_copied():
    model = s.TinyDecoder(EXACT)
    rng = np.random.default_rng(2)
    system = rng.integers(0, EXACT.vocab, 24).tolist()
    first, second = system + [3, 4, 5], system + [9, 8]
    cache = s.PagedKVCache(EXACT, 30, block_size=8)
    model.prefill(cache, 0, first)
    shared = cache.allocator.share(0, 1, len(system))
    assert shared == 24 and cache.allocator.tables[1] == cache.allocator.tables[0][:3]
    logits = model.prefill(cache, 1, second[shared:], start=shared)      # only the 2 new tokens are computed
    np.testing.assert_allclose(logits, model.forward(second)[-1], rtol=1e-10, atol=1e-10)
    cache.allocator.check()
    assert cache.allocator.used_blocks == 4 + 1                          # 4 for the first, 1 more for the second
    assert cache.allocator.free(0) == 1                                  # its shared blocks stay held by sequence 1
    cache.allocator.check()
    assert cache.allocator.free(1) == 4 and cache.allocator.free_blocks == 30


def test_positions_past_the_model_are_refused():
    model = s.TinyDecoder(EXACT)
    cache = s.PagedKVCache(EXACT, 100, 16)
    with pytest.raises(ValueError):
        model.prefill(cache, 0, [1] * 257)


def test_config_counts_match_the_formulas():
    c = s.ModelConfig()
    assert c.kv_bytes_per_token == estimates.kv_cache_bytes_per_token(4, 2, 32, 4)
    assert c.weight_bytes == 4 * c.params
    with pytest.raises(ValueError):
        s.ModelConfig(heads=6, kv_heads=4)


# ---------------------------------------------------------------- the block allocator

def test_allocator_never_double_allocates_or_leaks_on_random_traces():
    for seed in range(300):
        rng = random.Random(seed)
        alloc = s.BlockAllocator(rng.randint(4, 40), rng.choice([1, 2, 4, 16]))
        lengths: dict[int, int] = {}
        for _ in range(rng.randint(20, 80)):
            op = rng.random()
            if op < 0.5:                                                  # grow a sequence (new or old)
                seq = rng.randrange(12)
                target = lengths.get(seq, 0) + rng.randint(1, 3 * alloc.block_size)
                before = (list(alloc.free_list), {k: list(v) for k, v in alloc.tables.items()})
                if alloc.can_grow(seq, target):
                    alloc.grow(seq, target)
                    lengths[seq] = target
                    assert len(alloc.tables[seq]) >= alloc.blocks_for(target)
                else:
                    with pytest.raises(s.OutOfBlocks):
                        alloc.grow(seq, target)
                    assert (list(alloc.free_list), alloc.tables) == before      # all or nothing
            elif op < 0.8 and lengths:                                   # a sequence finishes
                seq = rng.choice(sorted(lengths))
                alloc.free(seq)
                del lengths[seq]
            elif lengths:                                                # a new sequence shares a prefix
                source = rng.choice(sorted(lengths))
                target = 100 + rng.randrange(1000)
                if target not in alloc.tables:
                    shared = alloc.share(source, target, rng.randint(0, lengths[source]))
                    lengths[target] = shared
            alloc.check()
            held = [b for table in alloc.tables.values() for b in table]
            assert len(set(held)) + alloc.free_blocks == alloc.num_blocks
        for seq in list(lengths):
            alloc.free(seq)
        alloc.check()
        assert alloc.free_blocks == alloc.num_blocks and not alloc.tables


def test_check_catches_each_kind_of_corruption():
    alloc = s.BlockAllocator(6, 4)
    alloc.grow(1, 8)
    alloc.free_list.append(0)                    # block 0 is also in sequence 1's table
    with pytest.raises(AssertionError):
        alloc.check()
    alloc = s.BlockAllocator(6, 4)
    alloc.grow(1, 8)
    alloc.tables[1].pop()                         # leaked: in no table and not free
    with pytest.raises(AssertionError):
        alloc.check()
    alloc = s.BlockAllocator(6, 4)
    alloc.grow(1, 4)
    alloc.refs[0] = 2
    with pytest.raises(AssertionError):
        alloc.check()


def test_allocate_step_by_hand():
    tables = {3: [0, 1], 7: [2]}
    free = [4, 5, 6]
    # sequence 3 finished; 7 grows from 1 to 3 blocks (9 tokens, block 4); 9 arrives with 2 tokens
    result = s.allocate_step(tables, free, {7: 9, 9: 2}, 4)
    assert result == ({7: [2, 4, 5], 9: [6]}, [0, 1])
    assert tables == {3: [0, 1], 7: [2]} and free == [4, 5, 6]         # inputs untouched
    assert s.allocate_step(tables, free, {3: 8, 7: 30}, 4) is None       # 8 more blocks needed, 3 free
    with pytest.raises(ValueError):
        s.allocate_step(tables, free, {3: 1}, 4)                          # would shrink


def test_allocator_step_equals_the_pure_function_on_random_steps():
    for seed in range(100):
        rng = random.Random(seed)
        alloc = s.BlockAllocator(rng.randint(8, 64), rng.choice([2, 4, 16]))
        lengths: dict[int, int] = {}
        for _ in range(30):
            new = {k: v + rng.randint(0, 20) for k, v in lengths.items() if rng.random() > 0.2}
            for _ in range(rng.randint(0, 2)):
                seq = rng.randrange(50, 90)
                if seq not in lengths:
                    new[seq] = rng.randint(1, 30)
            expected = s.allocate_step(alloc.tables, alloc.free_list, new, alloc.block_size)
            ran = alloc.step(new)
            assert ran == (expected is not None)
            if ran:
                assert (alloc.tables, list(alloc.free_list)) == expected
                lengths = new
            alloc.check()


# ---------------------------------------------------------------- admission and scheduling

def test_admit_fcfs_stops_at_the_first_request_that_does_not_fit():
    waiting = [(1, 30), (2, 10), (3, 5)]
    assert s.admit_fcfs(waiting, free_blocks=4, block_size=16, running=0, max_batch=8) == [1, 2, 3]
    assert s.admit_fcfs(waiting, free_blocks=3, block_size=16, running=0, max_batch=8) == [1, 2]
    assert s.admit_fcfs(waiting, free_blocks=1, block_size=16, running=0, max_batch=8) == []     # no skipping ahead
    assert s.admit_fcfs(waiting, free_blocks=9, block_size=16, running=7, max_batch=8) == [1]
    # a budget of 48 tokens, 6 of them taken by the running sequences' decode tokens: 30 + 10 fit in 42, 5 more do not
    assert s.admit_fcfs(waiting, 9, 16, running=6, max_batch=16, token_budget=48) == [1, 2]
    assert s.admit_fcfs(waiting, 9, 16, running=6, max_batch=16, token_budget=40) == [1]


def test_trace_is_seeded_and_within_its_ranges():
    a, b = s.make_trace(50, seed=4), s.make_trace(50, seed=4)
    assert a == b and a != s.make_trace(50, seed=5)
    assert all(16 <= r.prompt_tokens <= 96 and 4 <= r.output_tokens <= 128 for r in a)
    assert all(x.arrival_s < y.arrival_s for x, y in zip(a, a[1:]))


def _reference_tokens(model, request):
    tokens = list(request.prompt)
    for _ in range(request.output_tokens):
        tokens.append(int(model.forward(tokens)[-1].argmax()))
    return tuple(tokens[request.prompt_tokens:])


def test_both_schedulers_generate_exactly_what_greedy_decoding_does_even_with_preemption():
    model = s.TinyDecoder(EXACT)
    trace = s.make_trace(10, 2000.0, prompt_tokens=(5, 20), output_tokens=(2, 24), vocab=EXACT.vocab, seed=3)
    continuous = s.serve_continuous(model, trace, kv_blocks=12, block_size=4, max_batch=6, token_budget=64)
    static = s.serve_static(model, trace, kv_blocks=24, block_size=4, max_batch=6)
    assert continuous.preemptions > 0                 # 12 blocks of 4 tokens cannot hold them all
    for result in (continuous, static):
        rows = result.requests.set_index("id")
        assert len(rows) == len(trace)
        for request in trace:
            assert rows.loc[request.id, "tokens"] == _reference_tokens(model, request)
            assert len(rows.loc[request.id, "itl_s"]) == request.output_tokens - 1
    assert (continuous.requests["preemptions"] > 0).sum() >= 1


def test_schedulers_refuse_a_cache_too_small_for_the_trace():
    model = s.TinyDecoder(EXACT)
    trace = s.make_trace(4, 100.0, prompt_tokens=(40, 40), output_tokens=(30, 30), vocab=EXACT.vocab)
    with pytest.raises(ValueError):
        s.serve_continuous(model, trace, kv_blocks=3, block_size=16)
    with pytest.raises(ValueError):
        s.serve_continuous(model, trace, kv_blocks=30, block_size=16, token_budget=32)
    with pytest.raises(ValueError):
        s.serve_static(model, trace, kv_blocks=3, block_size=16)


# ---------------------------------------------------------------- what the lab measures on this machine

def test_continuous_batching_beats_static_on_throughput_and_p99_ttft(lab):
    c, st = lab.continuous.summary(), lab.static.summary()
    assert c["throughput_tokens_s"] > st["throughput_tokens_s"]
    assert c["ttft_p99_ms"] < st["ttft_p99_ms"]
    # the memory story: reserving each request's maximum wastes most of the KV cache; paging wastes
    # less than one block a sequence
    assert st["kv_wasted_pct"] > 40 > 20 > c["kv_wasted_pct"]
    table = lab.comparison()
    assert list(table["policy"]) == ["continuous", "static"]


def test_decode_curve_counts_work_and_draws_this_machines_roofline(lab):
    # The measured times belong to the machine (its caches, its BLAS, whatever else runs): their shape
    # is printed side by side by benchmarks/decode_curve.py, not asserted here. What the lab computes
    # from the model and the roofline is exact and is checked.
    table = lab.curve.table.set_index("batch")
    batches = list(table.index)
    assert batches == sorted(batches) and batches[0] == 1
    cfg = s.QUICK["curve_model"]
    ctx = lab.curve.context_tokens + 1
    for b in batches:
        assert table.loc[b, "flops"] == pytest.approx(estimates.decode_flops_per_step(cfg.params, b))
        assert table.loc[b, "bytes_read"] == pytest.approx(
            estimates.decode_bytes_per_step(cfg.weight_bytes, b, ctx, cfg.kv_bytes_per_token))
    # weights are read once a step whatever the batch, so intensity grows with the batch
    assert table["intensity_flop_per_byte"].is_monotonic_increasing
    # the roofline is flat while memory-bound and rises with the batch past the ridge point
    ridge = estimates.ridge_point(lab.curve.peak_flop_s, lab.curve.bandwidth_bytes_s)
    knee = lab.curve.knee_batch
    assert knee in batches
    below = table[table["intensity_flop_per_byte"] < ridge]["roofline_ms"]
    assert list(below) == pytest.approx(list(table.loc[below.index, "bytes_read"] / lab.curve.bandwidth_bytes_s * 1e3))
    above = table[table["intensity_flop_per_byte"] >= ridge]["roofline_ms"]
    assert list(above) == pytest.approx(list(table.loc[above.index, "flops"] / lab.curve.peak_flop_s * 1e3))
    # the measured columns are consistent with one another, whatever their values on this machine
    assert (table["step_ms"] > 0).all() and np.isfinite(table["step_ms"]).all()
    assert list(table["ms_per_token"] * table.index) == pytest.approx(list(table["step_ms"]))
    assert list(table["tokens_per_s"]) == pytest.approx(list(table.index / table["step_ms"] * 1e3))


def test_roofline_knee_moves_with_the_machine(lab):
    curve = s.DecodeCurve(lab.curve.config, lab.curve.context_tokens, lab.curve.table.drop(columns="roofline_ms"))
    # a machine whose FLOP/s are plentiful against its bandwidth stays memory-bound longer
    fast_compute = curve.with_roofline(1e15, 1e10).knee_batch
    slow_compute = curve.with_roofline(1e9, 1e10).knee_batch
    assert slow_compute == 1 and fast_compute == int(curve.table["batch"].max())
    with pytest.raises(ValueError):
        curve.knee_batch


def test_results_are_exported_as_vllm_metrics_and_read_back(lab):
    text = lab.continuous.prometheus()
    n = len(lab.trace)
    bounds, counts = s.histogram(text, "vllm:time_to_first_token_seconds")
    assert counts[-1] == n and math.isinf(bounds[-1])
    p50, p99 = s.histogram_quantiles(text, "vllm:time_to_first_token_seconds", (0.5, 0.99))
    # PromQL's rank 0.5·n lands on the ⌈0.5·n⌉-th smallest observation, and its answer lies in that
    # observation's bucket. (Not always the exact percentile's bucket: for an even n the exact median is the
    # midpoint of the two middle values, which may sit in different buckets.)
    ranked = sorted(lab.continuous.requests["ttft_s"])
    observed = ranked[math.ceil(0.5 * n) - 1]
    edges = [0.0, *s.TTFT_BUCKETS_S, math.inf]
    bucket = next(i for i, edge in enumerate(edges) if observed <= edge)
    assert edges[bucket - 1] <= p50 <= edges[bucket] and p50 <= p99
    assert ranked[(n - 1) // 2] <= estimates.latency_percentile(ranked, 50) <= ranked[n // 2]
    samples = {x["name"]: x["value"] for x in s.parse_metrics(text)}
    assert samples["vllm:generation_tokens_total"] == sum(r.output_tokens for r in lab.trace)
    with pytest.raises(ValueError):
        s.histogram(text, "vllm:e2e_request_latency_seconds")
    with pytest.raises(ValueError):
        s.parse_metrics("not a metric line at all {")


def test_goodput_counts_only_requests_within_both_slos(lab):
    r = lab.continuous
    tight = r.goodput(1e-6, 1e-6)
    loose = r.goodput(1e6, 1e6)
    assert tight == 0 and loose == pytest.approx(len(lab.trace) / r.makespan_s)


def test_run_rejects_unknown_settings():
    with pytest.raises(ValueError):
        s.run(quick=True, roofline=(1e11, 1e10), model="big")


def test_blas_threads_is_restored():
    handles = s._openblas()
    assert handles is not None                      # NumPy's wheels bundle OpenBLAS
    get, _ = handles
    before = get()
    with s.blas_threads(1) as threads:
        assert threads == 1 and get() == 1
    assert get() == before


def test_format_histogram_round_trips_and_windows_subtract():
    text = s.format_histogram("vllm:time_to_first_token_seconds", [0.1, 1.0], [3, 8, 10],
                                             {"model_name": "m", "engine": "0"}, total=4.2)
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 10.0' in text
    assert s.histogram(text, "vllm:time_to_first_token_seconds") == ([0.1, 1.0, math.inf], [3, 8, 10])
    later = s.format_histogram("vllm:time_to_first_token_seconds", [0.1, 1.0], [4, 12, 20], {"model_name": "m"})
    assert s.histogram(later, "vllm:time_to_first_token_seconds", since=text)[1] == [1, 4, 10]
    with pytest.raises(ValueError):
        s.histogram(text, "vllm:time_to_first_token_seconds", since=later)        # a restart: counts went down
    with pytest.raises(ValueError):
        s.format_histogram("x", [1.0], [1], {})


def test_engine_stats_reads_both_line_forms():
    log = ("(APIServer pid=1) INFO 11-28 14:13:52 [loggers.py:236] Engine 000: Avg prompt throughput: 13044.2 tokens/s, "
           "Avg generation throughput: 3689.9 tokens/s, Running: 166 reqs, Waiting: 3 reqs, Preemptions: 4, "
           "GPU KV cache usage: 99.8%, Prefix cache hit rate: 36.4%\n"
           "(APIServer pid=1) INFO 11-28 14:14:02 [loggers.py:236] Engine 001: Avg prompt throughput: 0.0 tokens/s, "
           "Avg generation throughput: 12.5 tokens/s, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.4%\n"
           "(APIServer pid=1) INFO:     10.0.0.1:1 - \"GET /metrics HTTP/1.1\" 200 OK\n")
    stats = s.engine_stats(log)
    assert list(stats["running"]) == [166, 1] and list(stats["preemptions"]) == [4, 0]
    assert list(stats["engine"]) == [0, 1] and math.isnan(stats["prefix_hit_pct"].iloc[1])
    assert s.engine_stats("nothing here").empty


def test_prefix_sharing_counts_blocks_by_hand():
    # 20 chats, a 1,000-token system prompt (62 full blocks of 16) and 200 tokens each:
    # alone 20 × ⌈1,200 / 16⌉ = 1,500 blocks; shared 75 + 19 × (75 − 62) = 322
    out = s.prefix_sharing(1000, 200, 20, 16)
    assert out == {"blocks_without_sharing": 1500, "blocks_with_sharing": 75 + 19 * 13,
                   "prefix_blocks_shared": 62, "tokens_not_recomputed": 19 * 62 * 16}


def test_goodput_under_an_slo_relative_to_this_machine(lab):
    ttft_slo, tpot_slo = lab.relative_slo(4)
    assert ttft_slo == pytest.approx(4 * estimates.latency_percentile(lab.continuous.requests["ttft_s"], 50))
    goodput = lab.goodput(ttft_slo, tpot_slo)
    assert goodput["continuous"] > goodput["static"] > 0
