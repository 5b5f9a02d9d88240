"""Fragmentation of idle GPU capacity with respect to an expected workload (FGD, ATC'23).

For one node and one kind of request t (cpu c_t, m_t milli on each of n_t GPUs, allowed models):
if the node can host t (enough CPU, n_t accessible GPUs with at least m_t free), the fragment is
the free milli of the GPUs that cannot take m_t; otherwise all its free GPU milli is a fragment.
CPU-only requests see all free GPU milli as a fragment. The node's expected fragmentation is the
sum over t weighted by t's share of the workload. Everything here is vectorised over nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .config import WorkloadShape

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

ShapeKey = tuple[int, int, int, tuple[str, ...]]  # cpu_milli, gpu_milli, gpu_count, models


@dataclass(frozen=True)
class Workload:
    """The expected workload as arrays over its GPU request types (CPU-only types are pooled)."""

    p_cpu: float
    p: F64  # [T] share of each GPU type
    cpu: I64  # [T]
    milli: I64  # [T]
    count: I64  # [T]
    models: tuple[tuple[str, ...], ...]  # [T] allowed models, () = any

    @property
    def size(self) -> int:
        return int(self.p.shape[0])

    def access(self, model_names: list[str]) -> B:
        """[n_models, T]: whether a GPU of each known model may serve each type."""
        acc = np.ones((max(len(model_names), 1), self.size), dtype=bool)
        for t, allowed in enumerate(self.models):
            if allowed:
                acc[: len(model_names), t] = [name in allowed for name in model_names]
        return acc


def typical(counts: Mapping[ShapeKey, float], coverage: float, demand: bool = False) -> Workload:
    """The most frequent shapes covering `coverage` of the weight, renormalised (FGD's typical pods).

    With `demand`, shapes are then added by GPU demand (weight x milli x GPUs) until the kept
    ones also cover `coverage` of the requested GPU milli, so that rare but large requests (multi-GPU
    tasks) are part of the expectation; weights stay pod shares.
    Ties are broken by the shape key so that the result never depends on dict order.
    """
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(w for _, w in items)
    if total <= 0:
        return Workload(1.0, np.zeros(0), *(np.zeros(0, dtype=np.int64),) * 3, ())
    kept: list[tuple[ShapeKey, float]] = []
    acc = 0.0
    for key, w in items:
        if acc >= coverage * total:
            break
        kept.append((key, w))
        acc += w
    if demand:
        need = coverage * sum(w * k[1] * k[2] for k, w in items)
        have = sum(w * k[1] * k[2] for k, w in kept)
        for key, w in sorted(items[len(kept):], key=lambda kv: (-kv[1] * kv[0][1] * kv[0][2], kv[0])):
            if have >= need:
                break
            kept.append((key, w))
            acc += w
            have += w * key[1] * key[2]
    gpu = [(k, w / acc) for k, w in kept if k[1] > 0 and k[2] > 0]
    p_cpu = sum(w / acc for k, w in kept if not (k[1] > 0 and k[2] > 0))
    return Workload(
        p_cpu=p_cpu,
        p=np.array([w for _, w in gpu], dtype=np.float64),
        cpu=np.array([k[0] for k, _ in gpu], dtype=np.int64),
        milli=np.array([k[1] for k, _ in gpu], dtype=np.int64),
        count=np.array([k[2] for k, _ in gpu], dtype=np.int64),
        models=tuple(k[3] for k, _ in gpu),
    )


def from_shapes(
    shapes: tuple[WorkloadShape, ...], coverage: float, weighting: str = "pods", demand: bool = False
) -> Workload:
    counts: dict[ShapeKey, float] = {}
    for s in shapes:
        key = shape_key(s.cpu_milli, s.gpu_milli, s.gpu_count, s.gpu_models)
        counts[key] = counts.get(key, 0.0) + s.weight
    return typical(weighted(counts, weighting), coverage, demand)


def weighted(counts: Mapping[ShapeKey, float], weighting: str) -> dict[ShapeKey, float]:
    """Type weights from pod counts: `pods` (FGD: each pod counts once) or `gpu` (each pod counts
    its GPU milli, so a type weighs its share of the GPU demand; CPU-only types weigh nothing)."""
    if weighting == "pods":
        return dict(counts)
    return {k: w * k[1] * k[2] for k, w in counts.items() if k[1] * k[2] > 0}


def shape_key(cpu: int, milli: int, count: int, models: tuple[str, ...]) -> ShapeKey:
    if count <= 0 or milli <= 0:
        return (cpu, 0, 0, ())
    return (cpu, milli, count, tuple(sorted(models)))


def type_stats(left: I64, acc: B, wl: Workload) -> tuple[I64, I64]:
    """Per node and type: GPUs able to take the type, and free milli of the GPUs that cannot.

    left: [K, G] free milli of usable GPUs (0 for unusable); acc: [K, G, T].
    """
    fits = (left[:, :, None] >= wl.milli[None, None, :]) & acc
    cnt = fits.sum(axis=1)
    small = np.where(fits, 0, left[:, :, None]).sum(axis=1)
    return cnt, small


def node_frag(left: I64, cpu_left: I64, acc: B, wl: Workload) -> F64:
    """Expected fragmented GPU milli of each of K nodes: [K]."""
    total = left.sum(axis=1)
    if wl.size == 0:
        return np.asarray(wl.p_cpu * total, dtype=np.float64)
    cnt, small = type_stats(left, acc, wl)
    host = (cnt >= wl.count[None, :]) & (cpu_left[:, None] >= wl.cpu[None, :])
    f = np.where(host, small, total[:, None])
    return np.asarray(wl.p_cpu * total + f @ wl.p, dtype=np.float64)


def frag_after_share(
    left: I64, cpu_left: I64, acc: B, wl: Workload, cpu_req: int, milli: int
) -> F64:
    """[K, G] expected fragmentation of each node after putting `milli` on each of its GPUs.

    Entries for GPUs with less than `milli` free are meaningless (mask them with `left >= milli`).
    """
    total = left.sum(axis=1)
    k, g = left.shape
    if wl.size == 0:
        return np.broadcast_to((wl.p_cpu * (total - milli))[:, None], (k, g)).astype(np.float64)
    cnt, small = type_stats(left, acc, wl)
    after = left - milli
    m = wl.milli[None, None, :]
    lose = (left[:, :, None] >= m) & acc
    gain = (after[:, :, None] >= m) & acc
    cnt2 = cnt[:, None, :] - lose + gain
    small2 = small[:, None, :] - np.where(lose, 0, left[:, :, None]) + np.where(gain, 0, after[:, :, None])
    total2 = (total - milli)[:, None, None]
    host = (cnt2 >= wl.count[None, None, :]) & ((cpu_left - cpu_req)[:, None, None] >= wl.cpu[None, None, :])
    f = np.where(host, small2, total2)
    return np.asarray(wl.p_cpu * total2[:, :, 0] + f @ wl.p, dtype=np.float64)


def cluster_frag_ratio(left: I64, cpu_left: I64, acc: B, wl: Workload) -> float:
    """Fragmented idle GPU milli / idle GPU milli over the given nodes (FGD's fragmentation ratio)."""
    idle = float(left.sum())
    if idle <= 0:
        return 0.0
    return float(node_frag(left, cpu_left, acc, wl).sum()) / idle
