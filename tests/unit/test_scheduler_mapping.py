"""The scheduler's decisions map onto valid Avro event classes, and the inputs map into the core."""

from __future__ import annotations

from typing import Any

import agentic.events as ev
from agentic.schemas.codec import event_to_json, validate
from agentic.streams.scheduler import ClusterState, Scheduler
from agentic.streams.scheduler.mapping import to_event, to_input
from agentic.streams.scheduler.model import Meta, decision_meta


def env(n: int, kind: str) -> ev.Envelope:
    return ev.Envelope(event_id=f"00000000-0000-4000-8000-{n:012d}", event_type=kind, occurred_at=1_000 + n,
                       tenant="t1", source="test", correlation_id=f"corr-{n}")


def gpu(i: int) -> ev.GpuDevice:
    return ev.GpuDevice(index=i, model="A100", memory_mib=80000, nvlink_domain=0, healthy=True)


def submitted(n: int, task: str, queue: str, count: int, milli: int) -> ev.TaskSubmitted:
    return ev.TaskSubmitted(
        envelope=env(n, "TaskSubmitted"), task_id=task, queue=queue, priority=0,
        workload_type=ev.WorkloadType.TRAINING, preemptible=False,
        members=(ev.GangMember(name="w", replicas=1, cpu_milli=1000, memory_mib=1000, gpu_count=count,
                               gpu_milli=milli),),
        gpu_models=(), topology=ev.TopologyRequirement.NONE, expected_duration_ms=None)


def test_events_in_decisions_out_are_valid_and_deterministic() -> None:
    inputs: list[Any] = [
        ev.NodeRegistered(envelope=env(1, "NodeRegistered"), node_id="n0", cpu_milli=8000, memory_mib=32000,
                          gpus=(gpu(0), gpu(1)), rack="r0", zone="z0", labels={}, healthy=True, cordoned=False),
        ev.QueueConfigured(envelope=env(2, "QueueConfigured"), queue="q", weight=1.0, priority=0,
                           quotas=(ev.ResourceQuota(resource="gpu_milli", gpu_model=None, guaranteed=1000,
                                                    borrow_limit=None),)),
        submitted(3, "a", "q", 1, 500),
        submitted(4, "b", "q", 4, 1000),
        submitted(5, "c", "nope", 0, 0),
        ev.TaskFinished(envelope=env(6, "TaskFinished"), task_id="a", outcome=ev.TaskOutcome.SUCCEEDED,
                        exit_code=0),
    ]

    def run() -> list[dict[str, Any]]:
        sched, state, out = Scheduler(), ClusterState(), []
        for e in inputs:
            core_in = to_input(e)
            assert core_in is not None
            state, decisions = sched.step(state, core_in)
            for d in decisions:
                event = to_event(d)
                validate(event)
                out.append(event_to_json(event))
        return out

    first = run()
    assert [o["envelope"]["event_type"] for o in first] == ["TaskAllocated", "TaskRejected", "TaskRejected"]
    assert first[0]["envelope"]["causation_id"] == inputs[2].envelope.event_id
    assert first[0]["envelope"]["event_id"] == ev.derived_event_id(inputs[2].envelope.event_id, "0")
    assert first == run()


def test_decision_ids_follow_the_project_rule() -> None:
    meta = decision_meta(Meta("abc", 5, "t", "c"), 3, "")
    assert meta.event_id == ev.derived_event_id("abc", "3")
    assert (meta.causation_id, meta.occurred_at, meta.correlation_id) == ("abc", 5, "c")
