"""`agentic processor run|status` and `agentic cluster status`: the composition root of the processors.

Settings -> codec (schema registry) -> processor (pure core + config) -> Kafka shell. The scheduler runs
with the default `SchedulerConfig` unless told otherwise; replay must use the same configuration (the
processor's version string includes a digest of it, so checkpoints of another config are ignored).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

import click

from agentic.config import Settings
from agentic.schemas.topics import CHECKPOINTS, SCHEDULING_DECISIONS, SCHEDULING_INPUTS

PROCESSORS = ("scheduler",)


def _topic_options(f: Any) -> Any:
    f = click.option("--checkpoints", "checkpoint_topic", default=CHECKPOINTS.name, show_default=True,
                     help="Compacted checkpoint topic.")(f)
    f = click.option("--decisions", "output_topic", default=SCHEDULING_DECISIONS.name, show_default=True,
                     help="Output (decision) topic.")(f)
    f = click.option("--inputs", "input_topic", default=SCHEDULING_INPUTS.name, show_default=True,
                     help="Input topic (one partition).")(f)
    f = click.option("--placement", default="frag", show_default=True,
                     help="Scheduler placement policy (frag|fgd|bestfit|spread|random).")(f)
    return f


def _scheduler(placement: str, input_topic: str, output_topic: str) -> Any:
    from agentic.streams.scheduler import SchedulerConfig
    from agentic.streams.scheduler.processor import scheduler_processor

    try:
        config = SchedulerConfig(placement=placement)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--placement") from exc
    return scheduler_processor(config, inputs=(input_topic,), output=output_topic)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@click.group()
def processor() -> None:
    """Run stream processors over Kafka (exact resume after a crash) and inspect them."""


@processor.command("run")
@click.argument("name", type=click.Choice(PROCESSORS))
@click.option("--until-idle", is_flag=True, help="Stop once every input is processed (default: run forever).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=5_000, show_default=True,
              help="Write a checkpoint every N inputs.")
@click.option("--idle-timeout", type=float, default=3.0, show_default=True,
              help="With --until-idle: seconds without new input before stopping.")
@click.option("--runtime", type=click.Choice(["faust", "confluent"]), default="faust", show_default=True,
              help="faust-streaming agent (App/worker lifecycle) or a plain confluent-kafka loop; same pipeline.")
@_topic_options
@click.pass_obj
def run_cmd(settings: Settings, name: str, until_idle: bool, checkpoint_every: int, idle_timeout: float,
            runtime: str, placement: str, input_topic: str, output_topic: str, checkpoint_topic: str) -> None:
    """Run processor NAME: consume its inputs in order, publish its decisions, checkpoint its state."""
    from agentic import wiring
    from agentic.connectors.kafka import ensure_topics
    from agentic.streams.shell.kafka import KafkaShell, ShellConfig, VersionConflictError

    ensure_topics(settings.kafka_bootstrap)
    proc = _scheduler(placement, input_topic, output_topic)
    config = ShellConfig(settings.kafka_bootstrap, checkpoint_topic=checkpoint_topic,
                         checkpoint_every=checkpoint_every, idle_timeout=idle_timeout)
    try:
        shell = KafkaShell(proc, wiring.codec(settings), config)
    except ValueError as exc:
        click.echo(f"processor {name}: {exc}", err=True)
        sys.exit(2)
    try:
        if runtime == "faust":
            from agentic.streams.shell.faust_runtime import run_faust

            datadir = settings.state_dir / "faust" / name
            datadir.mkdir(parents=True, exist_ok=True)
            stats = run_faust(shell, datadir, until_idle=until_idle)  # the faust worker handles SIGTERM/SIGINT
        else:
            stats = shell.run(until_idle=until_idle, stop=_stop_on_signals())
    except VersionConflictError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except Exception as exc:
        if runtime != "faust":
            raise
        # after a failure faust can leave a non-daemon consumer thread running, and the interpreter would
        # wait for it forever at exit: report and leave now (nothing is pending: no checkpoint after a failure)
        click.echo(f"processor {name} failed: {exc!r}", err=True)
        sys.stderr.flush()
        os._exit(1)
    click.echo(json.dumps({"processor": name, "runtime": runtime, "version": proc.version, **stats.as_dict()}))


@processor.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_topic_options
@click.pass_obj
def status_cmd(settings: Settings, as_json: bool, placement: str, input_topic: str, output_topic: str,
               checkpoint_topic: str) -> None:
    """Where each processor stands: input end, committed offset, lag, last output mark, latest checkpoint."""
    from agentic.streams.shell.status import processor_status

    proc = _scheduler(placement, input_topic, output_topic)
    status = processor_status(settings.kafka_bootstrap, proc, checkpoint_topic)
    if as_json:
        click.echo(json.dumps(status))
        return
    for key, value in status.items():
        click.echo(f"{key:22} {value}")


@click.group()
def cluster() -> None:
    """The cluster as the scheduler sees it, rebuilt from its input log."""


@cluster.command("status")
@click.option("--from-checkpoint/--full-replay", default=True, show_default=True,
              help="Start from the latest checkpoint and fold the tail (faster; a task pending since before the "
                   "checkpoint gets the core's diagnosis now instead of its last TaskPending reason), or fold the "
                   "whole input log (exact reasons).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_topic_options
@click.pass_obj
def cluster_status_cmd(settings: Settings, from_checkpoint: bool, as_json: bool, placement: str, input_topic: str,
                       output_topic: str, checkpoint_topic: str) -> None:
    """Nodes, GPUs, allocated/free capacity per GPU model, pending tasks by reason, utilisation, fragmentation."""
    from agentic import wiring
    from agentic.streams.scheduler.processor import cluster_status, pending_reasons
    from agentic.streams.shell.kafka import state_at

    proc = _scheduler(placement, input_topic, output_topic)
    folded = state_at(proc, wiring.codec(settings), settings.kafka_bootstrap,
                      checkpoint_topic=checkpoint_topic if from_checkpoint else None)
    reasons, diagnosed = pending_reasons(proc, folded.state, [e.output for e in folded.tail])
    status = {"as_of_input_offset": folded.next_offset, "from_checkpoint": folded.checkpoint_offset,
              **cluster_status(proc, folded.state, reasons), "pending_reasons_diagnosed_now": diagnosed}
    if as_json:
        click.echo(json.dumps(status))
        return
    _print_cluster(status)


def _print_cluster(status: dict[str, Any]) -> None:
    click.echo(f"as of input offset {status['as_of_input_offset']} "
               f"(checkpoint {status['from_checkpoint']}, then the tail)")
    click.echo(f"nodes {status['nodes']} ({status['schedulable_nodes']} schedulable), GPUs {status['gpus']}, "
               f"tasks running {status['tasks_running']}, pending {status['tasks_pending']}")
    click.echo(f"GPU utilisation {status['gpu_utilisation']:.2%}, fragmentation {status['fragmentation_ratio']:.2%}")
    click.echo(f"{'model':12} {'gpus':>6} {'allocated':>12} {'free':>12}  (GPU milli)")
    for model, row in status["gpu_models"].items():
        click.echo(f"{model:12} {row['gpus']:>6} {row['allocated_milli']:>12} {row['free_milli']:>12}")
    for reason, count in status["pending_by_reason"].items():
        click.echo(f"pending {reason:28} {count}")
