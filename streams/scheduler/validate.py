"""Input checks: a bad request becomes a TaskRejected naming the field and the rule, never an exception."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import MILLI_PER_GPU, RejectReason, TaskSubmitted
from .scoring import Req
from .state import ClusterState


@dataclass(frozen=True, slots=True)
class Problem:
    reason: RejectReason
    field: str
    message: str


def check_submission(state: ClusterState, ev: TaskSubmitted) -> Problem | None:
    if not ev.task_id:
        return Problem(RejectReason.INVALID_REQUEST, "task_id", "task_id must be a non-empty string")
    if ev.task_id in state.tasks:
        return Problem(RejectReason.DUPLICATE_TASK, "task_id",
                       f"task {ev.task_id!r} was already submitted; use a new task_id to run it again")
    if ev.queue not in state.queues:
        return Problem(RejectReason.UNKNOWN_QUEUE, "queue",
                       f"queue {ev.queue!r} is not configured; send QueueConfigured for it first")
    if not ev.members:
        return Problem(RejectReason.INVALID_REQUEST, "members",
                       "a task needs at least one member (a gang of size 0 cannot run)")
    if ev.expected_duration_ms is not None and ev.expected_duration_ms < 0:
        return Problem(RejectReason.INVALID_REQUEST, "expected_duration_ms",
                       "expected_duration_ms must be >= 0 or absent")
    for k, m in enumerate(ev.members):
        problem = _check_member(k, m.replicas, m.cpu_milli, m.memory_mib, m.gpu_count, m.gpu_milli)
        if problem is not None:
            return problem
    return _check_ever_fits(state, ev)


def _check_member(k: int, replicas: int, cpu: int, mem: int, count: int, milli: int) -> Problem | None:
    f = f"members[{k}]"
    if replicas < 1:
        return Problem(RejectReason.INVALID_REQUEST, f"{f}.replicas",
                       f"replicas is {replicas}; a gang member needs at least 1 replica (gang of size 0)")
    for name, value in (("cpu_milli", cpu), ("memory_mib", mem), ("gpu_count", count)):
        if value < 0:
            return Problem(RejectReason.INVALID_REQUEST, f"{f}.{name}",
                           f"{name} is {value}; resources must be >= 0")
    if count > 0 and not 1 <= milli <= MILLI_PER_GPU:
        return Problem(RejectReason.INVALID_REQUEST, f"{f}.gpu_milli",
                       f"gpu_milli is {milli}; with gpu_count > 0 it must be in 1..{MILLI_PER_GPU} per GPU")
    if count == 0 and milli < 0:
        return Problem(RejectReason.INVALID_REQUEST, f"{f}.gpu_milli", "gpu_milli must be >= 0")
    return None


def _check_ever_fits(state: ClusterState, ev: TaskSubmitted) -> Problem | None:
    """NEVER_FITS: nodes exist, but none could host a replica even when empty."""
    for k, m in enumerate(ev.members):
        req = Req(m.cpu_milli, m.memory_mib, m.gpu_count, m.gpu_milli if m.gpu_count else 0, ev.gpu_models)
        key = ("ever", req, state.capacity_version)
        if key not in state.memo:
            state.memo[key] = _ever_fits(state, req)
        if not state.memo[key]:
            return Problem(RejectReason.NEVER_FITS, f"members[{k}]",
                           f"no registered node has {req.cpu} cpu_milli, {req.mem} memory_mib and "
                           f"{req.count} GPU(s) of models {list(req.models) or 'any'} even when empty; "
                           "shrink the request or add such a node")
    return None


def _ever_fits(state: ClusterState, req: Req) -> bool:
    active = np.nonzero(state.active[: state.n])[0]
    if active.shape[0] == 0:
        return True  # no nodes yet: pending NO_NODES, not a rejection
    ok = (state.cpu_cap[active] >= req.cpu) & (state.mem_cap[active] >= req.mem)
    if req.count:
        gpus = state.gpu_ok[active]
        if req.models:
            if not set(req.models) & set(state.models):
                return True  # no such GPU yet: pending GPU_MODEL_UNAVAILABLE until one joins
            allowed = np.array([x in req.models for x in state.models], dtype=bool)
            gpus = gpus & allowed[state.gpu_model[active]]
        ok &= gpus.sum(axis=1) >= req.count
    return bool(ok.any())
