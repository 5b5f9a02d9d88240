"""Loading the OpenB trace (Alibaba clusterdata, cluster-trace-gpu-v2023) for the benchmarks."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from agentic.streams.scheduler.config import WorkloadShape

MILLI = 1000


@dataclass(frozen=True, slots=True)
class TraceNode:
    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    model: str


@dataclass(frozen=True, slots=True)
class TracePod:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int  # per GPU, capped at 1000; 0 for CPU-only pods
    gpu_spec: tuple[str, ...]  # allowed GPU models (GPU pods only); () = any
    creation_time: int
    deletion_time: int
    scheduled_time: int
    qos: str = ""

    @property
    def total_gpu_milli(self) -> int:
        return self.num_gpu * self.gpu_milli


def load_nodes(path: Path) -> list[TraceNode]:
    with path.open(newline="") as f:
        return [
            TraceNode(r["sn"], int(r["cpu_milli"]), int(r["memory_mib"]), int(r["gpu"]), r["model"] or "")
            for r in csv.DictReader(f)
        ]


def _int(value: str) -> int:
    return int(float(value)) if value else 0


def load_pods(path: Path) -> list[TracePod]:
    """Every row; gpu_milli capped at 1000; gpu_spec kept for GPU pods only (the FGD simulator's rules)."""
    pods = []
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            num = _int(r["num_gpu"])
            milli = min(_int(r["gpu_milli"]), MILLI) if num > 0 else 0
            spec = tuple(s for s in (r.get("gpu_spec") or "").split("|") if s) if num > 0 else ()
            pods.append(TracePod(r["name"], _int(r["cpu_milli"]), _int(r["memory_mib"]), num, milli, spec,
                                 _int(r.get("creation_time", "")), _int(r.get("deletion_time", "")),
                                 _int(r.get("scheduled_time", "")), r.get("qos") or ""))
    return pods


def typical_shapes(pods: list[TracePod]) -> tuple[WorkloadShape, ...]:
    """The pod list as workload shapes (CPU pods included), the FGD simulator's 'typical pods' input."""
    counts: dict[tuple[int, int, int, tuple[str, ...]], int] = {}
    for p in pods:
        key = (p.cpu_milli, p.gpu_milli, p.num_gpu, tuple(sorted(p.gpu_spec)))
        counts[key] = counts.get(key, 0) + 1
    return tuple(WorkloadShape(c, m, n, s, float(w)) for (c, m, n, s), w in sorted(counts.items()))
