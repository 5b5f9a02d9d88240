"""`agentic replay --verify` and `agentic replay --until TIME|OFFSET`.

Replay writes shadow databases in the chDB folder, so it needs the folder: run it when no projector runs
(it says so otherwise). With a ClickHouse server it runs beside the projector.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

import click
import structlog
from rich.console import Console
from rich.table import Table

from agentic.config import Settings
from agentic.connectors.clickhouse import ClickHouseUnavailable, live_endpoint, open_client
from agentic.connectors.kafka_positions import end_offsets
from agentic.connectors.registry import RegistrySchemaIds, SchemaRegistry
from agentic.projections import replay as rp
from agentic.projections.clickhouse import schema
from agentic.projections.clickhouse.decode import DictDecoder
from agentic.projections.clickhouse.projector import EVENT_TOPICS
from agentic.projections.clickhouse.sink import ClickHouseSink
from agentic.schemas.topics import TOPICS

log = structlog.get_logger(__name__)
REBUILD_WORKERS = None  # decoding processes of a rebuild: `parallel.default_workers()` (0 with the C row encoder)


def parse_until(text: str, latest_ms: int) -> rp.Cutoff:
    """An integer is an offset (in every partition); else an ISO time, or HH:MM[:SS] on the UTC day of
    the latest projected event."""
    if text.isdigit():
        return rp.Cutoff(offset=int(text))
    try:
        if len(text) <= 8 and ":" in text:
            day = dt.datetime.fromtimestamp(latest_ms / 1000, tz=dt.UTC).date()
            moment = dt.datetime.combine(day, dt.time.fromisoformat(text), tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(text)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: give an offset (digits), an ISO time (2026-11-27T10:42:00Z) "
                                 "or HH:MM on the day of the latest event", param_hint="--until") from exc
    return rp.Cutoff(time_ms=int(moment.timestamp() * 1000))


def _exclusive_client(settings: Settings):  # type: ignore[no-untyped-def]
    if settings.clickhouse_url is None:
        running = live_endpoint(settings)
        if running is not None:
            raise click.ClickException(f"a projector is running ({running}) and owns the chDB folder; stop it "
                                       "(Ctrl-C or kill its pid) and run replay again")
    try:
        return open_client(settings)
    except ClickHouseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("replay")
@click.option("--verify", is_flag=True, help="Rebuild from offset 0 into agentic_shadow, compare with the live "
                                             "projection and re-derive the scheduler's decisions.")
@click.option("--until", "until", metavar="TIME|OFFSET", help="Rebuild the state as of a past moment into "
                                                             "agentic_asof and print the cluster allocations.")
@click.option("--decisions/--no-decisions", default=True, show_default=True,
              help="With --verify: also re-run the scheduler over its recorded inputs.")
@click.option("--limit", default=20, show_default=True, help="Differences to list per table.")
@click.pass_obj
def replay(settings: Settings, verify: bool, until: str | None, decisions: bool, limit: int) -> None:
    """Rebuild projections from the log: prove them (--verify) or look into the past (--until)."""
    if verify == (until is not None):
        raise click.UsageError("give exactly one of --verify or --until TIME|OFFSET")
    client = _exclusive_client(settings)
    ids = RegistrySchemaIds(SchemaRegistry(settings.registry_url), TOPICS)
    decoder = DictDecoder(ids)
    if verify:
        ok = run_verify(settings, client, decoder, ids, decisions, limit)
        sys.exit(0 if ok else 1)
    assert until is not None
    run_until(settings, client, decoder, until)


def run_verify(settings: Settings, client, decoder: DictDecoder, ids, decisions: bool,  # type: ignore[no-untyped-def]
               limit: int) -> bool:
    console = Console(width=None if sys.stdout.isatty() else 140)
    schema.create(client, schema.LIVE_DB)
    marks = ClickHouseSink(client, schema.LIVE_DB).watermarks()
    ends = end_offsets(settings.kafka_bootstrap, EVENT_TOPICS)
    lag = sum(max(0, e - marks.get(tp, 0)) for tp, e in ends.items())
    if lag:
        console.print(f"[yellow]the live projection is {lag} records behind Kafka; comparing the "
                      f"{sum(marks.values())} records it has[/yellow]")
    stats = rp.rebuild(client, settings.kafka_bootstrap, decoder, schema.SHADOW_DB, marks,
                       workers=REBUILD_WORKERS, registry_url=settings.registry_url)
    console.print(f"rebuilt {stats.records} records into {stats.database} in {stats.seconds:.1f}s "
                  f"({stats.events_per_s:,.0f} events/s)")
    checks = rp.compare(client, schema.LIVE_DB, schema.SHADOW_DB, limit)
    table = Table(title="projection checksums (live vs rebuilt from offset 0)")
    for col in ("table", "live rows", "rebuilt rows", "live checksum", "rebuilt checksum", "result"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.table, str(c.live[0]), str(c.rebuilt[0]), f"{c.live[1]:016x}", f"{c.rebuilt[1]:016x}",
                      "[green]equal[/green]" if c.ok else "[red]DIFFERS[/red]")
    console.print(table)
    for c in checks:
        for d in c.differences:
            console.print(f"[red]  {d.describe()}[/red]")
    ok = all(c.ok for c in checks)
    if decisions:
        ok = verify_scheduler(settings, ids, console, limit) and ok
    console.print("[bold green]replay verified[/bold green]" if ok else "[bold red]replay found differences[/bold red]")
    return ok


def verify_scheduler(settings: Settings, ids, console: Console, limit: int) -> bool:  # type: ignore[no-untyped-def]
    from agentic.schemas.codec import EventCodec

    try:
        from agentic.streams.scheduler.processor import scheduler_processor
    except ImportError as exc:
        console.print(f"[yellow]decision replay skipped: the scheduler processor is not installed ({exc})[/yellow]")
        return True
    proc = scheduler_processor()
    topics = (*proc.inputs, proc.output)
    ends = end_offsets(settings.kafka_bootstrap, topics)
    started = time.perf_counter()
    check = rp.verify_decisions(proc, EventCodec(ids, validate_on_decode=False),
                                rp.topic_records(settings.kafka_bootstrap, ends), limit)
    secs = time.perf_counter() - started
    colour = "green" if check.ok else "red"
    console.print(f"[{colour}]scheduler decisions: {check.inputs} inputs re-run in {secs:.1f}s; "
                  f"{check.recorded} recorded, {check.identical} byte-identical, {check.mismatch_count} "
                  f"different or missing; {check.ahead} not yet decided live[/{colour}]")
    if check.foreign:
        console.print(f"[yellow]  {check.foreign} records of {proc.output} were not written by the "
                      f"{proc.name} processor (no mark header): not compared[/yellow]")
    for m in check.mismatches:
        where = f"log offset {m.position}" if m.position >= 0 else "not in the log"
        console.print(f"[red]  decision {m.mark} ({where}): recorded {m.recorded} / re-derived "
                      f"{m.recomputed} ({m.cause})[/red]")
    return bool(check.ok)


def run_until(settings: Settings, client, decoder: DictDecoder, until: str) -> None:  # type: ignore[no-untyped-def]
    schema.create(client, schema.LIVE_DB)
    latest = client.query("SELECT max(occurred_at_ms) FROM agentic.events").result_rows[0][0] or 0
    cutoff = parse_until(until, int(latest))
    ends = end_offsets(settings.kafka_bootstrap, EVENT_TOPICS)
    stats = rp.rebuild(client, settings.kafka_bootstrap, decoder, rp.ASOF_DB, ends, cutoff,
                       workers=REBUILD_WORKERS, registry_url=settings.registry_url)
    console = Console(width=None if sys.stdout.isatty() else 140)
    when = (dt.datetime.fromtimestamp(cutoff.time_ms / 1000, tz=dt.UTC).isoformat() if cutoff.time_ms is not None
            else f"offset {cutoff.offset}")
    console.print(f"state as of {when}: {stats.kept} of {stats.records} events kept, in database "
                  f"{rp.ASOF_DB} (query it: agentic sql \"SELECT * FROM {rp.ASOF_DB}.allocation_intervals\")")
    for title, sql in AS_OF_QUERIES:
        res = client.query(sql.format(db=rp.ASOF_DB))
        table = Table(title=title)
        for col in res.column_names:
            table.add_column(col)
        for row in res.result_rows:
            table.add_row(*(str(v) for v in row))
        console.print(table)


AS_OF_QUERIES = (
    ("cluster allocations by GPU model",
     "SELECT n.gpu_model AS gpu_model, count() AS nodes, sum(n.gpu_count) AS gpus, "
     "round(sum(ifNull(a.milli, 0)) / 1000, 2) AS gpus_allocated, "
     "round(100 * sum(ifNull(a.milli, 0)) / nullIf(sum(n.gpu_count) * 1000, 0), 2) AS allocated_pct "
     "FROM {db}.node_capacity AS n LEFT JOIN (SELECT node_id, sum(gpu_milli) AS milli FROM "
     "{db}.allocation_intervals WHERE end_ms IS NULL GROUP BY node_id) AS a ON a.node_id = n.node_id "
     "WHERE n.removed = 0 GROUP BY gpu_model ORDER BY gpus DESC"),
    ("tasks by state", "SELECT state, count() AS tasks FROM {db}.task_latest GROUP BY state ORDER BY tasks DESC"),
    ("busiest nodes",
     "SELECT node_id, count() AS placements, sum(gpu_milli) AS gpu_milli, sum(cpu_milli) AS cpu_milli "
     "FROM {db}.allocation_intervals WHERE end_ms IS NULL GROUP BY node_id ORDER BY gpu_milli DESC LIMIT 10"),
)
