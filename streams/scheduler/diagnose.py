"""Why a task is pending: a machine-readable reason, the nearest node and what it lacks."""

from __future__ import annotations

import numpy as np

from .config import SchedulerConfig
from .frag import F64, I64, Workload
from .model import PendingReason, Topology
from .placement import Miss, _attempt, release, replica_reqs
from .scoring import Req, allowed_gpus, feasible, memoized
from .state import ClusterState, TaskRecord


def diagnose(state: ClusterState, cfg: SchedulerConfig, t: TaskRecord, wl: Workload | None) -> Miss:
    n = state.n
    if n == 0 or not state.active[:n].any():
        return Miss(PendingReason.NO_NODES, "no node is registered; the task waits for NodeRegistered")
    if not state.schedulable[:n].any():
        return Miss(PendingReason.NODES_UNHEALTHY, "every registered node is unhealthy or cordoned")
    reqs = replica_reqs(t)
    idx = np.arange(n)
    if len(reqs) == 1 and not (reqs[0][2].count and reqs[0][2].models):
        return _nearest(state, reqs[0][2])
    for _, _, req in reqs:
        if req.count and req.models:
            gpus = allowed_gpus(state, req, idx) & state.schedulable[:n, None]
            if not gpus.any():
                return Miss(PendingReason.GPU_MODEL_UNAVAILABLE,
                            f"no schedulable node has a healthy GPU of models {list(req.models)}")
        ok, _ = feasible(state, req, idx)
        if not ok.any():
            return _nearest(state, req)
    if len(reqs) == 1:
        return _nearest(state, reqs[0][2])
    if t.topology != Topology.NONE:
        free = TaskRecord(**{**{f: getattr(t, f) for f in t.__dataclass_fields__}, "topology": Topology.NONE})
        placed = _attempt(state, cfg, free, wl, None)
        if placed is not None:
            for p in reversed(placed.placements):
                release(state, p)
            return Miss(PendingReason.TOPOLOGY_UNSATISFIABLE,
                        f"the gang fits, but not within one {t.topology.value.removeprefix('SAME_').lower()}")
    return Miss(PendingReason.GANG_NOT_COLOCATABLE,
                f"each of the {len(reqs)} replicas fits somewhere, but not all of them at once; "
                "the gang is not split (all-or-nothing)")


def _gap(state: ClusterState, req: Req, idx: I64) -> tuple[F64, I64]:
    """Normalised shortfall of each node (inf when not schedulable); GPUs missing in pick."""
    left = np.where(allowed_gpus(state, req, idx), state.gpu_left[idx], 0)
    cpu = np.maximum(0, req.cpu - state.cpu_left[idx])
    mem = np.maximum(0, req.mem - state.mem_left[idx])
    gpus = np.maximum(0, req.count - (left >= req.milli).sum(axis=1)) if req.count else np.zeros_like(cpu)
    gap = cpu / np.maximum(state.cpu_cap[idx], 1) + mem / np.maximum(state.mem_cap[idx], 1) + gpus
    return np.where(state.schedulable[idx], gap, np.inf), gpus


def _nearest(state: ClusterState, req: Req) -> Miss:
    """INSUFFICIENT_RESOURCES, naming the schedulable node that misses the least (normalised)."""
    gap, missing = memoized(state, ("gap", req), 0, lambda idx: _gap(state, req, idx))
    j = int(np.argmin(gap))
    shortfall = tuple((k, int(v)) for k, v in (
        ("cpu_milli", max(0, req.cpu - int(state.cpu_left[j]))),
        ("memory_mib", max(0, req.mem - int(state.mem_left[j]))),
        ("gpu_milli", int(missing[j]) * req.milli)) if v > 0)
    return Miss(PendingReason.INSUFFICIENT_RESOURCES,
                f"no node has {req.cpu} cpu_milli, {req.mem} memory_mib and {req.count} GPU(s) with "
                f"{req.milli} milli free", state.node_ids[j], shortfall)
