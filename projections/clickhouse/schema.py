"""Creating and dropping the projection's tables and views in a database (live or shadow)."""

from __future__ import annotations

from importlib import resources

from clickhouse_connect.driver.client import Client

from agentic.projections.clickhouse.rows import TABLES

LIVE_DB = "agentic"
SHADOW_DB = "agentic_shadow"
DDL_FILES = ("001_tables.sql", "002_views.sql", "003_mappings.sql")


def statements(database: str) -> list[str]:
    """The DDL statements for `database`, in order (comments dropped, `{db}` filled in)."""
    out: list[str] = []
    for name in DDL_FILES:
        text = resources.files("agentic.projections.clickhouse").joinpath("sql", name).read_text()
        lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
        out += [s.strip().replace("{db}", database) for s in "\n".join(lines).split(";") if s.strip()]
    return out


def create(client: Client, database: str = LIVE_DB, staged: bool = True) -> None:
    """The tables and views of `database`. `staged`: the typed views read `events_in` (the projector's crash
    protocol, see sink.py); else they read `events` itself, one parse per batch less, for a database that
    is rebuilt from scratch (a failed rebuild starts over) and never written by a projector."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for sql in statements(database):
        client.command(sql if staged else sql.replace(f"FROM {database}.events_in", f"FROM {database}.events"))


def drop(client: Client, database: str) -> None:
    if database == LIVE_DB:
        raise ValueError(f"database={database!r}: refusing to drop the live projection; "
                         "rebuild it with `agentic replay --rebuild` instead")
    client.command(f"DROP DATABASE IF EXISTS {database} SYNC")


def recreate(client: Client, database: str, staged: bool = True) -> None:
    drop(client, database)
    create(client, database, staged)


__all__ = ["LIVE_DB", "SHADOW_DB", "TABLES", "create", "drop", "recreate", "statements"]
