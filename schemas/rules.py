"""Cross-field rules of the catalogue: what a single field's type and range cannot say.

Each rule is a pure function of one event that raises :class:`EventValidationError` naming the
field path and the rule. The codec applies them after the generated per-field checks, both when
encoding and when decoding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentic.events import (
    DeleteScope,
    GangMember,
    MemoryDeleted,
    QueueConfigured,
    TaskAllocated,
    TaskSubmitted,
    TripleAsserted,
    WorkflowStarted,
)
from agentic.schemas.errors import EventValidationError


def _gang_member(m: GangMember, path: str) -> None:
    if m.gpu_count == 0 and m.gpu_milli != 0:
        raise EventValidationError(f"{path}.gpu_milli", "gpu_milli_without_gpus",
                                   "must be 0 when gpu_count is 0; set gpu_count >= 1 or gpu_milli = 0")
    if m.gpu_count > 0 and m.gpu_milli == 0:
        raise EventValidationError(f"{path}.gpu_milli", "gpu_milli_zero",
                                   "must be 1..1000 when gpu_count > 0 (1000 = whole GPUs)")
    if m.gpu_milli < 1000 and m.gpu_count > 1:
        raise EventValidationError(f"{path}.gpu_milli", "shared_gpu_single",
                                   "a shared GPU (gpu_milli < 1000) needs gpu_count == 1; "
                                   "ask for whole GPUs (gpu_milli = 1000) or a single shared one")


def task_submitted(e: TaskSubmitted) -> None:
    seen: set[str] = set()
    for i, m in enumerate(e.members):
        if m.name in seen:
            raise EventValidationError(f"members[{i}].name", "unique_member_name",
                                       f"name {m.name!r} is used twice; give every member its own name")
        seen.add(m.name)
        _gang_member(m, f"members[{i}]")


def queue_configured(e: QueueConfigured) -> None:
    seen: set[tuple[str, str | None]] = set()
    for i, q in enumerate(e.quotas):
        if q.gpu_model is not None and q.resource != "gpu_milli":
            raise EventValidationError(f"quotas[{i}].gpu_model", "gpu_model_only_for_gpu",
                                       "gpu_model applies to the gpu_milli resource only; set it to null")
        if (q.resource, q.gpu_model) in seen:
            raise EventValidationError(f"quotas[{i}]", "unique_quota",
                                       f"a second quota for {q.resource}/{q.gpu_model}; keep one per "
                                       "resource and GPU model")
        seen.add((q.resource, q.gpu_model))


def task_allocated(e: TaskAllocated) -> None:
    for i, p in enumerate(e.placements):
        indexes = [g.index for g in p.gpus]
        if len(set(indexes)) != len(indexes):
            raise EventValidationError(f"placements[{i}].gpus", "unique_gpu_index",
                                       "the same GPU index appears twice in one placement; merge the shares")


def memory_deleted(e: MemoryDeleted) -> None:
    if e.scope == DeleteScope.MEMORY and e.memory_id is None:
        raise EventValidationError("memory_id", "required_for_scope", "scope MEMORY needs memory_id")
    if e.scope == DeleteScope.SESSION and e.session_id is None:
        raise EventValidationError("session_id", "required_for_scope", "scope SESSION needs session_id")


def triple_asserted(e: TripleAsserted) -> None:
    if e.valid_to_ms is not None and e.valid_to_ms < e.valid_from_ms:
        raise EventValidationError("valid_to_ms", "valid_interval",
                                   "ends before valid_from_ms; use valid_to_ms >= valid_from_ms or null")


def workflow_started(e: WorkflowStarted) -> None:
    ids = [s.step_id for s in e.steps]
    for i, s in enumerate(e.steps):
        if s.step_id in ids[:i]:
            raise EventValidationError(f"steps[{i}].step_id", "unique_step_id",
                                       f"step id {s.step_id!r} is used twice")
        for j, dep in enumerate(s.depends_on):
            if dep not in ids or dep == s.step_id:
                raise EventValidationError(f"steps[{i}].depends_on[{j}]", "known_dependency",
                                           f"{dep!r} is not another step of this workflow")


RULES: dict[str, Callable[[Any], None]] = {
    "TaskSubmitted": task_submitted,
    "QueueConfigured": queue_configured,
    "TaskAllocated": task_allocated,
    "MemoryDeleted": memory_deleted,
    "TripleAsserted": triple_asserted,
    "WorkflowStarted": workflow_started,
}
