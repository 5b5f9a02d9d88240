"""The scheduler end to end through Kafka: OpenB nodes and tasks published as events, the processor's
Kafka shell consumes them and publishes decisions; decisions/s measured from the first input received to
the last input handled (its decisions sent; start-up, recovery and the idle wait before stopping are
reported apart as ``wall_s``). Also the input builders the processor tests use.

Topics are fresh per run (``bench-<run>.inputs`` / ``.decisions`` / ``.checkpoints``) so a run never mixes
with the live ``agentic.scheduling.*`` log.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentic import events as ev
from agentic.connectors.kafka import RawProducer, ensure_topics
from agentic.schemas.codec import EventCodec
from agentic.schemas.topics import TopicSpec, key_for
from agentic.streams.scheduler import SchedulerConfig
from agentic.streams.scheduler.processor import scheduler_processor
from agentic.streams.shell.faust_runtime import run_faust
from agentic.streams.shell.kafka import KafkaShell, ShellConfig

from .openb import TraceNode, TracePod, load_nodes, load_pods
from .scheduler import QUEUE, arrivals

TENANT = "bench"


def _env(event_type: str, event_id: str, at: int, correlation: str = "") -> ev.Envelope:
    return ev.new_envelope(event_type, TENANT, "agentic.bench", at, correlation_id=correlation or event_id,
                           event_id=str(uuid.uuid5(ev.EVENT_ID_NAMESPACE, event_id)))


def node_registered(node_id: str, cpu: int, mem: int, gpus: int, model: str, at: int = 0,
                    rack: str = "r0") -> ev.NodeRegistered:
    devices = tuple(ev.GpuDevice(index=i, model=model, memory_mib=0, nvlink_domain=0, healthy=True)
                    for i in range(gpus))
    return ev.NodeRegistered(envelope=_env("NodeRegistered", f"node-{node_id}-{at}", at), node_id=node_id,
                             cpu_milli=cpu, memory_mib=mem, gpus=devices, rack=rack, zone="z0", labels={},
                             healthy=True, cordoned=False)


def queue_configured(queue: str, at: int = 0, weight: float = 1.0) -> ev.QueueConfigured:
    return ev.QueueConfigured(envelope=_env("QueueConfigured", f"queue-{queue}-{at}", at), queue=queue,
                              weight=weight, priority=0, quotas=())


def task_submitted(task_id: str, queue: str, cpu: int, mem: int, gpus: int, milli: int, at: int,
                   models: tuple[str, ...] = (), replicas: int = 1, priority: int = 0,
                   preemptible: bool = False) -> ev.TaskSubmitted:
    member = ev.GangMember(name="main", replicas=replicas, cpu_milli=cpu, memory_mib=mem, gpu_count=gpus,
                           gpu_milli=milli)
    return ev.TaskSubmitted(envelope=_env("TaskSubmitted", f"submit-{task_id}", at, task_id), task_id=task_id,
                            queue=queue, priority=priority, workload_type=ev.WorkloadType.BATCH,
                            preemptible=preemptible, members=(member,), gpu_models=models,
                            topology=ev.TopologyRequirement.NONE, expected_duration_ms=None)


def task_finished(task_id: str, at: int) -> ev.TaskFinished:
    return ev.TaskFinished(envelope=_env("TaskFinished", f"finish-{task_id}-{at}", at, task_id), task_id=task_id,
                           outcome=ev.TaskOutcome.SUCCEEDED, exit_code=0)


def task_cancelled(task_id: str, at: int) -> ev.TaskCancelled:
    return ev.TaskCancelled(envelope=_env("TaskCancelled", f"cancel-{task_id}-{at}", at, task_id),
                            task_id=task_id, reason="bench")


def openb_inputs(nodes: Sequence[TraceNode], pods: Sequence[TracePod], seed: int, arrive: float,
                 finish_every: int = 0) -> list[Any]:
    """Scheduling inputs of the OpenB placement run: every node, one queue, the seeded arrivals up to
    ``arrive`` x GPU capacity; with ``finish_every`` > 0, every k-th submitted task later finishes
    (TaskFinished ``finish_every`` inputs later: capacity frees and pending tasks are retried)."""
    rng = random.Random(seed)
    capacity = sum(n.gpus for n in nodes) * 1000
    out: list[Any] = [node_registered(n.name, n.cpu_milli, n.memory_mib, n.gpus, n.model,
                                      rack=f"rack-{i // 16}") for i, n in enumerate(nodes)]
    out.append(queue_configured(QUEUE))
    for k, a in enumerate(arrivals(pods, capacity, arrive, rng)):
        p, at = a.pod, 1_000 * (k + 1)
        out.append(task_submitted(a.task_id, QUEUE, p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, at,
                                  p.gpu_spec))
        if finish_every and k >= finish_every and k % finish_every == 0:
            out.append(task_finished(f"{out[-1 - finish_every].task_id}", at + 1)
                       if isinstance(out[-1 - finish_every], ev.TaskSubmitted) else task_cancelled(a.task_id, at + 1))
    return out


def synthetic_inputs(n_nodes: int, n_tasks: int, seed: int) -> list[Any]:
    """A small mixed workload for tests: nodes, two queues, GPU/fractional/CPU tasks, gangs, finishes,
    cancellations, a finish of an unknown task (a TaskRejected) and a node update, all seeded."""
    rng = random.Random(seed)
    out: list[Any] = [node_registered(f"n{i:03d}", 32_000, 128_000, rng.choice((2, 4, 8)),
                                      rng.choice(("A100", "V100")), rack=f"r{i % 3}") for i in range(n_nodes)]
    out += [queue_configured("qa"), queue_configured("qb", weight=2.0)]
    live: list[str] = []
    for k in range(n_tasks):
        at = 1_000 * (k + 1)
        roll = rng.random()
        if roll < 0.35 and live:
            out.append(task_finished(live.pop(rng.randrange(len(live))), at))
        elif roll < 0.4 and live:
            out.append(task_cancelled(live.pop(rng.randrange(len(live))), at))
        elif roll < 0.42:
            out.append(task_finished(f"ghost-{k}", at))
        else:
            gpus = rng.choice((0, 1, 1, 2, 4))
            milli = rng.choice((250, 500, 1000)) if gpus == 1 else (1000 if gpus else 0)
            task_id = f"t{k:05d}"
            out.append(task_submitted(task_id, rng.choice(("qa", "qb")), rng.choice((1000, 4000, 8000)), 8_000,
                                      gpus, milli, at, replicas=rng.choice((1, 1, 1, 2))))
            live.append(task_id)
    return out


# ------------------------------------------------------------------------------------ benchmark
def publish(bootstrap: str, codec: EventCodec, topic: str, events: Sequence[Any]) -> None:
    producer = RawProducer(bootstrap)
    for e in events:
        producer.send(topic, key_for(e), codec.encode(e))
    producer.flush()


def bench_topics(run: str) -> tuple[str, str, str]:
    base = f"bench-{run}"
    return f"{base}.inputs", f"{base}.decisions", f"{base}.checkpoints"


def create_topics(bootstrap: str, inputs: str, decisions: str, checkpoints: str) -> None:
    specs = [TopicSpec(inputs, ("TaskSubmitted",), "task_id", 1, "bench inputs"),
             TopicSpec(decisions, (), "task_id", 1, "bench decisions"),
             TopicSpec(checkpoints, (), "", 1, "bench checkpoints", cleanup_policy="compact")]
    ensure_topics(bootstrap, specs)


def in_process(codec: EventCodec, inputs: Sequence[Any], config: SchedulerConfig) -> dict[str, float]:
    """The same inputs through decode -> core -> encode with no Kafka: the ceiling the shell runs under."""
    records = [codec.encode(e) for e in inputs]
    processor = scheduler_processor(config)
    state, decisions = processor.initial_state(), 0
    t0, c0 = time.perf_counter(), time.process_time()
    for record in records:
        state, outputs = processor.step(state, codec.decode(record))
        decisions += sum(1 for o in outputs if codec.encode(o))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"in_process_decisions_per_s": decisions / wall, "in_process_cpu_s": cpu, "in_process_wall_s": wall}


def through_kafka(bootstrap: str, codec: EventCodec, inputs: Sequence[Any], config: SchedulerConfig,
                  checkpoint_every: int, runtime: str) -> dict[str, Any]:
    """Publish ``inputs`` to fresh topics, then run the processor shell over them until idle."""
    t_in, t_out, t_cp = bench_topics(uuid.uuid4().hex[:10])
    create_topics(bootstrap, t_in, t_out, t_cp)
    t0 = time.perf_counter()
    publish(bootstrap, codec, t_in, inputs)
    publish_s = time.perf_counter() - t0
    processor = scheduler_processor(config, inputs=(t_in,), output=t_out)
    shell = KafkaShell(processor, codec, ShellConfig(bootstrap, checkpoint_topic=t_cp,
                                                     checkpoint_every=checkpoint_every, idle_timeout=0.5))
    t1, c1 = time.perf_counter(), time.process_time()
    if runtime == "faust":
        with tempfile.TemporaryDirectory(prefix="agentic-bench-faust-") as datadir:
            stats = run_faust(shell, Path(datadir), until_idle=True)
    else:
        stats = shell.run(until_idle=True)
    wall = time.perf_counter() - t1  # recovery, start-up (faust: group join), processing, idle wait, stop
    cpu = time.process_time() - c1
    # from the first input received to the last one handled; the final flush and checkpoint follow
    processing = max(stats.processing_s, 1e-9)
    return {"runtime": runtime, "inputs": stats.inputs, "decisions": stats.outputs, "checkpoints": stats.checkpoints,
            "publish_events_per_s": len(inputs) / publish_s, "processing_s": processing, "wall_s": wall,
            "process_cpu_s": cpu, "decisions_per_s": stats.outputs / processing,
            "inputs_per_s": stats.inputs / processing, "topics": [t_in, t_out, t_cp]}


def run(bootstrap: str, codec: EventCodec, nodes_csv: Path, pods_csv: Path, seed: int, arrive: float,
        checkpoint_every: int, policy: str = "frag",
        runtimes: Sequence[str] = ("faust", "confluent")) -> dict[str, Any]:
    """Each runtime on its own fresh topics, then the in-process baseline, all in the same process."""
    nodes, pods = load_nodes(nodes_csv), load_pods(pods_csv)
    inputs = openb_inputs(nodes, pods, seed, arrive)
    config = SchedulerConfig(placement=policy, seed=seed)
    runs = {r: through_kafka(bootstrap, codec, inputs, config, checkpoint_every, r) for r in runtimes}
    baseline = in_process(codec, inputs, config)
    best = max(runs.values(), key=lambda r: float(r["decisions_per_s"]))
    return {"bench": "scheduler-kafka", "policy": policy, "seed": seed, "arrive": arrive, "nodes": len(nodes),
            "inputs": len(inputs), "checkpoint_every": checkpoint_every, "decisions_per_s": best["decisions_per_s"],
            "best_runtime": best["runtime"], **baseline, "runtimes": runs}
