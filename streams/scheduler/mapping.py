"""From the Avro event classes (`agentic.events`) to the core's inputs, and from decisions back.

The only module of the scheduler that imports `agentic.events`; the core stays independent of it.
"""

from __future__ import annotations

from typing import Any

import agentic.events as ev

from . import model as m

SOURCE = "agentic.scheduler"  # the envelope source of every decision


def _meta(env: ev.Envelope) -> m.Meta:
    return m.Meta(env.event_id, env.occurred_at, env.tenant, env.correlation_id)


def _gpus(gpus: tuple[ev.GpuDevice, ...]) -> tuple[m.Gpu, ...]:
    return tuple(m.Gpu(g.index, g.model, g.memory_mib, g.nvlink_domain, g.healthy) for g in gpus)


def to_input(e: Any) -> m.InputEvent | None:
    """The core's input for a scheduling event; None for events the scheduler does not consume."""
    if isinstance(e, ev.TaskSubmitted):
        return m.TaskSubmitted(
            _meta(e.envelope), e.task_id, e.queue,
            tuple(m.Member(x.name, x.replicas, x.cpu_milli, x.memory_mib, x.gpu_count, x.gpu_milli)
                  for x in e.members),
            e.priority, str(e.workload_type.value), e.preemptible, tuple(e.gpu_models),
            m.Topology(e.topology.value), e.expected_duration_ms)
    if isinstance(e, ev.NodeRegistered | ev.NodeUpdated):
        cls = m.NodeRegistered if isinstance(e, ev.NodeRegistered) else m.NodeUpdated
        return cls(_meta(e.envelope), e.node_id, e.cpu_milli, e.memory_mib, _gpus(e.gpus), e.rack, e.zone,
                   tuple(sorted(e.labels.items())), e.healthy, e.cordoned)
    if isinstance(e, ev.NodeRemoved):
        return m.NodeRemoved(_meta(e.envelope), e.node_id, e.reason)
    if isinstance(e, ev.NodeHeartbeat):
        return m.NodeHeartbeat(_meta(e.envelope), e.node_id, e.cpu_load, e.memory_used_mib,
                               tuple(e.gpu_utilization))
    if isinstance(e, ev.QueueConfigured):
        return m.QueueConfigured(_meta(e.envelope), e.queue, e.weight, e.priority,
                                 tuple(m.Quota(q.resource, q.guaranteed, q.gpu_model, q.borrow_limit)
                                       for q in e.quotas))
    if isinstance(e, ev.TaskCancelled):
        return m.TaskCancelled(_meta(e.envelope), e.task_id, e.reason)
    if isinstance(e, ev.TaskFinished):
        return m.TaskFinished(_meta(e.envelope), e.task_id, str(e.outcome.value), e.exit_code or 0)
    return None


def _env(d: m.DecisionMeta, event_type: str) -> ev.Envelope:
    return ev.Envelope(event_id=d.event_id, event_type=event_type, occurred_at=d.occurred_at,
                       tenant=d.tenant, source=SOURCE, correlation_id=d.correlation_id,
                       causation_id=d.causation_id)


def _placement(p: m.Placement) -> ev.Placement:
    return ev.Placement(member=p.member, replica=p.replica, node_id=p.node_id,
                        gpus=tuple(ev.GpuShare(index=g.index, milli=g.milli) for g in p.gpus),
                        cpu_milli=p.cpu_milli, memory_mib=p.memory_mib)


def to_event(d: m.Decision) -> Any:
    """The Avro event class instance of a decision (deterministic envelope included)."""
    if isinstance(d, m.TaskAllocated):
        return ev.TaskAllocated(envelope=_env(d.meta, "TaskAllocated"), task_id=d.task_id, queue=d.queue,
                                placements=tuple(_placement(p) for p in d.placements), score=d.score,
                                score_breakdown=dict(d.score_breakdown), policy=d.policy,
                                policy_version=d.policy_version, wait_ms=d.wait_ms)
    if isinstance(d, m.TaskPending):
        return ev.TaskPending(envelope=_env(d.meta, "TaskPending"), task_id=d.task_id, queue=d.queue,
                              reason=ev.PendingReason(d.reason.value), detail=d.detail,
                              nearest_node=d.nearest_node, shortfall=dict(d.shortfall))
    if isinstance(d, m.TaskPreempted):
        return ev.TaskPreempted(envelope=_env(d.meta, "TaskPreempted"), task_id=d.task_id,
                                preemptor_task_id=d.preemptor_task_id, node_ids=d.node_ids, reason=d.reason)
    return ev.TaskRejected(envelope=_env(d.meta, "TaskRejected"), task_id=d.task_id,
                           reason=ev.RejectReason(d.reason.value), field=d.field or None, message=d.message)
