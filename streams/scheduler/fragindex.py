"""Incremental fragmentation scores (FGD) over all nodes, cheap per decision.

For a node and a request type t of the workload, FGD needs two numbers: how many GPUs can take t
(`cnt`) and the free milli of the GPUs that cannot (`small`). Both are sums over the node's GPUs of
a contribution that depends only on the GPU's model and free milli, so for each workload the core
tabulates `contrib[model, free milli, t] = cnt << SHIFT | small` once, and then:

- a node's statistics are one gather and one sum over its GPUs (`TypeStats`, kept in
  `state.memo`, never snapshotted; a row is recomputed only when its node's version changed, a new
  workload recomputes them all in one vectorised pass);
- a replica changes the node only through the GPUs it takes: the statistics after it are the
  current ones minus those GPUs' contributions before plus after (`whole_scores`,
  `shared_scores`), so scoring K nodes costs O(K x types) and no per-GPU rescan.

Per request shape, the scores of every node are memoised in `scoring.memoized` and only nodes
whose version changed are rescored. A shared request is scored on each GPU of a node; the first
GPU with the best level wins, as in FGD's simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frag import F64, I64, B, Workload
from .model import MILLI_PER_GPU
from .state import ClusterState

SHIFT = 20  # cnt << SHIFT | small: small <= GPU slots x 1000 < 2**SHIFT (up to 1,048 slots)
MASK = (1 << SHIFT) - 1
DEDUPE_ABOVE = 16  # nodes per batch above which equivalent GPUs are evaluated once
NEG = -np.inf


@dataclass
class TypeStats:
    """Per node and workload type: packed (cnt, small); free milli and expected fragmentation.

    The packed statistics of a type depend only on its GPU milli and allowed models, so they are
    kept per distinct (milli, models) column `u` (12 columns for 32 OpenB types) and expanded to
    the types by `cols` where the fragmentation is computed.
    """

    wl: Workload
    keys: tuple[tuple[int, tuple[str, ...]], ...]  # [U] (milli, models) of each column
    cols: I64  # [T] the column of each type
    contrib: I64  # [models, 1001, U] packed contribution of one GPU by model and free milli
    su: I64  # [cap, U] packed statistics of each node
    total: I64  # [cap] free milli of usable GPUs
    frag: F64  # [cap]
    ver: I64  # [cap] node version the row was computed at
    need: I64  # [T] count << SHIFT: a packed statistic at least this large has enough GPUs for the type
    seen: int = -1  # state.version at the last refresh


def columns(wl: Workload) -> tuple[tuple[tuple[int, tuple[str, ...]], ...], I64, list[int]]:
    """The distinct (milli, models) of the types, each type's column, and one type per column."""
    keys: dict[tuple[int, tuple[str, ...]], int] = {}
    first: list[int] = []
    cols = []
    for t, (milli, models) in enumerate(zip(wl.milli.tolist(), wl.models, strict=True)):
        if (milli, models) not in keys:
            keys[(milli, models)] = len(keys)
            first.append(t)
        cols.append(keys[(milli, models)])
    return tuple(keys), np.array(cols, dtype=np.int64), first


def contributions(wl: Workload, models: list[str], first: list[int] | None = None) -> I64:
    """[models, 1001, U]: a GPU of each model with each free milli, packed (fits << SHIFT | milli if
    not), for the types `first` (default: all)."""
    sel = np.arange(wl.size) if first is None else np.array(first, dtype=np.int64)
    acc = wl.access(models)[:, sel]  # [M, U]
    free = np.arange(MILLI_PER_GPU + 1)[None, :, None]
    fits = (free >= wl.milli[sel]) & acc[:, None, :]
    return np.asarray(np.where(fits, 1 << SHIFT, free), dtype=np.int64)


def type_stats(state: ClusterState, wl: Workload, epoch: int) -> TypeStats:
    """The statistics for the current node states under `wl`, recomputing only stale rows.

    At a new epoch the columns the previous workload already had are carried over (integers, exact)
    and only the fragmentation of every row is recomputed."""
    key = ("typestats", epoch, len(state.models))
    st: TypeStats | None = state.memo.get(key)
    cap = state.cpu_cap.shape[0]
    if st is None or st.su.shape[0] < cap:
        old = {k: state.memo.pop(k) for k in [k for k in state.memo
                                              if isinstance(k, tuple) and k and k[0] == "typestats"]}
        prev = next((o for k, o in old.items() if k[2] == key[2] and o.su.shape[0] == cap), None)
        st = _new_stats(state, wl, cap, prev)
        state.memo[key] = st
    if st.seen != state.version:
        stale = state.touched_since(st.seen) if st.seen >= 0 else None
        if stale is None:
            stale = np.nonzero(st.ver[: state.n] != state.node_version[: state.n])[0]
        st.seen = state.version
        if stale.shape[0]:
            _fill_rows(state, st, stale)
    return st


def _new_stats(state: ClusterState, wl: Workload, cap: int, prev: TypeStats | None) -> TypeStats:
    keys, cols, first = columns(wl)
    contrib = contributions(wl, state.models, first)
    st = TypeStats(wl, keys, cols, contrib, np.zeros((cap, len(keys)), dtype=np.int64),
                   np.zeros(cap, dtype=np.int64), np.zeros(cap, dtype=np.float64), np.full(cap, -1, dtype=np.int64),
                   np.asarray(wl.count << SHIFT, dtype=np.int64))
    if prev is None or state.n == 0:
        return st
    n = state.n
    old = {k: j for j, k in enumerate(prev.keys)}
    kept = [(j, old[k]) for j, k in enumerate(keys) if k in old]
    missing = [j for j, k in enumerate(keys) if k not in old]
    if kept:
        new_j, old_j = (np.array(x, dtype=np.int64) for x in zip(*kept, strict=True))
        st.su[:n, new_j] = prev.su[:n, old_j]
    if missing:  # the new columns for every row, from the current node states
        idx = np.arange(n)
        usable = np.where(state.gpu_ok[idx], state.gpu_left[idx], 0)
        st.su[:n, missing] = contrib[state.gpu_model[idx][:, :, None], usable[:, :, None],
                                     np.array(missing)[None, None, :]].sum(axis=1)
        st.ver[:n] = np.where(prev.ver[:n] == state.node_version[:n], prev.ver[:n], -1)
    else:
        st.ver[:n] = prev.ver[:n]
    st.total[:n] = prev.total[:n]
    fresh = np.nonzero(st.ver[:n] == state.node_version[:n])[0]  # the others are refilled by the caller
    st.frag[fresh] = _frag(st, st.su[fresh], st.total[fresh], state.cpu_left[fresh])
    return st


def _fill_rows(state: ClusterState, st: TypeStats, idx: I64) -> None:
    usable = np.where(state.gpu_ok[idx], state.gpu_left[idx], 0)
    total = usable.sum(axis=1)
    su = st.contrib[state.gpu_model[idx], usable].sum(axis=1)
    st.su[idx], st.total[idx], st.ver[idx] = su, total, state.node_version[idx]
    st.frag[idx] = _frag(st, su, total, state.cpu_left[idx])


def single_model(state: ClusterState) -> I64:
    """[n] the model of all of a node's healthy GPUs, -1 when mixed or none (memoised per capacity)."""
    key = ("model1", state.capacity_version, state.n)
    m1: I64 | None = state.memo.get(key)
    if m1 is None:
        ok, model = state.gpu_ok[: state.n], state.gpu_model[: state.n]
        hi = np.where(ok, model, -1).max(axis=1)
        m1 = np.where(hi == np.where(ok, model, hi[:, None]).min(axis=1), hi, -1)
        for k in [k for k in state.memo if isinstance(k, tuple) and k and k[0] == "model1"]:
            del state.memo[k]
        state.memo[key] = m1
    return m1


def capacities(state: ClusterState) -> tuple[I64, I64]:
    """[n] CPU milli and healthy GPU milli of each node, at least 1 (memoised per capacity)."""
    key = ("caps", state.capacity_version, state.n)
    caps: tuple[I64, I64] | None = state.memo.get(key)
    if caps is None:
        caps = (np.maximum(state.cpu_cap[: state.n], 1),
                np.maximum(state.gpu_ok[: state.n].sum(axis=1) * MILLI_PER_GPU, 1))
        for k in [k for k in state.memo if isinstance(k, tuple) and k and k[0] == "caps"]:
            del state.memo[k]
        state.memo[key] = caps
    return caps


def _frag(st: TypeStats, su: I64, total: I64, cpu_left: I64) -> F64:
    """Expected fragmented milli from packed per-column statistics [..., U], free totals and CPU [...]."""
    wl = st.wl
    s = su.take(st.cols, axis=-1)  # [..., T]
    host = (s >= st.need) & (cpu_left[..., None] >= wl.cpu)  # s >= count << SHIFT: cnt >= count
    f = np.where(host, s & MASK, total[..., None])
    # Not np.dot: BLAS rounds a row differently depending on its place in the batch, so a node scored
    # alone, in a memo refresh or from scratch after a restore would differ in the last bit (and a
    # level at 50.0 could truncate to 49). An elementwise product summed along the row is the same
    # computation for every row, whatever the batch.
    out: F64 = wl.p_cpu * total + (f * wl.p).sum(axis=-1)
    return out


def level(delta: F64, levels: int = 100) -> F64:
    """FGD's score: levels * sigmoid(fragmentation decrease / 1000), truncated to an integer level
    (FGD: 100 levels).

    The exponent is capped (level 0 either way) so that masked-out candidates never overflow."""
    return np.trunc(levels / (1.0 + np.exp(np.minimum(-delta / 1000.0, 700.0))))


def whole_scores(
    state: ClusterState, st: TypeStats, nodes: I64, lf: I64, cpu_req: int, count: int, milli: int,
    levels: int = 100,
) -> F64:
    """Levels of nodes for a replica taking `count` GPUs (the least sufficient ones), or none (count 0).

    lf: [K, G] free milli of the GPUs the request may use (0 for the others).
    """
    s, total2 = st.su[nodes], st.total[nodes] - count * milli
    if count > 0:
        model1 = single_model(state)[nodes]
        if milli == MILLI_PER_GPU and (model1 >= 0).all():
            s = s - count * st.contrib[model1, MILLI_PER_GPU]  # full GPUs of one model, now empty
        else:
            g = lf.shape[1]
            key = np.where(lf >= milli, lf * g + np.arange(g), np.iinfo(np.int64).max)
            taken = np.argsort(key, axis=1, kind="stable")[:, :count]  # [K, c]
            left = np.take_along_axis(lf, taken, axis=1)
            model = np.take_along_axis(state.gpu_model[nodes], taken, axis=1)
            s = s + (st.contrib[model, left - milli] - st.contrib[model, left]).sum(axis=1)
    after = _frag(st, s, total2, state.cpu_left[nodes] - cpu_req)
    return level(st.frag[nodes] - after, levels)


def shared_scores(
    state: ClusterState, st: TypeStats, nodes: I64, lf: I64, cpu_req: int, milli: int,
    bestfit_gpu: bool = False, levels: int = 100,
) -> tuple[F64, I64]:
    """Best level of each node for a shared replica, and the GPU giving it.

    Every node must have a GPU with `milli` free in lf. Among a node's GPUs with the best level
    the lowest index wins, or with `bestfit_gpu` the one with the least free milli (then the
    lowest index). Above DEDUPE_ABOVE nodes, GPUs of a node with the same free milli and model
    (which score the same) are evaluated once.
    """
    g = lf.shape[1]
    model = state.gpu_model[nodes]
    fits = lf >= milli
    if nodes.shape[0] <= DEDUPE_ABOVE:  # a few nodes: every GPU at once, [K, G, T]
        left = np.where(fits, lf, milli)  # non-fitting GPUs are scored as if empty after, then masked
        s = st.su[nodes][:, None, :] + st.contrib[model, left - milli] - st.contrib[model, left]
        after = _frag(st, s, (st.total[nodes] - milli)[:, None],
                      np.broadcast_to((state.cpu_left[nodes] - cpu_req)[:, None], lf.shape))
        lv = level(st.frag[nodes][:, None] - after, levels)
        key = _gpu_key(lv, left, np.arange(g), g, bestfit_gpu)
        return _best(np.where(fits, key, -1).max(axis=1), g, bestfit_gpu)
    rows, gpus = np.nonzero(_first_of_kind(np.where(fits, lf * (len(state.models) + 1) + model, -1)) & fits)
    nr, left, m = nodes[rows], lf[rows, gpus], model[rows, gpus]
    s = st.su[nr] + st.contrib[m, left - milli] - st.contrib[m, left]
    after = _frag(st, s, st.total[nr] - milli, state.cpu_left[nr] - cpu_req)
    lv = level(st.frag[nr] - after, levels)
    packed = np.full(lf.shape, -1, dtype=np.int64)
    packed[rows, gpus] = _gpu_key(lv, left, gpus, g, bestfit_gpu)
    return _best(packed.max(axis=1), g, bestfit_gpu)


def _first_of_kind(gkey: I64) -> B:
    """[K, G] whether each GPU is the lowest-indexed of its node with its key (a stable sort per node:
    equal keys keep their index order, so the first of each run is the lowest index)."""
    order = np.argsort(gkey, axis=1, kind="stable")
    sk = np.take_along_axis(gkey, order, axis=1)
    first = np.empty(sk.shape, dtype=bool)
    first[:, 0] = True
    np.not_equal(sk[:, 1:], sk[:, :-1], out=first[:, 1:])
    keep = np.empty_like(first)
    np.put_along_axis(keep, order, first, axis=1)
    return keep


def _gpu_key(lv: F64, left: I64, gpus: I64, g: int, bestfit_gpu: bool) -> I64:
    """One integer per candidate GPU whose maximum is the best level, then (best-fit) the least
    free milli, then the lowest GPU index."""
    key = lv.astype(np.int64)
    if bestfit_gpu:
        key = key * 1001 + (MILLI_PER_GPU - left)
    return np.asarray(key * g + (g - 1 - gpus), dtype=np.int64)


def _best(best: I64, g: int, bestfit_gpu: bool) -> tuple[F64, I64]:
    lv = best // g // 1001 if bestfit_gpu else best // g
    return lv.astype(np.float64), g - 1 - best % g
