"""A small driver that feeds the core hand-written inputs: scenario tests in a dozen lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import SchedulerConfig
from .core import Scheduler
from .model import (
    Decision,
    Gpu,
    InputEvent,
    Member,
    Meta,
    NodeHeartbeat,
    NodeRegistered,
    NodeRemoved,
    QueueConfigured,
    Quota,
    TaskCancelled,
    TaskFinished,
    TaskSubmitted,
    Topology,
)
from .state import ClusterState


@dataclass
class Driver:
    """Numbers input events, advances a fake clock (`now`, ms) and keeps every decision."""

    config: SchedulerConfig = field(default_factory=SchedulerConfig)
    state: ClusterState = field(default_factory=ClusterState)
    now: int = 1_000
    seq: int = 0
    log: list[Decision] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(self.config)

    def meta(self, corr: str = "") -> Meta:
        self.seq += 1
        return Meta(f"in-{self.seq}", self.now, "t1", corr)

    def send(self, ev: InputEvent) -> tuple[Decision, ...]:
        self.state, out = self.scheduler.step(self.state, ev)
        self.log.extend(out)
        return out

    def node(self, node_id: str, gpus: int = 0, *, cpu: int = 64_000, mem: int = 256_000,
             model: str = "A100", domains: tuple[int, ...] = (), rack: str = "r0") -> tuple[Decision, ...]:
        devs = tuple(Gpu(i, model, 80_000, domains[i] if domains else 0) for i in range(gpus))
        return self.send(NodeRegistered(self.meta(), node_id, cpu, mem, devs, rack=rack))

    def remove(self, node_id: str) -> tuple[Decision, ...]:
        return self.send(NodeRemoved(self.meta(), node_id, "test"))

    def heartbeat(self, node_id: str, load: float) -> tuple[Decision, ...]:
        return self.send(NodeHeartbeat(self.meta(), node_id, load, 0, ()))

    def queue(self, name: str = "q", *, weight: float = 1.0, quotas: tuple[Quota, ...] = ()) -> tuple[Decision, ...]:
        return self.send(QueueConfigured(self.meta(), name, weight, 0, quotas))

    def submit(self, task_id: str, *, gpus: int = 0, milli: int = 1000, cpu: int = 1000, mem: int = 1000,
               replicas: int = 1, queue: str = "q", priority: int = 0, preemptible: bool = False,
               models: tuple[str, ...] = (), topology: Topology = Topology.NONE,
               duration: int | None = None, members: tuple[Member, ...] | None = None,
               ) -> tuple[Decision, ...]:
        ms = members if members is not None else (Member("main", replicas, cpu, mem, gpus, milli if gpus else 0),)
        return self.send(TaskSubmitted(self.meta(task_id), task_id, queue, ms, priority, "", preemptible,
                                       models, topology, duration))

    def finish(self, task_id: str) -> tuple[Decision, ...]:
        return self.send(TaskFinished(self.meta(task_id), task_id, "SUCCEEDED", 0))

    def cancel(self, task_id: str) -> tuple[Decision, ...]:
        return self.send(TaskCancelled(self.meta(task_id), task_id, "test"))
