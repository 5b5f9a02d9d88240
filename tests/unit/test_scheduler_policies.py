"""Scenario tests of the scheduler core's policies (pure: no services)."""

from __future__ import annotations

from agentic.streams.scheduler import SchedulerConfig
from agentic.streams.scheduler.model import (
    Member,
    PendingReason,
    Quota,
    TaskAllocated,
    TaskPending,
    TaskPreempted,
    Topology,
)
from agentic.streams.scheduler.testing import Driver


def only(decisions: tuple[object, ...], kind: type) -> list:  # type: ignore[type-arg]
    return [d for d in decisions if isinstance(d, kind)]


def cluster(nodes: int = 2, gpus: int = 2, **cfg: object) -> Driver:
    d = Driver(SchedulerConfig(**cfg))
    for i in range(nodes):
        d.node(f"n{i}", gpus)
    d.queue("q")
    return d


def test_gang_is_all_or_nothing() -> None:
    d = cluster(nodes=2, gpus=2)
    out = d.submit("big", gpus=2, replicas=3)
    assert [type(x) for x in out] == [TaskPending]
    assert out[0].reason == PendingReason.GANG_NOT_COLOCATABLE
    assert d.state.gpu_alloc_milli == 0 and int(d.state.gpu_left[:2].sum()) == 4000
    (alloc,) = d.submit("fits", gpus=2, replicas=2)
    assert isinstance(alloc, TaskAllocated)
    assert sorted(p.node_id for p in alloc.placements) == ["n0", "n1"]


def test_fractional_gpus_share_one_gpu() -> None:
    d = cluster(nodes=1, gpus=1)
    a, b = d.submit("a", gpus=1, milli=500)[0], d.submit("b", gpus=1, milli=500)[0]
    assert isinstance(a, TaskAllocated) and isinstance(b, TaskAllocated)
    assert a.placements[0].gpus[0].index == b.placements[0].gpus[0].index == 0
    c = d.submit("c", gpus=1, milli=100)[0]
    assert isinstance(c, TaskPending) and c.reason == PendingReason.INSUFFICIENT_RESOURCES
    assert c.nearest_node == "n0" and dict(c.shortfall) == {"gpu_milli": 100}


def test_gpu_model_constraint() -> None:
    d = cluster(nodes=1, gpus=1)
    d.node("h", 1, model="H100")
    (a,) = d.submit("a", gpus=1, models=("H100",))
    assert isinstance(a, TaskAllocated) and a.placements[0].node_id == "h"
    (b,) = d.submit("b", gpus=1, models=("T4",))
    assert isinstance(b, TaskPending) and b.reason == PendingReason.GPU_MODEL_UNAVAILABLE


def test_nvlink_domain_and_contiguous_gpus() -> None:
    d = Driver()
    d.node("n0", 8, domains=(0, 0, 0, 0, 1, 1, 1, 1))
    d.queue("q")
    (a,) = d.submit("a", gpus=4, topology=Topology.SAME_NVLINK)
    assert isinstance(a, TaskAllocated)
    idx = [g.index for g in a.placements[0].gpus]
    assert idx in ([0, 1, 2, 3], [4, 5, 6, 7])
    (b,) = d.submit("b", gpus=2, milli=1000)
    (c,) = d.submit("c", gpus=4, topology=Topology.SAME_NVLINK)
    assert isinstance(b, TaskAllocated) and isinstance(c, TaskPending)


def test_same_node_gang_lands_on_one_node() -> None:
    d = cluster(nodes=3, gpus=4)
    (a,) = d.submit("a", gpus=2, replicas=2, topology=Topology.SAME_NODE)
    assert isinstance(a, TaskAllocated) and len({p.node_id for p in a.placements}) == 1
    (b,) = d.submit("b", gpus=2, replicas=3, topology=Topology.SAME_NODE)
    assert isinstance(b, TaskPending) and b.reason == PendingReason.TOPOLOGY_UNSATISFIABLE


def test_queue_quota_and_borrow_limit() -> None:
    d = cluster(nodes=1, gpus=4)
    d.queue("capped", quotas=(Quota("gpu_milli", 1000, None, 1000),))
    assert isinstance(d.submit("a", gpus=2, queue="capped")[0], TaskAllocated)
    (b,) = d.submit("b", gpus=1, queue="capped")
    assert isinstance(b, TaskPending) and b.reason == PendingReason.QUEUE_QUOTA_EXCEEDED
    assert dict(b.shortfall) == {"gpu_milli": 1000}
    d.finish("a")
    assert d.state.queues["capped"].usage["gpu_milli"] == 1000  # b got in when a finished


def test_drf_serves_the_queue_with_the_smaller_share_first() -> None:
    d = cluster(nodes=1, gpus=2, aging_ms=10**9)
    d.queue("rich")
    d.queue("poor")
    d.submit("r1", gpus=1, queue="rich")
    d.submit("r2", gpus=1, queue="rich")
    d.submit("r3", gpus=1, queue="rich")  # pending, older
    d.submit("p1", gpus=1, queue="poor")  # pending, newer, but its queue holds nothing
    out = d.finish("r1")
    assert [x.task_id for x in only(out, TaskAllocated)] == ["p1"]


def test_preemption_evicts_only_what_the_preemptor_needs() -> None:
    d = cluster(nodes=2, gpus=1)
    d.submit("low1", gpus=1, preemptible=True)
    d.submit("low2", gpus=1, preemptible=True)
    out = d.submit("high", gpus=1, priority=10)
    pre, alloc = only(out, TaskPreempted), only(out, TaskAllocated)
    assert len(pre) == 1 and pre[0].preemptor_task_id == "high"
    assert alloc and alloc[0].task_id == "high"
    assert alloc[0].placements[0].node_id in pre[0].node_ids
    assert out.index(pre[0]) < out.index(alloc[0])


def test_no_preemption_of_non_preemptible_or_when_it_would_not_fit() -> None:
    d = cluster(nodes=1, gpus=2)
    d.submit("keep", gpus=1)
    d.submit("low", gpus=1, preemptible=True)
    out = d.submit("wide", gpus=2, milli=1000, cpu=64_000, priority=10)  # keep's CPU is not freeable
    assert not only(out, TaskPreempted) and isinstance(out[0], TaskPending)
    assert d.state.tasks["low"].running


def test_reservation_stops_starvation_and_backfills_short_tasks() -> None:
    d = cluster(nodes=1, gpus=4, aging_ms=1_000)
    d.submit("small1", gpus=2, duration=5_000)
    d.submit("small2", gpus=1, duration=5_000)
    (big,) = d.submit("big", gpus=4)
    assert isinstance(big, TaskPending)
    d.now += 2_000  # big has aged past aging_ms
    d.heartbeat("n0", 0.0)
    d.finish("small2")  # frees 1 GPU: big still does not fit and takes the reservation
    assert d.state.reservation == "big"
    (late,) = d.submit("late", gpus=1)  # no expected duration: may not jump the queue
    assert isinstance(late, TaskPending) and late.reason == PendingReason.BEHIND_RESERVATION
    (short,) = d.submit("short", gpus=1, duration=500)  # ends before small1 does: backfilled
    assert isinstance(short, TaskAllocated)
    d.finish("short")
    out = d.finish("small1")
    assert next(x.task_id for x in only(out, TaskAllocated)) == "big"


def test_pending_task_is_retried_when_a_node_joins() -> None:
    d = Driver()
    d.queue("q")
    (p,) = d.submit("a", gpus=1)
    assert isinstance(p, TaskPending) and p.reason == PendingReason.NO_NODES
    out = d.node("n0", 1)
    assert [x.task_id for x in only(out, TaskAllocated)] == ["a"]


def test_load_aware_scoring_prefers_the_idle_node() -> None:
    d = cluster(nodes=2, gpus=1, placement="spread", load_weight=1.0)
    d.heartbeat("n0", 0.9)
    (a,) = d.submit("a", gpus=1, milli=200)
    assert isinstance(a, TaskAllocated) and a.placements[0].node_id == "n1"
    assert dict(a.score_breakdown)["load"] == 0.0


def test_multi_member_gang_places_every_replica() -> None:
    d = cluster(nodes=2, gpus=4)
    members = (Member("ps", 1, 4000, 8000, 0, 0), Member("worker", 3, 2000, 4000, 2, 1000))
    (a,) = d.submit("job", members=members)
    assert isinstance(a, TaskAllocated)
    assert sorted((p.member, p.replica) for p in a.placements) == [
        ("ps", 0), ("worker", 0), ("worker", 1), ("worker", 2)]


def test_a_victim_is_given_back_only_if_all_its_replicas_fit_together() -> None:
    # found by the property test: each replica of the victim fits alone on n0 after the preemptor
    # took 1 cpu there, but not both together; the victim must be evicted, not over-committed
    d = Driver(SchedulerConfig(placement="frag"))
    for i in range(3):
        d.node(f"n{i}", 4, cpu=16_000, mem=64_000)
    d.queue("q")
    d.submit("victim", cpu=8000, replicas=2, preemptible=True)
    out = d.submit("gang", gpus=3, cpu=1, replicas=3, priority=1)
    assert [type(x) for x in out] == [TaskPreempted, TaskAllocated]
    assert out[0].task_id == "victim" and not d.state.tasks["victim"].running
    assert (d.state.cpu_left[:3] >= 0).all()


def test_frag_sends_cpu_only_tasks_where_no_gpu_idles() -> None:
    def run(**cfg: str) -> str:
        d = Driver(SchedulerConfig(placement="frag", **cfg))
        d.node("n0", 4)
        d.node("n1", 4, model="H100")
        d.queue("q")
        d.submit("fill", gpus=4, models=("H100",))  # n1's GPUs are all taken
        (out,) = d.submit("cpu", cpu=2000)
        assert isinstance(out, TaskAllocated)
        return str(out.placements[0].node_id)

    assert run() == "n1"  # the node without idle GPUs, among equal fragmentation levels
    assert run(cpu_tiebreak="order", node_tiebreak="order") == "n0"  # FGD: the first registered


def test_frag_keeps_cpu_and_gpu_running_out_together() -> None:
    def run(**cfg: str) -> str:
        d = Driver(SchedulerConfig(placement="frag", **cfg))
        d.node("n0", 4)
        d.node("n1", 4)
        d.queue("q")
        d.submit("cpu-heavy", cpu=48_000)  # both nodes have 4 idle GPUs: n0 (first) takes it
        (out,) = d.submit("gpu", gpus=1, cpu=1000)
        assert isinstance(out, TaskAllocated)
        return str(out.placements[0].node_id)

    assert run() == "n1"  # n0 would be left with 75% of its GPUs and 23% of its CPU
    assert run(cpu_tiebreak="order", node_tiebreak="order") == "n0"
