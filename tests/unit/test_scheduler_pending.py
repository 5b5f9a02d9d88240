"""The incremental pending order and the retry shortcut (tasks stuck until capacity is freed)."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from agentic.streams.scheduler import ClusterState, SchedulerConfig
from agentic.streams.scheduler.fairness import order_key
from agentic.streams.scheduler.model import Decision, Member, Topology
from agentic.streams.scheduler.pending import PendingIndex
from agentic.streams.scheduler.state import QueueRecord, TaskRecord
from agentic.streams.scheduler.testing import Driver


def _task(task_id: str, queue: str, priority: int, submitted_at: int, seq: int) -> TaskRecord:
    return TaskRecord(task_id, queue, priority, False, (Member("m", 1, 1, 1, 0, 0),), (), Topology.NONE, None,
                      submitted_at, seq, task_id)


# (queue, priority, submitted_at) per task; seq is the position, times deliberately out of order
tasks_st = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 2), st.integers(0, 20_000)),
                    min_size=0, max_size=80)


@settings(max_examples=150, deadline=None)
@given(tasks_st, st.lists(st.integers(0, 79), max_size=30), st.integers(0, 30_000), st.integers(1, 12),
       st.sampled_from([1_000, 5_000, 60_000]))
def test_first_k_equals_a_full_sort_by_the_order_key(specs: list[tuple[str, int, int]], gone: list[int], now: int,
                                                     k: int, aging_ms: int) -> None:
    state = ClusterState()
    state.queues = {q: QueueRecord(q, w, p, {}, {}, {"gpu_milli": u}) for q, w, p, u in
                    (("a", 1.0, 0, 3000), ("b", 2.0, 1, 1000), ("c", 0.5, 0, 0))}
    cap = {"cpu_milli": 0, "memory_mib": 0, "gpu_milli": 8000}
    tasks = [_task(f"t{i}", q, p, at, seq=i) for i, (q, p, at) in enumerate(specs)]
    index = PendingIndex(tasks)
    for i in gone:
        index.discard(f"t{i}")
    alive = [t for t in tasks if t.task_id not in {f"t{i}" for i in gone}]
    assert len(index) == len(alive)
    shares = {name: q.usage["gpu_milli"] / 8000 / q.weight for name, q in state.queues.items()}
    expected = [t.task_id for t in sorted(alive, key=lambda t: order_key(state, t, now, aging_ms, cap, True))][:k]
    assert index.first(k, now, aging_ms, lambda q: state.queues[q].priority, shares.__getitem__) == expected
    expected = [t.task_id for t in sorted(alive, key=lambda t: order_key(state, t, now, aging_ms, cap, False))][:k]
    assert index.first(k, now, aging_ms, lambda q: state.queues[q].priority, lambda q: 0.0) == expected


def _busy(config: SchedulerConfig) -> Driver:
    d = Driver(config)
    d.node("n0", 2, cpu=8_000)
    d.node("n1", 2, cpu=8_000)
    d.queue("q")
    return d


def _overload(d: Driver, steps: range) -> None:
    """More work than the two nodes hold, with finishes every few steps and a gang now and then."""
    for k in steps:
        d.now += 700
        if k % 9 == 8:
            d.finish(f"t{k - 8}")
        elif k % 11 == 5:
            d.submit(f"t{k}", gpus=1, replicas=2, milli=500)
        else:
            d.submit(f"t{k}", gpus=1 + k % 2, milli=1000 if k % 2 else 300 + 100 * (k % 4), cpu=500 * (k % 5),
                     priority=k % 2, preemptible=k % 3 == 0)


def test_a_stuck_task_is_not_placed_again_until_capacity_is_freed() -> None:
    d = _busy(SchedulerConfig(reservation=False))
    d.submit("big", gpus=2)
    d.submit("big2", gpus=2)
    d.submit("wait", gpus=2)  # both nodes full: pending, tried once
    assert d.state.stuck == {"wait": True}
    d.submit("small", gpus=1, milli=100)  # no capacity freed: "wait" is not placed again, still stuck
    assert "wait" in d.state.stuck and "small" in d.state.pending
    (alloc,) = [o for o in d.finish("big") if type(o).__name__ == "TaskAllocated"]
    assert alloc.task_id == "wait"  # the finish freed capacity: the oldest pending task got it
    assert d.state.stuck == {"small": True}  # tried again after the finish and still missing


def test_skipping_stuck_tasks_decides_like_retrying_them() -> None:
    """A restored state without the stuck set (as from an older snapshot) retries every pending task; the
    decisions must be the same as those of the run that skipped the stuck ones."""
    for config in (SchedulerConfig(aging_ms=3_000), SchedulerConfig(reservation=False, max_pending_retries=4),
                   SchedulerConfig(reservation=False, drf=False, preemption=False)):
        whole, skipped = _busy(config), 0
        for k in range(120):
            _overload(whole, range(k, k + 1))
            skipped += bool(whole.state.stuck)
        assert skipped > 30  # the shortcut was taken
        forgetful = _busy(config)
        for k in range(120):
            snap = json.loads(json.dumps(forgetful.state.snapshot()))
            snap.pop("stuck")
            forgetful = replace(forgetful, state=ClusterState.restore(snap))
            forgetful.__post_init__()
            _overload(forgetful, range(k, k + 1))
        assert forgetful.log == whole.log
        assert len(whole.state.pending) > 10  # the scenario does overload the cluster


op_st = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 2), st.sampled_from([100, 300, 500, 1000]), st.integers(1, 2),
              st.integers(0, 2), st.booleans(), st.sampled_from(["qa", "qb"]), st.sampled_from([None, 500, 5_000])),
    st.tuples(st.just("finish"), st.integers(0, 59)),
    st.tuples(st.just("cancel"), st.integers(0, 59)),
    st.tuples(st.just("node"), st.integers(0, 3)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(op_st, min_size=10, max_size=60), st.booleans(), st.booleans())
def test_random_logs_decide_the_same_with_and_without_the_stuck_set(ops: list, reservation: bool,  # type: ignore[type-arg]
                                                                    quotas: bool) -> None:
    """Gangs, priorities, preemptible tasks, two queues (one with a guarantee and a borrowing limit), finishes,
    cancels and node changes: skipping stuck tasks gives the decisions of retrying every pending task."""
    from agentic.streams.scheduler.model import Quota

    def run(forget: bool) -> list[Decision]:
        d = Driver(SchedulerConfig(reservation=reservation, aging_ms=1_500))
        for i in range(2):
            d.node(f"n{i}", 2, cpu=6_000)
        d.queue("qa", quotas=(Quota("gpu_milli", 1000, None, 1000),) if quotas else ())
        d.queue("qb", weight=2.0)
        for k, op in enumerate(ops):
            if forget:
                snap = json.loads(json.dumps(d.state.snapshot()))
                snap.pop("stuck")
                d = replace(d, state=ClusterState.restore(snap))
                d.__post_init__()
            d.now += 400
            if op[0] == "submit":
                _, gpus, milli, replicas, prio, pre, queue, duration = op
                d.submit(f"t{k}", gpus=gpus, milli=milli if gpus == 1 else 1000, cpu=1000 * (k % 3),
                         replicas=replicas, priority=prio, preemptible=pre, queue=queue, duration=duration)
            elif op[0] in ("finish", "cancel"):
                (d.finish if op[0] == "finish" else d.cancel)(f"t{op[1]}")
            else:
                d.node(f"n{op[1]}", 2, cpu=6_000)
        return list(d.log)

    assert run(forget=True) == run(forget=False)
