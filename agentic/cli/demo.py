"""`agentic demo`: the main job. OpenB workload -> Kafka -> scheduler processor -> decisions -> ClickHouse,
with a progress bar, a short report, and `replay --verify` at the end.

The workload (`demo_workload`): the trace's tasks on a sample of its nodes (by default an eighth, so that
arrivals exceed capacity at the peak and queues wait), and the agents behind a share of the tasks: tool
calls through the policy engine and memory writes and recalls, drawn from a seeded RNG.

Needs the services up (`agentic stack up`; `./run demo` does both) and the chDB folder free (no
`agentic projector run` elsewhere: the demo runs the projector itself and serves the SQL endpoint while it
runs, so `agentic sql` works from another shell).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentic import wiring
from agentic.cli.demo_workload import (
    AgentConfig,
    agent_activity,
    load_nodes,
    load_pods,
    model_catalogue,
    sample_nodes,
    workload,
)
from agentic.cli.replay import run_verify
from agentic.config import Settings
from agentic.connectors.clickhouse import ClickHouseUnavailable, QueryEndpoint, live_endpoint, open_client
from agentic.connectors.kafka_positions import end_offsets
from agentic.projections.clickhouse.decode import DictDecoder
from agentic.projections.clickhouse.projector import EVENT_TOPICS, Projector, ProjectorConfig
from agentic.projections.clickhouse.sink import ClickHouseSink
from agentic.schemas.codec import EventCodec
from agentic.schemas.topics import SCHEDULING_DECISIONS, SCHEDULING_INPUTS

log = structlog.get_logger(__name__)
IDLE_TIMEOUT_S = 1.0


def default_data_dir() -> Path:
    return Path(os.environ.get("AGENTIC_OPENB_DIR", "../shared/data/openb")).expanduser().resolve()


@dataclass
class Figures:
    inputs: int = 0
    agent_events: int = 0
    published_s: float = 0.0
    decisions: int = 0
    scheduler_s: float = 0.0
    projected: int = 0
    projector_s: float = 0.0


def _run_scheduler(settings: Settings, ids: Any, stop: threading.Event, out: dict[str, Any]) -> None:
    from agentic.streams.scheduler.processor import scheduler_processor
    from agentic.streams.shell.kafka import KafkaShell, ShellConfig

    try:
        shell = KafkaShell(scheduler_processor(), EventCodec(ids), ShellConfig(settings.kafka_bootstrap,
                                                                               idle_timeout=IDLE_TIMEOUT_S))
        out["shell"] = shell
        out["stats"] = shell.run(until_idle=True, stop=stop)
    except Exception as exc:  # reported by the main thread, which then fails the demo
        out["error"] = exc
        log.exception("demo.scheduler_failed")


@click.command("demo")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="OpenB trace folder (default: $AGENTIC_OPENB_DIR or ../shared/data/openb).")
@click.option("--pods", default="openb_pod_list_default.csv", show_default=True,
              help="Pod lists of the trace, comma-separated (pod names get the list's suffix).")
@click.option("--nodes", default="openb_node_list_gpu_node.csv", show_default=True, help="Node list.")
@click.option("--span-minutes", default=60, show_default=True, help="The trace compressed into this much event time.")
@click.option("--median-share", default=0.35, show_default=True,
              help="The median pod runs this share of the span (durations keep the trace's proportions).")
@click.option("--limit", type=click.IntRange(min=1), default=1500, show_default=True,
              help="Only the first N pods of the list (the whole default list is 8,152).")
@click.option("--node-share", type=click.FloatRange(0.001, 1.0), default=0.09, show_default=True,
              help="Every k-th node of the trace (k = round(1/share)): with 1,500 pods, below ~0.1 the peak "
                   "demand exceeds capacity and tasks wait in their queues.")
@click.option("--agents", "agent_share", type=click.FloatRange(0.0, 1.0), default=0.6, show_default=True,
              help="Share of the tasks driven by an agent that calls tools and writes memories (0: none).")
@click.option("--seed", default=42, show_default=True, help="Seed of the agents' activity.")
@click.option("--verify/--no-verify", default=True, show_default=True, help="Run replay --verify at the end.")
@click.option("--stack-up/--no-stack-up", default=True, show_default=True,
              help="Start Kafka and the schema registry first if they do not answer (as `agentic stack up`).")
@click.pass_obj
def demo(settings: Settings, data_dir: Path | None, pods: str, nodes: str, span_minutes: int, median_share: float,
         limit: int, node_share: float, agent_share: float, seed: int, verify: bool, stack_up: bool) -> None:
    """Feed the OpenB workload through the scheduler and the projections, report, and verify by replay."""
    console = Console(width=None if sys.stdout.isatty() else 140)
    if stack_up:
        _services_up(settings, console)
    folder = data_dir or default_data_dir()
    pod_files = [folder / name.strip() for name in pods.split(",") if name.strip()]
    missing = [str(p) for p in [*pod_files, folder / nodes] if not p.exists()]
    if missing:
        raise click.ClickException(f"OpenB files not found: {', '.join(missing)}; pass --data-dir or set "
                                   "AGENTIC_OPENB_DIR")
    if settings.clickhouse_url is None and live_endpoint(settings):
        raise click.ClickException("an `agentic projector run` owns the chDB folder; stop it, the demo runs "
                                   "its own projector")
    try:
        client = open_client(settings)
    except ClickHouseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    run = time.strftime("d%H%M%S", time.gmtime())
    trace = [p for f in pod_files for p in load_pods(f, suffix=f.stem.removeprefix("openb_pod_list_"))][:limit]
    cluster = sample_nodes(load_nodes(folder / nodes), node_share)
    end_ms, span_ms = int(time.time() // 60 * 60_000), span_minutes * 60_000
    events = workload(run, cluster, trace, end_ms=end_ms, span_ms=span_ms, median_share=median_share)
    agent_cfg = AgentConfig(seed=seed, task_share=agent_share)
    agents = [*model_catalogue(run, end_ms - span_ms),
              *agent_activity(run, trace, end_ms, span_ms, median_share, agent_cfg)]
    console.print(f"[bold]demo run {run}[/bold]: {len(trace)} pods on {len(cluster)} nodes, {len(events)} "
                  f"scheduling inputs and {len(agents)} agent events (model, tool-call, memory) from "
                  f"{', '.join(p.name for p in pod_files)} ({span_minutes} min of event time, seed {seed})")
    ids = wiring.schema_ids(settings)
    event_codec = EventCodec(ids)
    producer = wiring.producer(settings, event_codec)
    endpoint = QueryEndpoint(settings).start() if settings.clickhouse_url is None else None
    figures = Figures(inputs=len(events), agent_events=len(agents))
    try:
        ok = _pipeline(settings, client, ids, producer, events, agents, figures, console)
        _report(client, run, figures, console)
        if verify:
            console.rule("replay --verify")
            ok = run_verify(settings, client, DictDecoder(ids), ids, decisions=True, limit=10) and ok
    finally:
        if endpoint is not None:
            endpoint.stop()
    sys.exit(0 if ok else 1)


def _services_up(settings: Settings, console: Console) -> None:
    """Kafka and the registry (what the demo needs; Weaviate is not used), started if they do not answer."""
    from agentic.compose import stack as launcher
    from agentic.compose.process import StackError

    try:
        results = launcher.up(settings, ["kafka", "registry"])
    except (StackError, ValueError) as exc:
        raise click.ClickException(f"could not bring the services up: {exc}; see `agentic stack status`") from exc
    for r in results:
        if r.action != "already running":
            console.print(f"{r.service}: {r.action} (install {r.install_s:.1f}s, ready {r.ready_s:.1f}s)")


def _pipeline(settings: Settings, client: Any, ids: Any, producer: Any, events: list[Any], agents: list[Any],
              fig: Figures, console: Console) -> bool:
    start_inputs = end_offsets(settings.kafka_bootstrap, (SCHEDULING_INPUTS.name,))
    started = time.perf_counter()
    for e in events:
        producer.publish(e)
    for e in agents:  # their own topics (agentic.tools, agentic.memory): no scheduling input waits for them
        producer.publish(e)
    producer.flush()
    fig.published_s = time.perf_counter() - started
    goal_inputs = sum(start_inputs.values()) + len(events)
    stop = threading.Event()
    sched: dict[str, Any] = {}
    thread = threading.Thread(target=_run_scheduler, args=(settings, ids, stop, sched), daemon=True)
    t0 = time.perf_counter()
    thread.start()
    config = ProjectorConfig(workers=None, registry_url=settings.registry_url)  # parallel.default_workers()
    proj = Projector(settings.kafka_bootstrap, ClickHouseSink(client, "agentic"), ids, config)
    proj.start()
    p0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        s_task = bar.add_task("scheduler: inputs decided", total=goal_inputs)
        p_task = bar.add_task("projector: records in ClickHouse", total=None)
        while True:
            proj.step()
            shell = sched.get("shell")
            if shell is not None:
                bar.update(s_task, completed=shell.stats.next_offset)
            if not thread.is_alive():
                fig.scheduler_s = fig.scheduler_s or time.perf_counter() - t0
                ends = end_offsets(settings.kafka_bootstrap, EVENT_TOPICS)
                bar.update(p_task, total=sum(ends.values()), completed=sum(proj.progress.positions.values()))
                if all(proj.progress.positions.get(tp, 0) >= e for tp, e in ends.items()):
                    break
            else:
                bar.update(p_task, completed=sum(proj.progress.positions.values()))
    fig.projector_s = time.perf_counter() - p0
    fig.projected = proj.progress.records
    proj.close()
    if "error" in sched:
        console.print(f"[red]scheduler failed: {sched['error']}[/red]")
        return False
    stats = sched["stats"].as_dict()
    fig.decisions = sched["stats"].outputs
    fig.scheduler_s = max(float(stats["elapsed_s"]) - IDLE_TIMEOUT_S, 1e-3)  # the shell waits that long to stop
    decisions_end = sum(end_offsets(settings.kafka_bootstrap, (SCHEDULING_DECISIONS.name,)).values())
    console.print(f"scheduler: {sched['stats'].inputs} inputs, {fig.decisions} decisions "
                  f"(decision log now {decisions_end}); projector: {fig.projected} records")
    return True


REPORT_SQL = {
    "utilisation": """
        SELECT round(100 * max(r), 1) AS peak_alloc_pct, round(100 * avg(r), 1) AS mean_alloc_pct,
               round(100 * argMax(r, minute), 1) AS final_alloc_pct
        FROM (SELECT minute, sum(sum(d)) OVER (ORDER BY minute) / {cap} AS r
              FROM (SELECT toStartOfMinute(fromUnixTimestamp64Milli(start_ms)) AS minute, gpu_milli AS d
                    FROM agentic.allocation_intervals WHERE startsWith(task_id, {run:String})
                    UNION ALL
                    SELECT toStartOfMinute(fromUnixTimestamp64Milli(assumeNotNull(end_ms))), -gpu_milli
                    FROM agentic.allocation_intervals WHERE startsWith(task_id, {run:String}) AND end_ms IS NOT NULL)
              GROUP BY minute)""",
    "queues": """
        SELECT a.queue AS queue, count() AS allocated, countIf(wait_ms > 0) AS waited,
               round(avg(wait_ms) / 1000, 1) AS avg_wait_s, round(quantileExact(0.5)(wait_ms) / 1000, 1) AS p50_wait_s,
               round(quantileExact(0.99)(wait_ms) / 1000, 1) AS p99_wait_s, round(max(wait_ms) / 1000, 1) AS max_wait_s,
               any(t.pending) AS tasks_pending_once, any(t.preemptions) AS preemptions
        FROM agentic.allocations AS a FINAL
        LEFT JOIN (SELECT queue, countIf(pending > 0) AS pending, sum(preempted) AS preemptions
                   FROM (SELECT task_id, anyIf(queue, state = 'SUBMITTED') AS queue,
                                countIf(state = 'PENDING') AS pending, countIf(state = 'PREEMPTED') AS preempted
                         FROM agentic.task_events FINAL WHERE startsWith(task_id, {run:String}) GROUP BY task_id)
                   GROUP BY queue) AS t ON t.queue = a.queue
        WHERE startsWith(a.task_id, {run:String}) AND a.idx = 0
        GROUP BY a.queue ORDER BY a.queue""",
    "tasks": """
        SELECT state, count() AS tasks FROM agentic.task_latest WHERE startsWith(task_id, {run:String})
        GROUP BY state ORDER BY tasks DESC""",
    "tool calls (audit)": """
        SELECT tool_name, count() AS calls, countIf(decision = 'ALLOW') AS allowed,
               countIf(decision = 'DENY') AS denied, countIf(decision = 'REQUIRE_APPROVAL') AS approval,
               countIf(status = 'SUCCEEDED') AS succeeded, countIf(status IN ('FAILED', 'TIMED_OUT')) AS failed,
               round(avgIf(duration_ms, status = 'SUCCEEDED')) AS avg_ok_ms
        FROM agentic.tool_call_audit WHERE startsWith(tool_call_id, {run:String})
        GROUP BY tool_name ORDER BY calls DESC""",
    "model routing and cost": """
        SELECT model_id, countIf(event_type = 'RouteDecided') AS routed,
               countIf(event_type = 'ModelCallCompleted' AND status = 'SUCCEEDED') AS succeeded,
               countIf(event_type = 'ModelCallCompleted' AND status != 'SUCCEEDED') AS failed_or_limited,
               sumIf(input_tokens, event_type = 'ModelCallCompleted') AS input_tokens,
               sumIf(output_tokens, event_type = 'ModelCallCompleted') AS output_tokens,
               round(sum(cost_usd_micros) / 1e6, 2) AS cost_usd,
               round(quantileExactIf(0.5)(latency_ms, event_type = 'ModelCallCompleted' AND status = 'SUCCEEDED'))
                   AS p50_latency_ms
        FROM agentic.model_events FINAL WHERE startsWith(request_id, {run:String})
        GROUP BY model_id ORDER BY routed DESC""",
    "memory operations": """
        SELECT event_type AS operation, memory_type, count() AS ops, uniqExact(agent_id) AS agents,
               round(avg(importance), 2) AS avg_importance_or_score
        FROM agentic.memory_ops FINAL WHERE startsWith(memory_id, {run:String})
        GROUP BY event_type, memory_type ORDER BY event_type, memory_type""",
}


def _report(client: Any, run: str, fig: Figures, console: Console) -> None:
    cap = client.query("SELECT sum(gpu_count) * 1000 FROM agentic.node_events FINAL WHERE event_type = "
                       "'NodeRegistered' AND startsWith(node_id, {run:String})",
                       parameters={"run": f"{run}-"}).result_rows[0][0] or 1
    console.rule(f"report of run {run}")
    for title, sql in REPORT_SQL.items():
        res = client.query(sql.replace("{cap}", str(int(cap))), parameters={"run": f"{run}-"})
        table = Table(title=title)
        for col in res.column_names:
            table.add_column(col)
        for row in res.result_rows:
            table.add_row(*(str(v) for v in row))
        console.print(table)
    console.print(
        f"published {fig.inputs} scheduling inputs and {fig.agent_events} agent events in {fig.published_s:.1f}s "
        f"({(fig.inputs + fig.agent_events) / max(fig.published_s, 1e-9):,.0f}/s); "
        f"scheduler {fig.decisions} decisions in {fig.scheduler_s:.1f}s "
        f"({fig.decisions / max(fig.scheduler_s, 1e-9):,.0f} decisions/s through Kafka, in one process with the "
        "projector; `agentic bench scheduler-kafka` measures its capacity); "
        f"projector {fig.projected} events in {fig.projector_s:.1f}s "
        f"({fig.projected / max(fig.projector_s, 1e-9):,.0f} events/s while following the scheduler; "
        "`agentic bench projections` measures its capacity)")
