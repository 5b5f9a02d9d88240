"""The scheduler as a `Processor`: the pure core behind the event classes of `agentic.events`.

Inputs are decoded Avro events (NodeRegistered ... TaskFinished), mapped field for field to the core's
own types (`model.py`); decisions are mapped back to TaskAllocated/TaskPending/TaskPreempted/TaskRejected
events whose envelopes the core made deterministic (uuid5 of the input id and the decision's index).
Snapshots are the core's `ClusterState.snapshot()` dict as canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from agentic import events as ev
from agentic.schemas.topics import SCHEDULING_DECISIONS, SCHEDULING_INPUTS
from agentic.streams.shell import Unprocessable

from . import model as m
from .config import SchedulerConfig
from .core import Scheduler
from .diagnose import diagnose
from .frag import cluster_frag_ratio
from .state import ClusterState

SOURCE = "agentic.scheduler"
FORMAT = "1"  # snapshot and mapping format; part of the processor version


# ------------------------------------------------------------------------------ events -> core
def _meta(e: ev.Envelope) -> m.Meta:
    return m.Meta(e.event_id, e.occurred_at, e.tenant, e.correlation_id)


def _gpus(gpus: Sequence[ev.GpuDevice]) -> tuple[m.Gpu, ...]:
    return tuple(m.Gpu(g.index, g.model, g.memory_mib, g.nvlink_domain, g.healthy) for g in gpus)


def _node(x: ev.NodeRegistered | ev.NodeUpdated) -> dict[str, Any]:
    return {"meta": _meta(x.envelope), "node_id": x.node_id, "cpu_milli": x.cpu_milli, "memory_mib": x.memory_mib,
            "gpus": _gpus(x.gpus), "rack": x.rack, "zone": x.zone, "labels": tuple(sorted(x.labels.items())),
            "healthy": x.healthy, "cordoned": x.cordoned}


def _submitted(x: ev.TaskSubmitted) -> m.TaskSubmitted:
    members = tuple(m.Member(g.name, g.replicas, g.cpu_milli, g.memory_mib, g.gpu_count, g.gpu_milli)
                    for g in x.members)
    return m.TaskSubmitted(_meta(x.envelope), x.task_id, x.queue, members, x.priority, str(x.workload_type),
                           x.preemptible, tuple(x.gpu_models), m.Topology(str(x.topology)), x.expected_duration_ms)


def _queue(x: ev.QueueConfigured) -> m.QueueConfigured:
    quotas = tuple(m.Quota(q.resource, q.guaranteed, q.gpu_model, q.borrow_limit) for q in x.quotas)
    return m.QueueConfigured(_meta(x.envelope), x.queue, x.weight, x.priority, quotas)


_TO_CORE: dict[type, Callable[[Any], m.InputEvent]] = {
    ev.NodeRegistered: lambda x: m.NodeRegistered(**_node(x)),
    ev.NodeUpdated: lambda x: m.NodeUpdated(**_node(x)),
    ev.NodeRemoved: lambda x: m.NodeRemoved(_meta(x.envelope), x.node_id, x.reason),
    ev.NodeHeartbeat: lambda x: m.NodeHeartbeat(_meta(x.envelope), x.node_id, x.cpu_load, x.memory_used_mib,
                                                 tuple(x.gpu_utilization)),
    ev.QueueConfigured: _queue,
    ev.TaskSubmitted: _submitted,
    ev.TaskCancelled: lambda x: m.TaskCancelled(_meta(x.envelope), x.task_id, x.reason),
    ev.TaskFinished: lambda x: m.TaskFinished(_meta(x.envelope), x.task_id, str(x.outcome),
                                              0 if x.exit_code is None else x.exit_code),
}


def to_core(event: Any) -> m.InputEvent:
    """The core's input for a decoded event; `Unprocessable` for an event the scheduler does not read."""
    convert = _TO_CORE.get(type(event))
    if convert is None:
        raise Unprocessable(f"{type(event).__name__} is not a scheduling input; the scheduler reads "
                            f"{', '.join(sorted(t.__name__ for t in _TO_CORE))}: publish it to its own topic")
    return convert(event)


# ------------------------------------------------------------------------------ core -> events
def _envelope(d: m.DecisionMeta, event_type: str) -> ev.Envelope:
    return ev.Envelope(event_id=d.event_id, event_type=event_type, occurred_at=d.occurred_at, tenant=d.tenant,
                       source=SOURCE, correlation_id=d.correlation_id, causation_id=d.causation_id)


def _placement(p: m.Placement) -> ev.Placement:
    return ev.Placement(member=p.member, replica=p.replica, node_id=p.node_id,
                        gpus=tuple(ev.GpuShare(index=g.index, milli=g.milli) for g in p.gpus),
                        cpu_milli=p.cpu_milli, memory_mib=p.memory_mib)


def to_event(d: m.Decision) -> Any:
    """The Avro event of a core decision."""
    if isinstance(d, m.TaskAllocated):
        return ev.TaskAllocated(envelope=_envelope(d.meta, "TaskAllocated"), task_id=d.task_id, queue=d.queue,
                                placements=tuple(_placement(p) for p in d.placements), score=d.score,
                                score_breakdown=dict(d.score_breakdown), policy=d.policy,
                                policy_version=d.policy_version, wait_ms=d.wait_ms)
    if isinstance(d, m.TaskPending):
        return ev.TaskPending(envelope=_envelope(d.meta, "TaskPending"), task_id=d.task_id, queue=d.queue,
                              reason=ev.PendingReason(str(d.reason)), detail=d.detail, nearest_node=d.nearest_node,
                              shortfall=dict(d.shortfall))
    if isinstance(d, m.TaskPreempted):
        return ev.TaskPreempted(envelope=_envelope(d.meta, "TaskPreempted"), task_id=d.task_id,
                                preemptor_task_id=d.preemptor_task_id, node_ids=d.node_ids, reason=d.reason)
    return ev.TaskRejected(envelope=_envelope(d.meta, "TaskRejected"), task_id=d.task_id,
                           reason=ev.RejectReason(str(d.reason)), field=d.field or None, message=d.message)


# ------------------------------------------------------------------------------ the processor
@dataclass(frozen=True)
class SchedulerProcessor:
    """`Processor[ClusterState, agentic.events input, agentic.events decision]` around `Scheduler`."""

    config: SchedulerConfig = field(default_factory=SchedulerConfig)
    name: str = "scheduler"
    inputs: tuple[str, ...] = (SCHEDULING_INPUTS.name,)
    output: str = SCHEDULING_DECISIONS.name
    core: Scheduler = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "core", Scheduler(self.config))  # derived from config: frozen dataclass idiom

    @property
    def version(self) -> str:
        """Format, policy version and a digest of the settings that differ from the defaults.

        A new configuration field with a default does not change it; a non-default setting does. A change of
        the core's decisions (or of a default) must bump `SchedulerConfig.policy_version`.
        """
        defaults = SchedulerConfig()
        changed = sorted((f.name, repr(getattr(self.config, f.name))) for f in fields(self.config)
                         if f.name != "policy_version" and getattr(self.config, f.name) != getattr(defaults, f.name))
        digest = hashlib.sha256(repr(changed).encode()).hexdigest()[:12]
        return f"{FORMAT}/{self.config.policy_version}/{digest}"

    def initial_state(self) -> ClusterState:
        return ClusterState()

    def step(self, state: ClusterState, event: Any) -> tuple[ClusterState, tuple[Any, ...]]:
        state, decisions = self.core.step(state, to_core(event))
        return state, tuple(to_event(d) for d in decisions)

    def snapshot(self, state: ClusterState) -> bytes:
        return json.dumps(state.snapshot(), sort_keys=True, separators=(",", ":")).encode()

    def restore(self, data: bytes) -> ClusterState:
        return ClusterState.restore(json.loads(data))


def scheduler_processor(config: SchedulerConfig | None = None, **topics: Any) -> SchedulerProcessor:
    """The scheduler processor with ``config`` (default policies); ``topics`` may override name/inputs/output."""
    return SchedulerProcessor(config or SchedulerConfig(), **topics)


# ------------------------------------------------------------------------------ cluster status
def cluster_status(processor: SchedulerProcessor, state: ClusterState,
                   pending_reasons: dict[str, str]) -> dict[str, Any]:
    """What `agentic cluster status` prints: nodes, GPUs per model, pending by reason, utilisation, fragmentation.

    ``pending_reasons`` is the last TaskPending reason seen per task id (from the decision log).
    """
    n = state.n
    active = state.active[:n]
    ok = state.gpu_ok[:n] & active[:, None]
    per_model: dict[str, dict[str, int]] = {}
    for mid, model_name in enumerate(state.models):
        sel = ok & (state.gpu_model[:n] == mid)
        total = int(sel.sum()) * 1000
        free = int(np.where(sel, state.gpu_left[:n], 0).sum())
        if total:
            per_model[model_name] = {"gpus": int(sel.sum()), "total_milli": total, "allocated_milli": total - free,
                                     "free_milli": free}
    by_reason: dict[str, int] = {}
    for task_id in state.pending:
        reason = pending_reasons.get(task_id, "UNKNOWN")
        by_reason[reason] = by_reason.get(reason, 0) + 1
    left = np.where(ok, state.gpu_left[:n], 0)
    wl = processor.core.workload(state)
    frag = cluster_frag_ratio(left, state.cpu_left[:n], wl.access(state.models)[state.gpu_model[:n]] & ok[:, :, None],
                              wl) if wl.size else 0.0
    total_milli = sum(v["total_milli"] for v in per_model.values())
    alloc_milli = sum(v["allocated_milli"] for v in per_model.values())
    return {
        "nodes": int(active.sum()), "schedulable_nodes": int((state.schedulable[:n] & active).sum()),
        "gpus": int(ok.sum()), "gpu_models": per_model,
        "tasks_running": sum(1 for t in state.tasks.values() if t.running), "tasks_pending": len(state.pending),
        "pending_by_reason": dict(sorted(by_reason.items())),
        "gpu_utilisation": alloc_milli / total_milli if total_milli else 0.0,
        "fragmentation_ratio": frag,
    }


def pending_reasons(processor: SchedulerProcessor, state: ClusterState,
                    outputs: Sequence[Any]) -> tuple[dict[str, str], int]:
    """The reason each pending task waits, and how many reasons were diagnosed now: a task's last TaskPending
    among ``outputs`` (the decision log, or the tail folded after a checkpoint), else (its last TaskPending is
    before the checkpoint) the core's diagnosis of the current state, which does not see reservations."""
    last = {o.task_id: str(o.reason) for o in outputs if isinstance(o, ev.TaskPending)}
    wl = processor.core.workload(state)
    reasons: dict[str, str] = {}
    for task_id in state.pending:
        if task_id in last:
            reasons[task_id] = last[task_id]
        elif task_id in state.tasks:
            reasons[task_id] = str(diagnose(state, processor.config, state.tasks[task_id], wl).reason)
    return reasons, sum(1 for t in reasons if t not in last)
