"""Bad input, determinism, snapshot/restore and property-based invariants of the scheduler core."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic.streams.scheduler import ClusterState, SchedulerConfig
from agentic.streams.scheduler.model import Member, RejectReason, TaskAllocated, TaskRejected
from agentic.streams.scheduler.testing import Driver


def small() -> Driver:
    d = Driver()
    d.node("n0", 2)
    d.queue("q")
    return d


@pytest.mark.parametrize(("kwargs", "reason", "field"), [
    ({"queue": "nope"}, RejectReason.UNKNOWN_QUEUE, "queue"),
    ({"replicas": 0}, RejectReason.INVALID_REQUEST, "members[0].replicas"),
    ({"gpus": 1, "milli": 1001}, RejectReason.INVALID_REQUEST, "members[0].gpu_milli"),
    ({"gpus": 1, "milli": 0}, RejectReason.INVALID_REQUEST, "members[0].gpu_milli"),
    ({"cpu": -1}, RejectReason.INVALID_REQUEST, "members[0].cpu_milli"),
    ({"mem": -5}, RejectReason.INVALID_REQUEST, "members[0].memory_mib"),
    ({"gpus": -1}, RejectReason.INVALID_REQUEST, "members[0].gpu_count"),
    ({"gpus": 3}, RejectReason.NEVER_FITS, "members[0]"),
    ({"duration": -1}, RejectReason.INVALID_REQUEST, "expected_duration_ms"),
])
def test_bad_submission_is_rejected_with_field_and_rule(kwargs: dict, reason: RejectReason, field: str) -> None:  # type: ignore[type-arg]
    (out,) = small().submit("t", **kwargs)
    assert isinstance(out, TaskRejected)
    assert (out.reason, out.field) == (reason, field)
    assert out.message


def test_empty_gang_duplicate_and_unknown_task_are_rejected() -> None:
    d = small()
    (empty,) = d.submit("e", members=())
    assert isinstance(empty, TaskRejected) and empty.field == "members"
    d.submit("a", gpus=1)
    (dup,) = d.submit("a", gpus=1)
    assert isinstance(dup, TaskRejected) and dup.reason == RejectReason.DUPLICATE_TASK
    (fin,) = d.finish("ghost")
    assert isinstance(fin, TaskRejected) and fin.reason == RejectReason.UNKNOWN_TASK
    assert d.state.tasks["a"].running  # bad input changed nothing else


def scenario(d: Driver, steps: range) -> None:
    for k in steps:
        d.now += 100
        if k % 7 == 3:
            d.finish(f"t{k - 3}")
        else:
            d.submit(f"t{k}", gpus=1 + k % 2, milli=1000 if k % 2 else 250 + 50 * (k % 5),
                     priority=k % 3, preemptible=k % 4 == 0, duration=1_000 * (k % 5) or None)


def build(placement: str) -> Driver:
    d = Driver(SchedulerConfig(placement=placement, aging_ms=2_000))
    for i in range(4):
        d.node(f"n{i}", 4, domains=(0, 0, 1, 1))
    d.queue("q")
    return d


@pytest.mark.parametrize("placement", ["frag", "fgd", "bestfit", "spread", "random"])
def test_same_inputs_give_identical_decisions(placement: str) -> None:
    a, b = build(placement), build(placement)
    scenario(a, range(60))
    scenario(b, range(60))
    assert a.log == b.log
    assert len({d.meta.event_id for d in a.log}) == len(a.log)


@pytest.mark.parametrize("placement", ["frag", "random"])
def test_snapshot_restore_mid_stream_gives_the_same_rest(placement: str) -> None:
    whole, half = build(placement), build(placement)
    scenario(whole, range(80))
    scenario(half, range(40))
    snap = json.loads(json.dumps(half.state.snapshot()))
    resumed = replace(half, state=ClusterState.restore(snap), log=[])
    resumed.__post_init__()
    scenario(resumed, range(40, 80))
    assert resumed.log == whole.log[len(half.log):]
    assert resumed.state.snapshot() == whole.state.snapshot()


request = st.tuples(st.integers(0, 3), st.sampled_from([100, 250, 500, 1000]), st.integers(1, 3),
                    st.integers(0, 8_000), st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(request, st.integers(0, 40)), min_size=1, max_size=60),
       st.sampled_from(["frag", "bestfit", "random"]))
def test_capacity_is_never_exceeded_and_gangs_never_partial(ops: list, placement: str) -> None:  # type: ignore[type-arg]
    d = Driver(SchedulerConfig(placement=placement))
    for i in range(3):
        d.node(f"n{i}", 4, cpu=16_000, mem=64_000)
    d.queue("q")
    submitted: dict[str, int] = {}
    for k, op in enumerate(ops):
        if isinstance(op, int):
            d.finish(f"t{op}")
            continue
        gpus, milli, replicas, cpu, pre = op
        submitted[f"t{k}"] = replicas
        d.submit(f"t{k}", gpus=gpus, milli=milli if gpus == 1 else 1000, cpu=cpu, replicas=replicas,
                 preemptible=pre, priority=k % 2)
        s = d.state
        n = s.n
        assert (s.cpu_left[:n] >= 0).all() and (s.mem_left[:n] >= 0).all()
        assert (s.gpu_left[:n] >= 0).all() and (s.gpu_left[:n] <= 1000).all()
        used = sum(g.milli for t in s.tasks.values() for p in t.placements for g in p.gpus)
        assert used == s.gpu_alloc_milli == int((1000 - s.gpu_left[:n][s.gpu_ok[:n]]).sum())
    for dec in d.log:
        if isinstance(dec, TaskAllocated):
            assert len(dec.placements) == submitted[dec.task_id]


def test_members_with_cpu_only_replicas_use_no_gpu() -> None:
    d = small()
    (a,) = d.submit("cpu", members=(Member("m", 2, 1000, 1000, 0, 0),))
    assert isinstance(a, TaskAllocated) and all(p.gpus == () for p in a.placements)
    assert int(np.asarray(d.state.gpu_left[:1]).sum()) == 2000


@pytest.mark.parametrize("variant", [
    {"typical_coverage": 0.99}, {"gpu_tiebreak": "bestfit", "node_tiebreak": "used"},
    {"frag_levels": 50, "typical_demand": True}, {"node_tiebreak": "bestfit", "workload_weight": "gpu"},
])
def test_frag_variants_are_deterministic_and_restorable(variant: dict) -> None:  # type: ignore[type-arg]
    def fresh() -> Driver:
        d = Driver(SchedulerConfig(placement="frag", aging_ms=2_000, **variant))
        for i in range(4):
            d.node(f"n{i}", 4, domains=(0, 0, 1, 1))
        d.queue("q")
        return d

    whole, half, again = fresh(), fresh(), fresh()
    scenario(whole, range(80))
    scenario(again, range(80))
    assert whole.log == again.log
    scenario(half, range(40))
    resumed = replace(half, state=ClusterState.restore(json.loads(json.dumps(half.state.snapshot()))), log=[])
    resumed.__post_init__()
    scenario(resumed, range(40, 80))
    assert resumed.log == whole.log[len(half.log):]


def test_unknown_variant_names_are_refused_with_the_field() -> None:
    with pytest.raises(ValueError, match="gpu_tiebreak"):
        SchedulerConfig(gpu_tiebreak="nope")
    with pytest.raises(ValueError, match="frag_levels"):
        SchedulerConfig(frag_levels=0)
