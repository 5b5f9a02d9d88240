"""The demo's workload: the OpenB trace (nodes and pods) as scheduling input events, trace times compressed.

Pure: the same files, run id and end time give the same events (ids are uuid5 of the run and the name).
A run registers its own nodes (ids prefixed with the run id), submits every pod at its compressed creation
time as a one-member task of a tenant queue, finishes it at its compressed deletion time, and removes its
nodes at the end, so the next run starts from an empty cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentic import events as ev
from agentic.bench import openb
from agentic.bench.openb import TraceNode, TracePod, load_nodes
from agentic.events import derived_event_id, new_envelope

__all__ = ["TENANTS", "Timeline", "TraceNode", "TracePod", "load_nodes", "load_pods", "workload"]

SOURCE = "agentic.demo"
TENANTS = ("acme", "globex", "initech")
PRIORITY = {"Guaranteed": 3, "LS": 2, "Burstable": 1, "BE": 0}


def load_pods(path: Path, suffix: str = "") -> list[TracePod]:
    """The trace's pods (`agentic.bench.openb` rules), named `<name>-<suffix>` when several lists are mixed.
    A multi-GPU pod asks for whole GPUs (the catalogue's rule: a share below 1000 needs gpu_count == 1)."""
    pods = []
    for p in openb.load_pods(path):
        if suffix:
            p = replace(p, name=f"{p.name}-{suffix}")
        if p.num_gpu > 1:
            p = replace(p, gpu_milli=1000)
        pods.append(p)
    return pods


@dataclass(frozen=True, slots=True)
class Timeline:
    """Trace time compressed into event time.

    The pods arrive in trace order (creation time, then name), spread evenly over the first
    `arrival_share` of the span (the trace's 149 days of gaps are not kept); each runs for its trace
    duration scaled so that the median pod runs `median_share` of the span. The trace's own scale (pods
    of minutes over months) would leave the cluster nearly empty at any moment.
    """

    start_ms: int
    span_ms: int
    pods: int
    median_duration_s: int
    arrival_share: float = 0.75
    median_share: float = 0.2

    def arrival(self, rank: int) -> int:
        return self.start_ms + int(self.span_ms * self.arrival_share * rank / max(self.pods, 1))

    def duration(self, trace_s: int) -> int:
        return int(trace_s * self.span_ms * self.median_share / max(self.median_duration_s, 1))


def _env(run: str, kind: str, name: str, tenant: str, at_ms: int, correlation: str | None = None) -> ev.Envelope:
    return new_envelope(kind, tenant, SOURCE, at_ms, correlation_id=correlation,
                        event_id=derived_event_id(run, kind, name))


def node_events(run: str, nodes: list[TraceNode], at_ms: int) -> Iterator[Any]:
    for i, n in enumerate(nodes):
        gpus = tuple(ev.GpuDevice(index=g, model=n.model or "none", memory_mib=0, nvlink_domain=g // 4,
                                  healthy=True) for g in range(n.gpus))
        yield ev.NodeRegistered(envelope=_env(run, "NodeRegistered", n.name, "cluster", at_ms),
                                node_id=f"{run}-{n.name}", cpu_milli=n.cpu_milli, memory_mib=n.memory_mib,
                                gpus=gpus, rack=f"rack-{i // 32:03d}", zone="z1", labels={}, healthy=True,
                                cordoned=False)


def queue_events(run: str, at_ms: int) -> Iterator[Any]:
    for tenant in TENANTS:
        yield ev.QueueConfigured(envelope=_env(run, "QueueConfigured", tenant, tenant, at_ms),
                                 queue=f"{run}-{tenant}", weight=1.0, priority=0, quotas=())


def task_events(run: str, i: int, pod: TracePod, tl: Timeline) -> Iterator[tuple[int, int, Any]]:
    """(time, order, event) of the i-th pod (trace order): its submission and, within the span, its end."""
    tenant = TENANTS[i % len(TENANTS)]
    task_id = f"{run}-{pod.name}"
    sub = _env(run, "TaskSubmitted", pod.name, tenant, tl.arrival(i))
    kind = ev.WorkloadType.TRAINING if pod.num_gpu >= 1 and pod.gpu_milli == 1000 else (
        ev.WorkloadType.INFERENCE if pod.num_gpu else ev.WorkloadType.BATCH)
    member = ev.GangMember(name="pod", replicas=1, cpu_milli=pod.cpu_milli, memory_mib=pod.memory_mib,
                           gpu_count=pod.num_gpu, gpu_milli=pod.gpu_milli)
    duration = tl.duration(max(0, pod.deletion_time - pod.creation_time))
    yield sub.occurred_at, 1, ev.TaskSubmitted(
        envelope=sub, task_id=task_id, queue=f"{run}-{tenant}", priority=PRIORITY.get(pod.qos, 0),
        workload_type=kind, preemptible=pod.qos == "BE", members=(member,), gpu_models=pod.gpu_spec,
        topology=ev.TopologyRequirement.NONE, expected_duration_ms=duration)
    end_ms = min(sub.occurred_at + duration, tl.start_ms + tl.span_ms)
    end = _env(run, "TaskFinished", pod.name, tenant, end_ms, correlation=sub.correlation_id)
    yield end.occurred_at, 2, ev.TaskFinished(envelope=end, task_id=task_id, outcome=ev.TaskOutcome.SUCCEEDED,
                                                  exit_code=0)


def workload(run: str, nodes: list[TraceNode], pods: list[TracePod], end_ms: int,
             span_ms: int = 3_600_000, median_share: float = 0.35) -> list[Any]:
    """Every input event of one demo run, in event-time order, ending at `end_ms` with the nodes' removal."""
    ordered = sorted(pods, key=lambda p: (p.creation_time, p.name))
    durations = sorted(max(0, p.deletion_time - p.creation_time) for p in ordered) or [1]
    tl = Timeline(end_ms - span_ms, span_ms, len(ordered), durations[len(durations) // 2],
                  median_share=median_share)
    timed: list[tuple[int, int, int, Any]] = [(tl.start_ms, 0, i, e) for i, e in
                                              enumerate([*queue_events(run, tl.start_ms),
                                                         *node_events(run, nodes, tl.start_ms)])]
    for i, pod in enumerate(ordered):
        timed += [(t, order, i, e) for t, order, e in task_events(run, i, pod, tl)]
    timed.sort(key=lambda x: (x[0], x[1], x[2]))
    removal = [ev.NodeRemoved(envelope=_env(run, "NodeRemoved", n.name, "cluster", end_ms), node_id=f"{run}-{n.name}",
                              reason="demo run ended") for n in nodes]
    return [e for *_, e in timed] + removal
