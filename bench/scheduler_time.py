"""The OpenB replay over time: tasks arrive at their creation time and run for their trace duration.

Each pod is a TaskSubmitted at `creation_time` (queue = its QoS class) and, once allocated, a
TaskFinished after `deletion_time - scheduled_time` seconds (or `deletion_time - creation_time`
when it never started in the trace). Pending tasks wait in the core and are retried when capacity
frees. Measured: queueing delay (allocation - arrival), job completion time (finish - arrival),
per-queue Jain's fairness index over the queues' mean service ratio (run time / completion time),
and the tasks never started. The same events go through each configuration in the same process.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from agentic.streams.scheduler import ClusterState, Scheduler, SchedulerConfig
from agentic.streams.scheduler.model import (
    Member,
    Meta,
    QueueConfigured,
    TaskAllocated,
    TaskFinished,
    TaskRejected,
    TaskSubmitted,
)

from .openb import TraceNode, TracePod
from .scheduler import VARIANTS, node_events

BASELINE = "fifo-firstfit"


def configs(policy: str, seed: int) -> dict[str, SchedulerConfig]:
    """FIFO first-fit and the policy (a placement, or a placement+variant of bench.scheduler.VARIANTS)."""
    return {
        BASELINE: SchedulerConfig(placement="firstfit", drf=False, preemption=False, reservation=False,
                                  aging_ms=10**12, seed=seed),
        policy: SchedulerConfig(placement=policy.split("+")[0], seed=seed, aging_ms=600_000,
                                **VARIANTS.get(policy, {})),
    }


def duration_s(p: TracePod) -> int:
    start = p.scheduled_time if p.scheduled_time else p.creation_time
    return max(1, p.deletion_time - start) if p.deletion_time else 1


def replay(nodes: Sequence[TraceNode], pods: Sequence[TracePod], cfg: SchedulerConfig, seed: int,
           speedup: float = 1.0) -> dict[str, Any]:
    sched, state = Scheduler(cfg), ClusterState(capacity=len(nodes))
    for node in node_events(nodes, random.Random(seed)):
        state, _ = sched.step(state, node)
    queues = sorted({p_queue(p) for p in pods})
    for q in queues:
        state, _ = sched.step(state, QueueConfigured(Meta(f"queue-{q}", 0), q))
    by_id = {f"{p.name}": p for p in pods}
    # (time ms, kind 0=finish first, seq, task id)
    arrive = {p.name: int(p.creation_time * 1000 / speedup) for p in pods}
    heap: list[tuple[int, int, int, str]] = [(arrive[p.name], 1, k, p.name) for k, p in enumerate(pods)]
    heapq.heapify(heap)
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    rejected = 0
    seq = 0
    lat: list[int] = []
    while heap:
        t, kind, _, tid = heapq.heappop(heap)
        seq += 1
        if kind == 1:
            p = by_id[tid]
            ev: Any = TaskSubmitted(Meta(f"e{seq}", t, correlation_id=tid), tid, p_queue(p),
                                    (Member("main", 1, p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli),),
                                    gpu_models=p.gpu_spec, expected_duration_ms=duration_s(p) * 1000)
        else:
            ev = TaskFinished(Meta(f"e{seq}", t, correlation_id=tid), tid)
        t0 = time.perf_counter_ns()
        state, decisions = sched.step(state, ev)
        lat.append(time.perf_counter_ns() - t0)
        for d in decisions:
            if isinstance(d, TaskAllocated) and d.task_id not in start:
                start[d.task_id] = t
                fin = t + duration_s(by_id[d.task_id]) * 1000
                end[d.task_id] = fin
                heapq.heappush(heap, (fin, 0, seq, d.task_id))
            elif isinstance(d, TaskRejected):
                rejected += 1
    return _metrics(pods, arrive, start, end, rejected, np.array(lat))


def p_queue(p: TracePod) -> str:
    """Tasks are charged to one queue per QoS class of the trace (LS, BE, Burstable, ...)."""
    return p.qos or "default"


def _metrics(pods: Sequence[TracePod], arrive: dict[str, int], start: dict[str, int], end: dict[str, int],
             rejected: int, lat: Any) -> dict[str, Any]:
    wait = np.array([(start[p.name] - arrive[p.name]) / 1000 for p in pods if p.name in start])
    jct = np.array([(end[p.name] - arrive[p.name]) / 1000 for p in pods if p.name in end])
    ratio: dict[str, list[float]] = defaultdict(list)
    for p in pods:
        if p.name in end:
            run_s = duration_s(p)
            ratio[p_queue(p)].append(run_s / max(run_s, (end[p.name] - arrive[p.name]) / 1000))
        else:
            ratio[p_queue(p)].append(0.0)
    x = np.array([np.mean(v) for v in ratio.values()])
    return {
        "tasks": len(pods), "started": len(start), "never_started": len(pods) - len(start) - rejected,
        "rejected": rejected,
        "mean_queueing_delay_s": float(wait.mean()) if wait.size else 0.0,
        "p99_queueing_delay_s": float(np.percentile(wait, 99)) if wait.size else 0.0,
        "mean_jct_s": float(jct.mean()) if jct.size else 0.0,
        "p99_jct_s": float(np.percentile(jct, 99)) if jct.size else 0.0,
        "jain_fairness_queues": float(x.sum() ** 2 / (len(x) * (x**2).sum())) if (x**2).sum() else 1.0,
        "queue_service_ratio": {q: float(np.mean(v)) for q, v in sorted(ratio.items())},
        "events_per_s": float(lat.size / (lat.sum() / 1e9)), "p99_event_ms": float(np.percentile(lat, 99)) / 1e6,
    }
