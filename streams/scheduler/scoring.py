"""Node scores for one replica request, per placement policy, memoised per node version.

A score depends only on the request and on the node's own state (and on the workload model for
the fragmentation policies), so each (policy, request) keeps an array of scores over nodes and
recomputes only the nodes whose version changed since: one or two nodes per decision.
Infeasible nodes score -inf. Ties are broken by registration order (lowest index wins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import fragindex
from .config import SchedulerConfig
from .frag import F64, I64, B, Workload
from .model import MILLI_PER_GPU
from .state import ClusterState

MAX_SPEC_CPU = 128_000  # the normalisers of the FGD simulator's best-fit score
MAX_SPEC_GPU = 8_000
NEG = -np.inf


@dataclass(frozen=True, slots=True)
class Req:
    """What one replica asks of one node."""

    cpu: int
    mem: int
    count: int
    milli: int
    models: tuple[str, ...] = ()

    @property
    def shared(self) -> bool:
        return self.count == 1 and self.milli < MILLI_PER_GPU

    @property
    def gpu_milli(self) -> int:
        return self.count * self.milli


@dataclass
class _Entry:
    score: F64
    pick: I64
    ver: I64
    epoch: int
    seen: int = -1  # state.version at the last refresh: nothing can be stale while it holds


def allowed_gpus(state: ClusterState, req: Req, idx: I64) -> B:
    """[K, G] GPUs of nodes idx that exist, are healthy and are of an allowed model."""
    ok = state.gpu_ok[idx]
    if req.models:
        ok = ok & model_mask(state, req.models)[state.gpu_model[idx]]
    return np.asarray(ok)


def model_mask(state: ClusterState, models: tuple[str, ...]) -> B:
    """[known models] whether each GPU model is one of `models` (memoised; new models clear the memo)."""
    key = ("models", models)
    mask: B | None = state.memo.get(key)
    if mask is None:
        mask = np.array([m in models for m in state.models] or [False], dtype=bool)
        state.memo[key] = mask
    return mask


def feasible(state: ClusterState, req: Req, idx: I64) -> tuple[B, I64]:
    """Nodes of idx that can host the request now, and their usable free milli per GPU [K, G]."""
    left = np.where(allowed_gpus(state, req, idx), state.gpu_left[idx], 0)
    ok = state.schedulable[idx] & (state.cpu_left[idx] >= req.cpu) & (state.mem_left[idx] >= req.mem)
    if req.count > 0:
        ok &= (left >= req.milli).sum(axis=1) >= req.count
    return ok, left


def bestfit_int(cpu_left: I64, gpu_left_total: I64, req: Req) -> F64:
    raw = 0.5 * (cpu_left - req.cpu) / MAX_SPEC_CPU + 0.5 * (gpu_left_total - req.gpu_milli) / MAX_SPEC_GPU
    return np.trunc((1.0 - raw) * 100.0)


def _score_nodes(
    state: ClusterState, cfg: SchedulerConfig, req: Req, idx: I64, wl: Workload | None
) -> tuple[F64, I64]:
    ok, left = feasible(state, req, idx)
    if ok.all():  # the common case of a few stale nodes: no scatter
        return _policy_scores(state, cfg, req, idx, left, wl)
    score = np.full(idx.shape[0], NEG)
    pick = np.full(idx.shape[0], -1, dtype=np.int64)
    if ok.any():
        sel = np.nonzero(ok)[0]
        score[sel], pick[sel] = _policy_scores(state, cfg, req, idx[sel], left[sel], wl)
    return score, pick


def _policy_scores(
    state: ClusterState, cfg: SchedulerConfig, req: Req, nodes: I64, lf: I64, wl: Workload | None
) -> tuple[F64, I64]:
    """Scores and shared-GPU picks of feasible nodes (lf: their usable free milli per GPU)."""
    policy = cfg.placement
    if policy in ("fgd", "frag"):
        assert wl is not None
        return _frag_scores(state, cfg, req, nodes, lf, wl)
    pick = np.full(nodes.shape[0], -1, dtype=np.int64)
    if req.shared:  # best-fit GPU: least free milli that fits, lowest index on ties
        pick = np.argmin(np.where(lf >= req.milli, lf, np.iinfo(np.int64).max), axis=1)
    cpu = state.cpu_left[nodes]
    if policy == "bestfit":
        return bestfit_int(cpu, state.gpu_left[nodes].sum(axis=1), req), pick
    if policy == "spread":
        cap_cpu = np.maximum(state.cpu_cap[nodes], 1)
        gpu_cap = np.maximum(state.gpu_ok[nodes].sum(axis=1) * MILLI_PER_GPU, 1)
        return (cpu - req.cpu) / cap_cpu + (lf.sum(axis=1) - req.gpu_milli) / gpu_cap, pick
    return np.zeros(nodes.shape[0]), pick  # random, firstfit


def _frag_scores(
    state: ClusterState, cfg: SchedulerConfig, req: Req, nodes: I64, lf: I64, wl: Workload
) -> tuple[F64, I64]:
    """FGD's integer score levels (see fragindex): the first registered node wins among equal levels.

    The integer levels matter: full-precision gradients with a best-fit tie-break allocate about a
    point less on OpenB (see docs/scheduler.md).
    """
    st = fragindex.type_stats(state, wl, state.workload_epoch)
    if req.shared:
        s, pick = fragindex.shared_scores(state, st, nodes, lf, req.cpu, req.milli,
                                          cfg.gpu_tiebreak == "bestfit", cfg.frag_levels)
    else:
        s = fragindex.whole_scores(state, st, nodes, lf, req.cpu, req.count, req.milli, cfg.frag_levels)
        pick = np.full(nodes.shape[0], -1, dtype=np.int64)
    if req.count == 0 and cfg.cpu_tiebreak_effective == "gpufull":  # half a level at most: equal levels only
        s = s + 0.5 * (1.0 - np.minimum(st.total[nodes], MAX_SPEC_GPU) / MAX_SPEC_GPU)
    node_tiebreak = cfg.node_tiebreak_effective
    if node_tiebreak == "bestfit":  # a fraction of a level: orders equal levels only
        s = s + bestfit_int(state.cpu_left[nodes], st.total[nodes], req) / 1000.0
    elif node_tiebreak == "used":
        gpus = np.maximum(state.gpu_ok[nodes].sum(axis=1), 1)
        s = s + 0.1 * (1.0 - st.total[nodes] / (gpus * MILLI_PER_GPU))
    elif node_tiebreak == "balance" and req.count > 0:  # CPU and GPU left in proportion
        cpu_cap, gpu_cap = fragindex.capacities(state)
        cpu = (state.cpu_left[nodes] - req.cpu) / cpu_cap[nodes]  # both in [0, 1] on feasible nodes
        gpu = (st.total[nodes] - req.gpu_milli) / gpu_cap[nodes]
        s = s + 0.4 * (1.0 - np.abs(cpu - gpu))
    return s, pick


def memoized(
    state: ClusterState, key: object, epoch: int,
    compute: Callable[[I64], tuple[F64, I64]],
) -> tuple[F64, I64]:
    """Per-node values of `compute`, recomputed only for nodes whose version changed.

    A new epoch (workload refresh) changes every score but not which nodes can host the request:
    the unchanged nodes that could not (score -inf, whatever the policy) are not scored again."""
    n = state.n
    entry: _Entry | None = state.memo.get(key)
    if entry is None or entry.epoch != epoch or entry.score.shape[0] < n:
        cap = state.cpu_cap.shape[0]
        old = entry
        entry = _Entry(np.full(cap, NEG), np.full(cap, -1, dtype=np.int64),
                       np.full(cap, -1, dtype=np.int64), epoch)
        if old is not None and old.score.shape[0] == cap:
            still = np.nonzero((old.ver[:n] == state.node_version[:n]) & (old.score[:n] == NEG))[0]
            entry.ver[still] = old.ver[still]
        state.memo[key] = entry
    if entry.seen == state.version:
        return entry.score[:n], entry.pick[:n]
    stale = state.touched_since(entry.seen) if entry.seen >= 0 else None
    if stale is None:
        stale = np.nonzero(entry.ver[:n] != state.node_version[:n])[0]
    entry.seen = state.version
    if stale.shape[0]:
        s, p = compute(stale)
        entry.score[stale] = s
        entry.pick[stale] = p
        entry.ver[stale] = state.node_version[stale]
    return entry.score[:n], entry.pick[:n]


def node_scores(
    state: ClusterState, cfg: SchedulerConfig, req: Req, wl: Workload | None
) -> tuple[F64, I64]:
    """Scores [n] and shared-GPU picks [n] for every registered node, from the memo when fresh."""
    frag = cfg.placement in ("fgd", "frag")
    epoch = state.workload_epoch if frag else 0
    # fragmentation ignores memory: share one memo across memory sizes, check memory apart
    key = Req(req.cpu, 0, req.count, req.milli, req.models) if frag else req
    score, pick = memoized(state, (cfg.placement, key), epoch,
                           lambda idx: _score_nodes(state, cfg, key, idx, wl))
    if frag and req.mem:
        score = np.where(state.mem_left[: state.n] >= req.mem, score, NEG)
    if cfg.load_weight and cfg.placement in ("frag", "spread") and any_load(state):
        score = score - cfg.load_weight * state.load[: state.n]
    return score, pick


def any_load(state: ClusterState) -> bool:
    """Whether some node reports load (memoised; a heartbeat drops the memo, see core)."""
    hit = state.memo.get("any_load")
    if hit is None:
        hit = state.memo["any_load"] = bool(state.load[: state.n].any())
    return bool(hit)
