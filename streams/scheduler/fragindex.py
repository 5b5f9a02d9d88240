"""Incremental fragmentation scores (FGD) over all nodes, cheap per decision.

Two levels of derived data, both kept in `state.memo` (never snapshotted) and refreshed lazily:

- `TypeStats`: for every node and every request type t of the workload, the number of GPUs able
  to take t (`cnt`), the free milli of the GPUs that cannot (`small`), and the node's expected
  fragmentation `frag`. A row is recomputed only when its node's version changed; a new workload
  (a refresh of the learned distribution) recomputes every row once, in one vectorised pass.
- per request shape, the score of every node (see `scoring.memoized`): only the nodes whose
  version changed are rescored, and a rescore reads the type statistics instead of recomputing
  them, so even a cold rescore of all nodes costs O(nodes x types), not O(nodes x GPUs x types).

A replica changes one node: the fragmentation after it differs from the node's current one only
through the GPUs it takes, so the delta is computed from those GPUs' contributions per type. A
shared request is scored on each distinct (free milli, model) GPU of a node; the first GPU with
the best level wins, as in FGD's simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frag import F64, I64, B, Workload
from .state import ClusterState

NEG = -np.inf


@dataclass
class TypeStats:
    """Per node and workload type: GPUs able to take it, free milli of the others; node fragmentation."""

    wl: Workload
    acc_model: B  # [models + 1, T] whether a GPU of a model may serve a type
    cnt: I64  # [cap, T]
    small: I64  # [cap, T]
    total: I64  # [cap] free milli of usable GPUs
    frag: F64  # [cap]
    ver: I64  # [cap] node version the row was computed at
    seen: int = -1  # state.version at the last refresh


def type_stats(state: ClusterState, wl: Workload, epoch: int) -> TypeStats:
    """The statistics for the current node states under `wl`, recomputing only stale rows."""
    key = ("typestats", epoch, len(state.models))
    st: TypeStats | None = state.memo.get(key)
    cap = state.cpu_cap.shape[0]
    if st is None or st.cnt.shape[0] < cap:
        for k in [k for k in state.memo if isinstance(k, tuple) and k and k[0] == "typestats"]:
            del state.memo[k]
        t = wl.size
        st = TypeStats(wl, wl.access(state.models), np.zeros((cap, t), dtype=np.int64),
                       np.zeros((cap, t), dtype=np.int64), np.zeros(cap, dtype=np.int64),
                       np.zeros(cap, dtype=np.float64), np.full(cap, -1, dtype=np.int64))
        state.memo[key] = st
    if st.seen != state.version:
        st.seen = state.version
        n = state.n
        stale = np.nonzero(st.ver[:n] != state.node_version[:n])[0]
        if stale.shape[0]:
            _fill_rows(state, st, stale)
    return st


def _fill_rows(state: ClusterState, st: TypeStats, idx: I64) -> None:
    wl = st.wl
    usable = np.where(state.gpu_ok[idx], state.gpu_left[idx], 0)
    total = usable.sum(axis=1)
    st.total[idx] = total
    st.ver[idx] = state.node_version[idx]
    if wl.size == 0:
        st.frag[idx] = wl.p_cpu * total
        return
    fits = (usable[:, :, None] >= wl.milli) & st.acc_model[state.gpu_model[idx]]
    cnt = fits.sum(axis=1)
    small = np.where(fits, 0, usable[:, :, None]).sum(axis=1)
    st.cnt[idx], st.small[idx] = cnt, small
    st.frag[idx] = _frag(wl, cnt, small, total, state.cpu_left[idx])


def _frag(wl: Workload, cnt: I64, small: I64, total: I64, cpu_left: I64) -> F64:
    """Expected fragmented milli from per-type statistics ([K, T]) and free totals ([K])."""
    host = (cnt >= wl.count) & (cpu_left[:, None] >= wl.cpu)
    f = np.where(host, small, total[:, None])
    return np.asarray(wl.p_cpu * total + f @ wl.p, dtype=np.float64)


def level(delta: F64) -> F64:
    """FGD's score: 100 * sigmoid(fragmentation decrease / 1000), truncated to an integer level."""
    return np.trunc(100.0 / (1.0 + np.exp(-delta / 1000.0)))


def whole_scores(
    state: ClusterState, st: TypeStats, nodes: I64, lf: I64, cpu_req: int, count: int, milli: int
) -> F64:
    """Levels of nodes for a replica taking `count` GPUs (the least sufficient ones), or none (count 0).

    lf: [K, G] free milli of the GPUs the request may use (0 for the others).
    """
    wl = st.wl
    cnt, small, total = st.cnt[nodes], st.small[nodes], st.total[nodes]
    cpu_after = state.cpu_left[nodes] - cpu_req
    if wl.size == 0:
        return level(st.frag[nodes] - wl.p_cpu * (total - count * milli))
    if count == 0:
        return level(st.frag[nodes] - _frag(wl, cnt, small, total, cpu_after))
    g = lf.shape[1]
    key = np.where(lf >= milli, lf * g + np.arange(g), np.iinfo(np.int64).max)
    taken = np.argsort(key, axis=1, kind="stable")[:, :count]  # [K, c]
    left = np.take_along_axis(lf, taken, axis=1)  # [K, c]
    acc = st.acc_model[np.take_along_axis(state.gpu_model[nodes], taken, axis=1)]  # [K, c, T]
    lose = (left[:, :, None] >= wl.milli) & acc
    rest = left - milli
    gain = (rest[:, :, None] >= wl.milli) & acc
    cnt2 = cnt - lose.sum(axis=1) + gain.sum(axis=1)
    small2 = small - np.where(lose, 0, left[:, :, None]).sum(axis=1) + np.where(gain, 0, rest[:, :, None]).sum(axis=1)
    after = _frag(wl, cnt2, small2, total - count * milli, cpu_after)
    return level(st.frag[nodes] - after)


def shared_scores(
    state: ClusterState, st: TypeStats, nodes: I64, lf: I64, cpu_req: int, milli: int,
    bestfit_gpu: bool = False,
) -> tuple[F64, I64]:
    """Best level of each node for a shared replica, and the GPU giving it.

    Among a node's GPUs with the best level the lowest index wins, or with `bestfit_gpu` the one
    with the least free milli (then the lowest index).

    Every node must have a GPU with `milli` free in lf. GPUs of a node with the same free milli and
    model score the same, so only the first of each is evaluated.
    """
    g = lf.shape[1]
    model = state.gpu_model[nodes]
    gkey = np.where(lf >= milli, lf * (len(state.models) + 1) + model, -1)
    dup = (gkey[:, :, None] == gkey[:, None, :]) & np.tri(g, k=-1, dtype=bool)[None, :, :]
    cand = (gkey >= 0) & ~dup.any(axis=2)
    rows, gpus = np.nonzero(cand)  # row-major: grouped by node, GPUs ascending
    wl = st.wl
    left = lf[rows, gpus]
    total2 = st.total[nodes][rows] - milli
    if wl.size == 0:
        after = wl.p_cpu * total2
    else:
        acc = st.acc_model[model[rows, gpus]]  # [C, T]
        lose = (left[:, None] >= wl.milli) & acc
        rest = left - milli
        gain = (rest[:, None] >= wl.milli) & acc
        cnt2 = st.cnt[nodes][rows] - lose + gain
        small2 = st.small[nodes][rows] - np.where(lose, 0, left[:, None]) + np.where(gain, 0, rest[:, None])
        after = _frag(wl, cnt2, small2, total2, state.cpu_left[nodes][rows] - cpu_req)
    lv = level(st.frag[nodes][rows] - after)
    # per node: the best level, then (best-fit) the least free milli, then the lowest GPU index,
    # packed into one integer to reduce once
    packed = lv.astype(np.int64) * g + (g - 1 - gpus)
    if bestfit_gpu:
        packed = (lv.astype(np.int64) * 1001 + (1000 - left)) * g + (g - 1 - gpus)
    starts = np.nonzero(np.r_[True, rows[1:] != rows[:-1]])[0]
    best = np.maximum.reduceat(packed, starts)
    lv_best = best // g // 1001 if bestfit_gpu else best // g
    return lv_best.astype(np.float64), g - 1 - best % g
