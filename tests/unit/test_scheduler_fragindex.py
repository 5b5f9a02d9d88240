"""The incremental FGD scores (fragindex) equal a from-scratch computation of FGD's definition.

The reference is `frag.node_frag` / `frag.frag_after_share`, which evaluate the fragmentation of
each node after the placement directly over all its GPUs and types; the core's scores come from
the per-GPU contribution tables and the memoised per-node statistics.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic.streams.scheduler import ClusterState, Scheduler, SchedulerConfig, WorkloadShape, fragindex
from agentic.streams.scheduler.frag import I64, frag_after_share, from_shapes, node_frag, typical
from agentic.streams.scheduler.model import Gpu, Meta, NodeRegistered
from agentic.streams.scheduler.scoring import Req, allowed_gpus, feasible

MODELS = ("A100", "T4", "V100")
SHAPES = (
    WorkloadShape(4000, 1000, 1, (), 5), WorkloadShape(8000, 470, 1, (), 4), WorkloadShape(2000, 230, 1, (), 3),
    WorkloadShape(16000, 1000, 2, (), 2), WorkloadShape(32000, 1000, 8, (), 1),
    WorkloadShape(6000, 810, 1, ("T4",), 2), WorkloadShape(1000, 0, 0, (), 3),
)


def random_cluster(rng: np.random.Generator, nodes: int) -> ClusterState:
    sched = Scheduler(SchedulerConfig(placement="fgd", workload_prior=SHAPES))
    state = ClusterState()
    for i in range(nodes):
        gpus = int(rng.integers(0, 9))
        mixed = rng.random() < 0.2
        devs = tuple(Gpu(j, MODELS[int(rng.integers(3)) if mixed else i % 3], healthy=rng.random() > 0.05)
                     for j in range(gpus))
        state, _ = sched.step(state, NodeRegistered(Meta(f"n{i}", 0), f"n{i}", 64_000, 256_000, devs))
    n = state.n
    # random usage, as placements would leave it
    state.gpu_left[:n] = np.where(rng.random((n, state.gpu_slots)) < 0.5, 1000,
                                  rng.integers(0, 1001, (n, state.gpu_slots)))
    state.cpu_left[:n] = rng.integers(0, 64_001, n)
    for i in range(n):
        state.touch(i)
    return state


def reference(
    state: ClusterState, req: Req, nodes: I64, wl_shapes: tuple[WorkloadShape, ...]
) -> tuple[list[float], list[int]]:
    wl = from_shapes(wl_shapes, 0.95)
    usable = np.where(state.gpu_ok[nodes], state.gpu_left[nodes], 0)
    acc = wl.access(state.models)[state.gpu_model[nodes]] & state.gpu_ok[nodes][:, :, None]
    cpu = state.cpu_left[nodes]
    f0 = node_frag(usable, cpu, acc, wl)
    lf = np.where(allowed_gpus(state, req, nodes), state.gpu_left[nodes], 0)
    if req.shared:
        f1 = frag_after_share(usable, cpu, acc, wl, req.cpu, req.milli)
        lv = np.where(lf >= req.milli, fragindex.level(f0[:, None] - f1), -np.inf)
        pick = np.argmax(lv, axis=1)
        return lv[np.arange(len(nodes)), pick].tolist(), pick.tolist()
    after = usable.copy()
    for k in range(len(nodes)):  # the least sufficient GPUs, lowest index on ties
        order = sorted((g for g in range(state.gpu_slots) if lf[k, g] >= req.milli), key=lambda g: (lf[k, g], g))
        for g in order[: req.count]:
            after[k, g] -= req.milli
    return fragindex.level(f0 - node_frag(after, cpu - req.cpu, acc, wl)).tolist(), [-1] * len(nodes)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([
    Req(4000, 0, 1, 1000), Req(8000, 0, 1, 470), Req(2000, 0, 1, 90), Req(16000, 0, 2, 1000),
    Req(6000, 0, 4, 500), Req(1000, 0, 0, 0), Req(6000, 0, 1, 810, ("T4",)), Req(3000, 0, 2, 1000, ("A100", "V100")),
]))
def test_incremental_scores_equal_fgd_from_scratch(seed: int, req: Req) -> None:
    rng = np.random.default_rng(seed)
    state = random_cluster(rng, int(rng.integers(1, 40)))
    wl = from_shapes(SHAPES, 0.95)
    stats = fragindex.type_stats(state, wl, 0)
    ok, lf = feasible(state, req, np.arange(state.n))
    nodes = np.nonzero(ok)[0]
    if nodes.shape[0] == 0:
        return
    lf = lf[nodes]
    if req.shared:
        got, pick = fragindex.shared_scores(state, stats, nodes, lf, req.cpu, req.milli)
        got_pick = pick.tolist()
    else:
        got = fragindex.whole_scores(state, stats, nodes, lf, req.cpu, req.count, req.milli)
        got_pick = [-1] * len(nodes)
    want, want_pick = reference(state, req, nodes, SHAPES)
    assert got.tolist() == want
    assert got_pick == want_pick


def test_statistics_follow_node_changes_and_workload_refreshes() -> None:
    rng = np.random.default_rng(7)
    state = random_cluster(rng, 12)
    wl = from_shapes(SHAPES, 0.95)
    stats = fragindex.type_stats(state, wl, 0)
    state.gpu_left[3, :] = 0  # node 3 fills up
    state.touch(3)
    stats = fragindex.type_stats(state, wl, 0)
    usable = np.where(state.gpu_ok[: state.n], state.gpu_left[: state.n], 0)
    acc = wl.access(state.models)[state.gpu_model[: state.n]] & state.gpu_ok[: state.n][:, :, None]
    assert np.allclose(stats.frag[: state.n], node_frag(usable, state.cpu_left[: state.n], acc, wl))
    other = typical({(1000, 250, 1, ()): 3.0, (2000, 1000, 1, ()): 1.0}, 1.0)
    fresh = fragindex.type_stats(state, other, 1)  # a new epoch: every row recomputed
    acc2 = other.access(state.models)[state.gpu_model[: state.n]] & state.gpu_ok[: state.n][:, :, None]
    assert np.allclose(fresh.frag[: state.n], node_frag(usable, state.cpu_left[: state.n], acc2, other))


def test_typical_demand_keeps_rare_large_shapes() -> None:
    counts = {(1000, 500, 1, ()): 96.0, (1000, 1000, 1, ()): 3.0, (8000, 1000, 8, ()): 1.0}
    assert typical(counts, 0.95).count.tolist() == [1]
    wl = typical(counts, 0.95, demand=True)
    assert 8 in wl.count.tolist()
    assert abs(float(wl.p.sum()) + wl.p_cpu - 1.0) < 1e-12


def test_statistics_carried_across_a_refresh_equal_a_fresh_computation() -> None:
    """At a new epoch the columns both workloads share are carried over: every row, packed statistic and
    fragmentation is bit-identical to computing the new workload's statistics from scratch."""
    rng = np.random.default_rng(11)
    state = random_cluster(rng, 30)
    first = from_shapes(SHAPES, 0.95)
    fragindex.type_stats(state, first, 0)
    for i in (2, 5, 17):  # nodes change between the refreshes: their rows must be recomputed
        state.gpu_left[i, :] = rng.integers(0, 1001, state.gpu_slots)
        state.touch(i)
    shapes = (*SHAPES[:4], WorkloadShape(3000, 650, 1, (), 4), WorkloadShape(5000, 470, 2, ("V100",), 2))
    second = from_shapes(shapes, 0.95)  # shares (1000, ()) and (470, ()) columns, adds new ones
    carried = fragindex.type_stats(state, second, 1)
    state.memo.clear()
    fresh = fragindex.type_stats(state, second, 1)
    n = state.n
    assert carried.keys == fresh.keys
    assert np.array_equal(carried.su[:n], fresh.su[:n])
    assert np.array_equal(carried.total[:n], fresh.total[:n])
    assert carried.frag[:n].tobytes() == fresh.frag[:n].tobytes()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_shared_dedupe_keeps_the_lowest_gpu_of_each_kind(seed: int, nodes: int) -> None:
    rng = np.random.default_rng(seed)
    gkey = rng.integers(-1, 4, size=(nodes, 8))
    want = [[all(gkey[k, j] != gkey[k, i] for i in range(j)) for j in range(8)] for k in range(nodes)]
    assert fragindex._first_of_kind(gkey).tolist() == want


def test_touched_since_lists_the_changed_nodes_or_falls_back() -> None:
    state = random_cluster(np.random.default_rng(3), 10)
    seen = state.version
    for i in (4, 1, 4, 7):
        state.touch(i)
    assert state.touched_since(seen) is not None
    assert state.touched_since(seen).tolist() == [1, 4, 7]
    assert state.touched_since(state.version).tolist() == []
    for _ in range(9000):  # older than the bounded log: the caller compares versions instead
        state.touch(0)
    assert state.touched_since(seen) is None


@pytest.mark.parametrize("req", [Req(4000, 0, 1, 1000), Req(8000, 0, 1, 470), Req(1000, 0, 0, 0),
                                 Req(16000, 0, 2, 1000)])
def test_scores_do_not_depend_on_the_batch(req: Req) -> None:
    """A node scored alone (a memo refresh) and in a batch (from scratch, as after a restore) gets the
    same bits: otherwise a level of exactly 50 (nothing changes) can truncate to 49 and flip a tie."""
    state = random_cluster(np.random.default_rng(5), 60)
    stats = fragindex.type_stats(state, from_shapes(SHAPES, 0.95), 0)
    one_by_one = stats.frag[: state.n].copy()
    for i in range(state.n):
        fragindex._fill_rows(state, stats, np.array([i]))
        one_by_one[i] = stats.frag[i]
    fragindex._fill_rows(state, stats, np.arange(state.n))
    assert stats.frag[: state.n].tobytes() == one_by_one.tobytes()
    ok, lf = feasible(state, req, np.arange(state.n))
    nodes = np.nonzero(ok)[0]
    lf = lf[nodes]

    def scores(k: slice) -> list[float]:
        if req.shared:
            got = fragindex.shared_scores(state, stats, nodes[k], lf[k], req.cpu, req.milli)[0]
        else:
            got = fragindex.whole_scores(state, stats, nodes[k], lf[k], req.cpu, req.count, req.milli)
        return [float(x) for x in got]

    assert scores(slice(None)) == [s for k in range(nodes.shape[0]) for s in scores(slice(k, k + 1))]
