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

from .config import SchedulerConfig
from .frag import F64, I64, B, Workload, frag_after_share, node_frag
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


def allowed_gpus(state: ClusterState, req: Req, idx: I64) -> B:
    """[K, G] GPUs of nodes idx that exist, are healthy and are of an allowed model."""
    ok = state.gpu_ok[idx]
    if req.models:
        allowed = np.array([m in req.models for m in state.models] or [False], dtype=bool)
        ok = ok & allowed[state.gpu_model[idx]]
    return np.asarray(ok)


def feasible(state: ClusterState, req: Req, idx: I64) -> tuple[B, I64]:
    """Nodes of idx that can host the request now, and their usable free milli per GPU [K, G]."""
    left = np.where(allowed_gpus(state, req, idx), state.gpu_left[idx], 0)
    ok = state.schedulable[idx] & (state.cpu_left[idx] >= req.cpu) & (state.mem_left[idx] >= req.mem)
    if req.count > 0:
        ok &= (left >= req.milli).sum(axis=1) >= req.count
    return ok, left


def workload_access(state: ClusterState, wl: Workload, idx: I64) -> B:
    key = ("access", state.workload_epoch, len(state.models))
    acc = state.memo.get(key)
    if acc is None:
        acc = wl.access(state.models)
        state.memo[key] = acc
    return np.asarray(acc[state.gpu_model[idx]] & state.gpu_ok[idx][:, :, None])


def bestfit_int(cpu_left: I64, gpu_left_total: I64, req: Req) -> F64:
    raw = 0.5 * (cpu_left - req.cpu) / MAX_SPEC_CPU + 0.5 * (gpu_left_total - req.gpu_milli) / MAX_SPEC_GPU
    return np.trunc((1.0 - raw) * 100.0)


def _pack_after(left: I64, req: Req) -> I64:
    """Free milli per GPU after taking req.count GPUs, least sufficient first (index order on ties)."""
    g = left.shape[1]
    key = np.where(left >= req.milli, left * g + np.arange(g)[None, :], np.iinfo(np.int64).max)
    order = np.argsort(key, axis=1, kind="stable")[:, : req.count]
    after = left.copy()
    rows = np.arange(left.shape[0])[:, None]
    after[rows, order] -= req.milli
    return after


def _score_nodes(
    state: ClusterState, cfg: SchedulerConfig, req: Req, idx: I64, wl: Workload | None
) -> tuple[F64, I64]:
    ok, left = feasible(state, req, idx)
    score = np.full(idx.shape[0], NEG)
    pick = np.full(idx.shape[0], -1, dtype=np.int64)
    if not ok.any():
        return score, pick
    sel = np.nonzero(ok)[0]
    nodes = idx[sel]
    lf = left[sel]
    cpu = state.cpu_left[nodes]
    fits = lf >= req.milli if req.count > 0 else None
    if req.shared and fits is not None:
        # best-fit GPU: least free milli that fits, lowest index on ties
        gpu_key = np.where(fits, lf, np.iinfo(np.int64).max)
        pick[sel] = np.argmin(gpu_key, axis=1)
    policy = cfg.placement
    if policy in ("random", "firstfit"):
        score[sel] = 0.0
    elif policy == "bestfit":
        score[sel] = bestfit_int(cpu, state.gpu_left[nodes].sum(axis=1), req)
    elif policy == "spread":
        cap_cpu = np.maximum(state.cpu_cap[nodes], 1)
        gpu_cap = np.maximum(state.gpu_ok[nodes].sum(axis=1) * MILLI_PER_GPU, 1)
        score[sel] = (cpu - req.cpu) / cap_cpu + (lf.sum(axis=1) - req.gpu_milli) / gpu_cap
    else:
        assert wl is not None
        s, p = _frag_scores(state, cfg, req, nodes, lf, cpu, wl)
        score[sel] = s
        if req.shared:
            pick[sel] = p
    return score, pick


def _frag_scores(
    state: ClusterState, cfg: SchedulerConfig, req: Req, nodes: I64, lf: I64, cpu: I64, wl: Workload
) -> tuple[F64, I64]:
    """FGD's score: 100 * sigmoid(fragmentation decrease / 1000), truncated to an integer level.

    The integer levels matter: nodes whose gradients differ by less than a level tie, and ties go
    to the node registered first (a first-fit order). Measured on OpenB, full-precision gradients
    with a best-fit tie-break allocate about a point less (see docs/scheduler.md).
    """
    acc = workload_access(state, wl, nodes)
    usable = np.where(state.gpu_ok[nodes], state.gpu_left[nodes], 0)
    f0 = current_frag(state, cfg, wl)[nodes]
    if req.shared:
        f1 = frag_after_share(usable, cpu, acc, wl, req.cpu, req.milli)
        s = np.where(lf >= req.milli, _level(f0[:, None] - f1), NEG)
        pick = np.argmax(s, axis=1)  # first GPU with the best level
        return s[np.arange(s.shape[0]), pick], pick
    after = _pack_after(usable, req) if req.count > 0 else usable
    f1 = node_frag(after, cpu - req.cpu, acc, wl)
    return _level(f0 - f1), np.full(nodes.shape[0], -1, dtype=np.int64)


def current_frag(state: ClusterState, cfg: SchedulerConfig, wl: Workload) -> F64:
    """[n] expected fragmentation of every node now, memoised like the scores."""

    def compute(idx: I64) -> tuple[F64, I64]:
        usable = np.where(state.gpu_ok[idx], state.gpu_left[idx], 0)
        f = node_frag(usable, state.cpu_left[idx], workload_access(state, wl, idx), wl)
        return f, np.zeros(idx.shape[0], dtype=np.int64)

    return memoized(state, ("frag0", cfg.placement), state.workload_epoch, compute)[0]


def _level(delta: F64) -> F64:
    return np.trunc(100.0 / (1.0 + np.exp(-delta / 1000.0)))


def memoized(
    state: ClusterState, key: object, epoch: int,
    compute: Callable[[I64], tuple[F64, I64]],
) -> tuple[F64, I64]:
    """Per-node values of `compute`, recomputed only for nodes whose version changed."""
    n = state.n
    entry: _Entry | None = state.memo.get(key)
    if entry is None or entry.epoch != epoch or entry.score.shape[0] < n:
        cap = state.cpu_cap.shape[0]
        entry = _Entry(np.full(cap, NEG), np.full(cap, -1, dtype=np.int64),
                       np.full(cap, -1, dtype=np.int64), epoch)
        state.memo[key] = entry
    stale = np.nonzero(entry.ver[:n] != state.node_version[:n])[0]
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
    if cfg.load_weight and cfg.placement in ("frag", "spread"):
        score = score - cfg.load_weight * state.load[: state.n]
    return score, pick
