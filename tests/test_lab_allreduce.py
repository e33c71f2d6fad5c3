"""The ring AllReduce lab: the schedule is a correct AllReduce, and real processes compute numpy.sum."""


import numpy as np
import pytest

from infraprep.labs import allreduce


def _simulate(n, inputs):
    """Run chunk_schedule on plain lists, one list of chunks per rank, with the ring's semantics."""
    held = [[list(chunks) for chunks in rank] for rank in inputs]  # held[rank][chunk] = list of values
    for step in allreduce.chunk_schedule(n):
        messages = [(e["receiver"], e["chunk"], list(held[e["sender"]][e["chunk"]]), e["phase"]) for e in step]
        for receiver, chunk, values, phase in messages:
            if phase == "reduce-scatter":
                held[receiver][chunk] = [a + b for a, b in zip(held[receiver][chunk], values)]
            else:
                held[receiver][chunk] = values
    return held


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
def test_schedule_shape_and_ring_neighbours(n):
    steps = allreduce.chunk_schedule(n)
    assert len(steps) == 2 * (n - 1)
    for step in steps:
        assert sorted(e["sender"] for e in step) == list(range(n))
        assert all(e["receiver"] == (e["sender"] + 1) % n for e in step)
        # in every step each chunk index is sent by exactly one rank
        assert sorted(e["chunk"] for e in step) == list(range(n))
    assert [s[0]["phase"] for s in steps] == ["reduce-scatter"] * (n - 1) + ["all-gather"] * (n - 1)


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_schedule_really_computes_an_allreduce(n):
    rng = np.random.default_rng(n)
    inputs = [[list(rng.integers(0, 100, size=3)) for _ in range(n)] for _ in range(n)]
    result = _simulate(n, inputs)
    expected = [[sum(inputs[r][c][i] for r in range(n)) for i in range(3)] for c in range(n)]
    for rank in range(n):
        assert result[rank] == expected


def test_sends_of_rank_and_bytes_sent():
    assert allreduce.sends_of_rank(4, 0) == [0, 3, 2, 1, 0, 3]
    assert allreduce.sends_of_rank(4, 1) == [1, 0, 3, 2, 1, 0]
    # each rank sends 2(n-1) chunks, i.e. 2(n-1)/n of the buffer
    assert len(allreduce.sends_of_rank(8, 5)) == 14
    with pytest.raises(ValueError):
        allreduce.sends_of_rank(4, 4)
    with pytest.raises(ValueError):
        allreduce.sends_of_rank(0, 0)


def test_chunk_bounds_cover_the_buffer_evenly():
    for length, n in [(10, 3), (7, 7), (3, 4), (1000, 8)]:
        bounds = allreduce.chunk_bounds(length, n)
        assert bounds[0][0] == 0 and bounds[-1][1] == length
        assert all(b[1] == c[0] for b, c in zip(bounds, bounds[1:]))
        sizes = [hi - lo for lo, hi in bounds]
        assert max(sizes) - min(sizes) <= 1


@pytest.fixture(scope="module")
def ring():
    with allreduce.RingAllReduce(workers=4, context="spawn") as r:
        yield r


def test_real_processes_match_numpy_sum(ring):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(100_003) for _ in range(4)]
    results = ring.allreduce(arrays)
    assert len(results) == 4
    for got in results:
        np.testing.assert_allclose(got, np.sum(arrays, axis=0), rtol=1e-12, atol=1e-12)
    # workers really ran in other processes: the parent's arrays are untouched
    assert not np.allclose(arrays[0], results[0])


def test_buffers_shorter_than_the_ring_still_work(ring):
    arrays = [np.array([float(r + 1), 10.0 * r]) for r in range(4)]
    for got in ring.allreduce(arrays):
        assert got.tolist() == [10.0, 60.0]


def test_timing_returns_one_positive_time_per_repeat(ring):
    times, ok = ring.time_allreduce(256 * 1024, repeats=3)
    assert ok
    assert len(times) == 3 and all(t > 0 for t in times)
    with pytest.raises(ValueError):
        ring.allreduce([np.zeros(3)] * 3)
    with pytest.raises(ValueError):
        ring.allreduce([np.zeros(3), np.zeros(3), np.zeros(4), np.zeros(3)])


@pytest.mark.parametrize("n", [2, 3])
def test_odd_and_tiny_rings(n):
    arrays = [np.arange(11.0) * (r + 1) for r in range(n)]
    for got in allreduce.ring_allreduce(arrays, context="spawn"):
        np.testing.assert_array_equal(got, np.arange(11.0) * n * (n + 1) / 2)


def test_quick_lab_fits_the_model():
    result = allreduce.run_lab(workers=4, quick=True)
    assert result.correct and result.max_abs_error == 0
    frame = result.measurements
    assert list(frame["size_bytes"]) == list(allreduce.QUICK_SIZES_BYTES)
    assert (frame["best_s"] <= frame["median_s"]).all()
    # larger messages take longer: the largest is slower than the smallest
    assert frame["median_s"].iloc[-1] > frame["median_s"].iloc[0]
    assert result.fit["bandwidth_bytes_s"] > 1e6 and result.fit["alpha_s"] >= 0
    assert result.predicted_s(4096) > 0
    assert "matches numpy.sum" in result.summary()


def test_lab_refuses_bad_arguments():
    with pytest.raises(ValueError):
        allreduce.run_lab(workers=1)
    with pytest.raises(ValueError):
        allreduce.run_lab(sizes_bytes=[4096])
    with pytest.raises(ValueError):
        allreduce.RingAllReduce(workers=0)
    with pytest.raises(ValueError):
        allreduce.RingAllReduce(workers=2, context="teleport")
    with pytest.raises(RuntimeError):
        allreduce.RingAllReduce(workers=2).allreduce([np.zeros(2)] * 2)
