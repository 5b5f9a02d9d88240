"""The scheduler as a `Processor`: the pure core behind the event classes of `agentic.events`.

Inputs are decoded Avro events (NodeRegistered ... TaskFinished), mapped field for field to the core's
own types (`model.py`); decisions are mapped back to TaskAllocated/TaskPending/TaskPreempted/TaskRejected
events whose envelopes the core made deterministic (uuid5 of the input id and the decision's index).
Snapshots are the core's `ClusterState.snapshot()` dict as canonical JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from agentic import events as ev
from agentic.schemas.topics import SCHEDULING_DECISIONS, SCHEDULING_INPUTS
from agentic.streams.shell import Unprocessable

from . import model as m
from .config import SchedulerConfig
from .core import Scheduler
from .diagnose import diagnose
from .frag import cluster_frag_ratio
from .mapping import to_event, to_input
from .state import ClusterState

FORMAT = "1"  # snapshot and mapping format; part of the processor version


# ------------------------------------------------------------------------------ events <-> core
SCHEDULING_EVENT_TYPES = tuple(sorted(SCHEDULING_INPUTS.event_types))


def to_core(event: Any) -> m.InputEvent:
    """The core's input for a decoded event (`mapping.to_input`); `Unprocessable` for an event the scheduler
    does not read."""
    converted = to_input(event)
    if converted is None:
        raise Unprocessable(f"{type(event).__name__} is not a scheduling input; the scheduler reads "
                            f"{', '.join(SCHEDULING_EVENT_TYPES)}: publish it to its own topic")
    return converted


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

    @cached_property  # read for every output record's headers: computed once (the config is frozen)
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
        # canonical JSON (sorted keys, no spaces); orjson: ~4x faster than json on a 4.7 MB OpenB state
        return orjson.dumps(state.snapshot(), option=orjson.OPT_SORT_KEYS)

    def restore(self, data: bytes) -> ClusterState:
        return ClusterState.restore(orjson.loads(data))


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
