"""`agentic sql "SELECT ..."`: SQL on the ClickHouse projection, printed as a table, JSON or CSV.

The query runs on the configured server, else through the running projector's loopback endpoint (it owns
the chDB folder), else on the chDB folder opened by this process.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import sys
import uuid
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from agentic.config import Settings
from agentic.connectors.clickhouse import ClickHouseQueryError, ClickHouseUnavailable, QueryResult, connect_sql

FORMATS = ("table", "json", "csv")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def render(result: QueryResult, fmt: str, title: str | None = None) -> str:
    """`result` as text in `fmt` (table, json: a list of objects, csv with a header line)."""
    if fmt == "json":
        return json.dumps([dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows],
                          indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_plain(v) for v in row] for row in result.rows)
        return buf.getvalue().rstrip("\n")
    table = Table(title=title, show_lines=False)
    for col in result.columns:
        table.add_column(col, overflow="fold")
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(table)
    return console.export_text().rstrip("\n") + f"\n({len(result.rows)} rows)"


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    plain = _plain(value)
    return json.dumps(plain) if isinstance(plain, list | dict) else str(plain)


def run_query(settings: Settings, sql: str) -> QueryResult:
    try:
        port = connect_sql(settings)
    except ClickHouseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        return port.query(sql)
    except ClickHouseQueryError as exc:
        raise click.ClickException(f"ClickHouse refused the query: {str(exc)[:800]}") from exc
    except Exception as exc:  # clickhouse-connect's DatabaseError and friends carry ClickHouse's message
        raise click.ClickException(f"ClickHouse refused the query: {str(exc)[:800]}") from exc
    finally:
        port.close()


@click.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_obj
def sql(settings: Settings, query: str, fmt: str) -> None:
    """Run QUERY on the projection (database `agentic`: events, task_events, allocations, views...)."""
    click.echo(render(run_query(settings, query), fmt))
    sys.stdout.flush()
