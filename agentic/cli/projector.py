"""`agentic projector run|status`: the ClickHouse projector process and its lag."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

import click
import structlog
from rich.console import Console
from rich.table import Table

from agentic.config import Settings
from agentic.connectors.clickhouse import ClickHouseUnavailable, QueryEndpoint, connect_sql, live_endpoint, open_client
from agentic.connectors.kafka import ensure_topics
from agentic.connectors.kafka_positions import end_offsets
from agentic.connectors.registry import RegistrySchemaIds, SchemaRegistry
from agentic.projections.clickhouse.projector import EVENT_TOPICS, GROUP_ID, Progress, Projector, ProjectorConfig
from agentic.projections.clickhouse.sink import ClickHouseSink
from agentic.schemas.topics import TOPICS

log = structlog.get_logger(__name__)


def build_projector(settings: Settings, config: ProjectorConfig | None = None) -> Projector:
    """The composition root of a projector: chDB/server client, registry ids, sink, consumer."""
    config = config or ProjectorConfig()
    try:
        client = open_client(settings)
    except ClickHouseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    if config.topics == EVENT_TOPICS:
        ensure_topics(settings.kafka_bootstrap)
    ids = RegistrySchemaIds(SchemaRegistry(settings.registry_url), TOPICS)
    return Projector(settings.kafka_bootstrap, ClickHouseSink(client, config.database), ids, config)


class _Stop:
    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def __call__(self) -> bool:
        return self.requested


@click.group("projector")
def projector() -> None:
    """The ClickHouse projector: every event topic into the `agentic` database."""


@projector.command("run")
@click.option("--until-caught-up", is_flag=True, help="Exit once every partition is projected (lag 0).")
@click.option("--batch", "batch_records", default=50_000, show_default=True, help="Records per insert batch.")
@click.option("--topic", "topics", multiple=True, help="Only these topics (default: every event topic).")
@click.option("--group", default=GROUP_ID, show_default=True, help="Consumer group for committed offsets (lag).")
@click.option("--workers", type=int, help="Decoding processes (0: none; default: 0 with the C row encoder, else 2).")
@click.option("--endpoint-port", default=0, show_default=True,
              help="Loopback port of the SQL endpoint for other commands (0: any free port).")
@click.pass_obj
def run(settings: Settings, until_caught_up: bool, batch_records: int, topics: tuple[str, ...], group: str,
        workers: int | None, endpoint_port: int) -> None:
    """Consume every event topic into ClickHouse; offsets are committed after each insert."""
    config = ProjectorConfig(topics=topics or EVENT_TOPICS, group_id=group, batch_records=batch_records,
                             workers=workers, registry_url=settings.registry_url)
    proj = build_projector(settings, config)
    endpoint = QueryEndpoint(settings, endpoint_port).start() if settings.clickhouse_url is None else None
    stop = _Stop()
    started = time.monotonic()
    last = [0.0]

    def report(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0:
            last[0] = now
            log.info("projector.progress", records=p.records, batches=p.batches, lag=p.lag,
                     events_per_s=round(p.records / max(now - started, 1e-9)), retries=p.retries,
                     last_error=p.last_error or None)

    try:
        progress = proj.run(stop, on_batch=report, until_caught_up=until_caught_up)
    finally:
        proj.close()
        if endpoint is not None:
            endpoint.stop()
    click.echo(f"projected {progress.records} records in {progress.batches} batches; lag {progress.lag}")


@projector.command("status")
@click.pass_obj
def status(settings: Settings) -> None:
    """Per partition: projected up to, end of the topic, lag; and whether a projector runs."""
    port = connect_sql(settings)
    try:
        rows = port.query("SELECT topic, partition, max(offset) + 1 FROM agentic.events "
                          "GROUP BY topic, partition").rows
    except Exception as exc:  # no table yet: nothing projected
        log.debug("projector.status.no_events", error=str(exc))
        rows = ()
    finally:
        port.close()
    done = {(str(t), int(p)): int(o) for t, p, o in rows}
    ends = end_offsets(settings.kafka_bootstrap, EVENT_TOPICS)
    table = Table(title="ClickHouse projection lag")
    for col in ("topic", "partition", "projected", "end", "lag"):
        table.add_column(col, justify="left" if col == "topic" else "right")
    for (topic, partition), end in sorted(ends.items()):
        at = done.get((topic, partition), 0)
        table.add_row(topic, str(partition), str(at), str(end), str(max(0, end - at)))
    Console(width=None if sys.stdout.isatty() else 140).print(table)
    total = sum(max(0, e - done.get(tp, 0)) for tp, e in ends.items())
    running = live_endpoint(settings) if settings.clickhouse_url is None else settings.clickhouse_url
    click.echo(f"total lag {total}; projector {'running at ' + running if running else 'not running'}")
