"""Queues: guaranteed quotas with borrowing limits, and DRF order between queues."""

from __future__ import annotations

from .model import PendingReason, Placement
from .placement import Miss
from .state import ClusterState, QueueRecord, TaskRecord, quota_key

RESOURCES = ("cpu_milli", "memory_mib", "gpu_milli")


def capacity(state: ClusterState) -> dict[str, int]:
    n = state.n
    act = state.active[:n]
    return {
        "cpu_milli": int(state.cpu_cap[:n][act].sum()),
        "memory_mib": int(state.mem_cap[:n][act].sum()),
        "gpu_milli": int(state.gpu_ok[:n][act].sum()) * 1000,
    }


def dominant_share(q: QueueRecord, cap: dict[str, int]) -> float:
    """DRF: the largest share of any cluster resource the queue holds, divided by its weight."""
    share = max((q.usage.get(r, 0) / cap[r] for r in RESOURCES if cap[r] > 0), default=0.0)
    return share / max(q.weight, 1e-9)


def usage_delta(state: ClusterState, placements: tuple[Placement, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in placements:
        out["cpu_milli"] = out.get("cpu_milli", 0) + p.cpu_milli
        out["memory_mib"] = out.get("memory_mib", 0) + p.memory_mib
        i = state.index.get(p.node_id)
        for g in p.gpus:
            out["gpu_milli"] = out.get("gpu_milli", 0) + g.milli
            if i is not None:
                key = quota_key("gpu_milli", state.models[int(state.gpu_model[i, g.index])])
                out[key] = out.get(key, 0) + g.milli
    return out


def over_limit(q: QueueRecord, delta: dict[str, int]) -> Miss | None:
    """QUEUE_QUOTA_EXCEEDED when the usage would pass guaranteed + borrow_limit of a quota."""
    for key, guaranteed in sorted(q.guaranteed.items()):
        limit = q.borrow_limit.get(key)
        if limit is None:
            continue
        after = q.usage.get(key, 0) + delta.get(key, 0)
        if after > guaranteed + limit:
            return Miss(PendingReason.QUEUE_QUOTA_EXCEEDED,
                        f"queue {q.name!r}: {key} would be {after} > guaranteed {guaranteed} + "
                        f"borrow_limit {limit}; wait for its tasks to finish or raise the quota",
                        None, ((key, after - guaranteed - limit),))
    return None


def apply_usage(q: QueueRecord, delta: dict[str, int], sign: int) -> None:
    for key, v in delta.items():
        q.usage[key] = q.usage.get(key, 0) + sign * v


def borrowing(q: QueueRecord) -> bool:
    """Whether the queue holds more than its guarantee of some quota'd resource."""
    return any(q.usage.get(k, 0) > g for k, g in q.guaranteed.items())


def under_guarantee(q: QueueRecord, demand: dict[str, int]) -> bool:
    """Whether the task would still be within its queue's guarantee (it may reclaim borrowed capacity)."""
    if not q.guaranteed:
        return False
    return all(q.usage.get(k, 0) + demand.get(k, 0) <= g for k, g in q.guaranteed.items() if k in demand)


def order_key(state: ClusterState, t: TaskRecord, now: int, aging_ms: int,
              cap: dict[str, int], drf: bool) -> tuple[float, float, int]:
    """Scheduling order: effective priority (with aging), then DRF share of the queue, then arrival."""
    q = state.queues.get(t.queue)
    qprio = q.priority if q else 0
    aged = t.priority + qprio + max(0, now - t.submitted_at) // aging_ms
    share = dominant_share(q, cap) if (drf and q) else 0.0
    return (-float(aged), share, t.seq)
