"""Gang placement: every replica of a task placed, or none (the state is rolled back).

Replicas are placed one after another on the live state, each by the policy's best node for it
given the replicas already placed; topology constraints restrict the candidate nodes to one node
(SAME_NODE, SAME_NVLINK) or one rack (SAME_RACK), trying candidates in score order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SchedulerConfig
from .frag import B, Workload
from .model import GpuShare, PendingReason, Placement, Topology
from .scoring import Req, allowed_gpus, feasible, node_scores
from .state import ClusterState, TaskRecord

MAX_TOPOLOGY_CANDIDATES = 16


@dataclass(frozen=True, slots=True)
class Placed:
    placements: tuple[Placement, ...]
    score: float
    breakdown: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class Miss:
    reason: PendingReason
    detail: str
    nearest_node: str | None = None
    shortfall: tuple[tuple[str, int], ...] = ()


def replica_reqs(task: TaskRecord) -> list[tuple[str, int, Req]]:
    return [
        (m.name, r, Req(m.cpu_milli, m.memory_mib, m.gpu_count, m.gpu_milli if m.gpu_count else 0,
                        task.gpu_models))
        for m in task.members
        for r in range(m.replicas)
    ]


def allocate(state: ClusterState, p: Placement) -> None:
    i = state.index[p.node_id]
    state.cpu_left[i] -= p.cpu_milli
    state.mem_left[i] -= p.memory_mib
    for g in p.gpus:
        state.gpu_left[i, g.index] -= g.milli
        state.gpu_alloc_milli += g.milli
    state.touch(i)


def release(state: ClusterState, p: Placement) -> None:
    i = state.index.get(p.node_id)
    if i is None:  # the node was removed: nothing to give back
        return
    state.cpu_left[i] = min(state.cpu_left[i] + p.cpu_milli, state.cpu_cap[i])
    state.mem_left[i] = min(state.mem_left[i] + p.memory_mib, state.mem_cap[i])
    for g in p.gpus:
        state.gpu_left[i, g.index] = min(state.gpu_left[i, g.index] + g.milli, 1000)
        state.gpu_alloc_milli -= g.milli
    state.touch(i)


def fits_now(state: ClusterState, p: Placement) -> bool:
    i = state.index.get(p.node_id)
    if i is None or not state.schedulable[i]:
        return False
    if state.cpu_left[i] < p.cpu_milli or state.mem_left[i] < p.memory_mib:
        return False
    return all(state.gpu_ok[i, g.index] and state.gpu_left[i, g.index] >= g.milli for g in p.gpus)


def pick_gpus(state: ClusterState, i: int, req: Req, same_domain: bool) -> tuple[int, ...] | None:
    """Whole GPUs for a multi-GPU replica: one NVLink domain, contiguous indices when possible."""
    left = np.where(allowed_gpus(state, req, np.array([i]))[0], state.gpu_left[i], 0).tolist()
    domain = state.gpu_domain[i].tolist()
    cand = [g for g in range(state.gpu_slots) if left[g] >= req.milli]
    by_domain: dict[int, list[int]] = {}
    for g in cand:
        by_domain.setdefault(domain[g], []).append(g)
    domains = sorted((len(gs), d) for d, gs in by_domain.items() if len(gs) >= req.count)
    for _, d in domains:  # the tightest domain that can take the whole replica
        gs = by_domain[d]
        for s in range(len(gs) - req.count + 1):  # a contiguous window first
            window = gs[s : s + req.count]
            if window[-1] - window[0] == req.count - 1:
                return tuple(window)
        return tuple(sorted(gs, key=lambda g: (left[g], g))[: req.count])
    if same_domain or len(cand) < req.count:
        return None
    return tuple(sorted(cand, key=lambda g: (left[g], g))[: req.count])


def _choose(
    state: ClusterState, cfg: SchedulerConfig, req: Req, wl: Workload | None,
    restrict: B | None, rng_key: tuple[int, ...], same_domain: bool,
) -> tuple[int, tuple[int, ...], float] | None:
    if state.n == 0:
        return None
    score, pick = node_scores(state, cfg, req, wl)
    if restrict is not None:
        score = np.where(restrict[: state.n], score, -np.inf)
    if cfg.placement == "random":
        cands = np.nonzero(np.isfinite(score))[0]
        if cands.shape[0] == 0:
            return None
        rng = np.random.default_rng(list(rng_key))
        i = int(cands[rng.integers(cands.shape[0])])
        if req.shared:  # the simulator's Random also picks the shared GPU at random
            _, left = feasible(state, req, np.array([i]))
            fit = np.nonzero(left[0] >= req.milli)[0]
            return i, (int(fit[rng.integers(fit.shape[0])]),), float(score[i])
    else:
        i = int(np.argmax(score))
        if not np.isfinite(score[i]):
            return None
    if req.count == 0:
        return i, (), float(score[i])
    if req.shared:
        return i, (int(pick[i]),), float(score[i])
    gpus = pick_gpus(state, i, req, same_domain)
    if gpus is None:  # NVLink constraint: try the other nodes in score order
        order = np.argsort(-score, kind="stable")
        for j in order[:MAX_TOPOLOGY_CANDIDATES]:
            if not np.isfinite(score[j]):
                break
            gpus = pick_gpus(state, int(j), req, same_domain)
            if gpus is not None:
                return int(j), gpus, float(score[j])
        return None
    return i, gpus, float(score[i])


def _attempt(
    state: ClusterState, cfg: SchedulerConfig, task: TaskRecord, wl: Workload | None, restrict: B | None
) -> Placed | None:
    done: list[Placement] = []
    scores: list[float] = []
    same_domain = task.topology == Topology.SAME_NVLINK
    for k, (member, replica, req) in enumerate(replica_reqs(task)):
        got = _choose(state, cfg, req, wl, restrict, (cfg.seed, task.seq, k), same_domain)
        if got is None:
            for p in reversed(done):
                release(state, p)
            return None
        i, gpus, s = got
        p = Placement(member, replica, state.node_ids[i], tuple(GpuShare(g, req.milli) for g in gpus),
                      req.cpu, req.mem)
        allocate(state, p)
        done.append(p)
        scores.append(s)
    mean = sum(scores) / len(scores) if scores else 0.0
    load = sum(float(state.load[state.index[p.node_id]]) for p in done) / max(len(done), 1)
    breakdown = ((cfg.placement, mean), ("load", -cfg.load_weight * load))
    return Placed(tuple(done), mean, breakdown)


def place(
    state: ClusterState, cfg: SchedulerConfig, task: TaskRecord, wl: Workload | None
) -> Placed | None:
    """Place the whole gang or nothing, honouring the task's topology."""
    if task.topology == Topology.NONE:
        return _attempt(state, cfg, task, wl, None)
    first = replica_reqs(task)[0][2]
    score, _ = node_scores(state, cfg, first, wl)
    order = [int(i) for i in np.argsort(-score, kind="stable") if np.isfinite(score[i])]
    if task.topology == Topology.SAME_RACK:
        groups: list[B] = []
        seen: set[int] = set()
        for i in order:
            r = int(state.rack[i])
            if r not in seen:
                seen.add(r)
                groups.append(state.rack[: state.n] == r)
    else:
        groups = []
        for i in order[:MAX_TOPOLOGY_CANDIDATES]:
            mask = np.zeros(state.n, dtype=bool)
            mask[i] = True
            groups.append(mask)
    for mask in groups[:MAX_TOPOLOGY_CANDIDATES]:
        placed = _attempt(state, cfg, task, wl, mask)
        if placed is not None:
            return placed
    return None
