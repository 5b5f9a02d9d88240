"""ClickHouse needs no service by default: chDB runs in-process behind clickhouse-connect.

With ``Settings.clickhouse_url`` set, the same client talks HTTP to that server instead.
"""

from __future__ import annotations

from typing import Any

from agentic.config import Settings

NAME = "clickhouse"


def info(settings: Settings) -> dict[str, Any]:
    """The engine version the client reports (in-process chDB, or the configured server)."""
    import clickhouse_connect  # heavy import: only when status is asked for

    if settings.clickhouse_url:
        out: dict[str, Any] = {"mode": "server (HTTP)", "address": settings.clickhouse_url, "up": False}
        try:
            client = clickhouse_connect.get_client(dsn=settings.clickhouse_url)
        except Exception as exc:  # connection refused, auth, DNS: report, don't crash status
            return {**out, "error": str(exc)}
        return {**out, "up": True, "version": client.server_version}
    import chdb

    client = clickhouse_connect.get_client(interface="chdb")
    return {"mode": "chDB in-process (no service)", "up": True, "version": client.server_version,
            "chdb_version": chdb.__version__}
