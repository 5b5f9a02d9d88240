"""ClickHouse adapter: one clickhouse-connect client, in-process chDB by default or a server over HTTP.

chDB facts this module is built around (checked with chdb 4.4 / clickhouse-connect 1.12):

- ``clickhouse_connect.get_client(interface="chdb", path=DIR)`` runs the ClickHouse 26.9 engine inside the
  process, with the same `Client` API as a server.
- Only ONE process may open a chDB data folder: a second one fails with
  ``Cannot lock file DIR/status. Another server instance in same directory is already running``.
  So the projector owns the folder and serves a small query endpoint on loopback (`QueryEndpoint`);
  other commands (`agentic sql`, reports, audit) go through it when it runs (`connect_sql`) and open
  the folder themselves when it does not.
- Several clients in one process may share the folder (one engine per process, one handle per client).

A ClickHouse server (``Settings.clickhouse_url``, e.g. ``http://user:pass@host:8123``) is reached through
the ordinary HTTP interface of the same client; nothing else changes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import clickhouse_connect
import httpx
import structlog
from clickhouse_connect.driver.client import Client

from agentic.config import Settings

log = structlog.get_logger(__name__)

DATABASE = "agentic"
ENDPOINT_FILE = "endpoint.json"


class ClickHouseUnavailable(RuntimeError):
    """ClickHouse (chDB folder or server) cannot be reached; the message says what to do."""


def chdb_dir(settings: Settings) -> Path:
    """The chDB data folder of this checkout: ``<state_dir>/clickhouse``."""
    return settings.state_dir / "clickhouse"


def open_client(settings: Settings, database: str | None = DATABASE) -> Client:
    """A client on the configured backend; creates `database` if missing and makes it the default."""
    try:
        client = _raw_client(settings)
    except Exception as exc:  # clickhouse-connect raises several unrelated types here
        raise ClickHouseUnavailable(_explain(settings, exc)) from exc
    if database:
        client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.database = database
    return client


def _raw_client(settings: Settings) -> Client:
    if settings.clickhouse_url:
        return clickhouse_connect.get_client(dsn=settings.clickhouse_url)
    folder = chdb_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(interface="chdb", path=str(folder))


def _explain(settings: Settings, exc: Exception) -> str:
    text = str(exc)
    if "Cannot lock file" in text:
        return (f"the chDB folder {chdb_dir(settings)} is open in another process (only one may open it). "
                "Stop that process, or query through the running projector's endpoint "
                f"({chdb_dir(settings) / ENDPOINT_FILE}).")
    where = settings.clickhouse_url or f"chDB folder {chdb_dir(settings)}"
    return f"cannot open ClickHouse at {where}: {text[:400]}"


# --------------------------------------------------------------------------------------- SQL port


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


class SqlPort(Protocol):
    """What read-only commands need: run SQL, get named columns and rows."""

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult: ...

    def raw(self, sql: str, fmt: str) -> bytes: ...

    def close(self) -> None: ...


class DirectSql:
    """SQL on a client this process opened (chDB folder or server)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        res = self.client.query(sql, parameters=parameters)
        return QueryResult(tuple(res.column_names), tuple(tuple(r) for r in res.result_rows))

    def raw(self, sql: str, fmt: str) -> bytes:
        return bytes(self.client.raw_query(sql, fmt=fmt))

    def close(self) -> None:
        self.client.close()


class EndpointSql:
    """SQL through a running projector's loopback endpoint (it owns the chDB folder)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)

    def raw(self, sql: str, fmt: str) -> bytes:
        resp = self._http.post("/query", params={"format": fmt}, content=sql.encode())
        if resp.status_code != 200:
            raise ClickHouseQueryError(resp.text)
        return resp.content

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        body = self._http.post("/query", params={"format": "JSONCompact"},
                               content=json.dumps({"sql": sql, "parameters": parameters or {}}).encode(),
                               headers={"content-type": "application/json"})
        if body.status_code != 200:
            raise ClickHouseQueryError(body.text)
        doc = json.loads(body.content)
        return QueryResult(tuple(m["name"] for m in doc["meta"]), tuple(tuple(r) for r in doc["data"]))

    def close(self) -> None:
        self._http.close()


class ClickHouseQueryError(RuntimeError):
    """ClickHouse rejected a query; the message is ClickHouse's own."""


def connect_sql(settings: Settings) -> SqlPort:
    """A server URL, else the running projector's endpoint, else the chDB folder opened here."""
    if settings.clickhouse_url is None:
        url = live_endpoint(settings)
        if url is not None:
            return EndpointSql(url)
    return DirectSql(open_client(settings))


def live_endpoint(settings: Settings) -> str | None:
    """The URL of the running projector's endpoint, if its file names a live process that answers."""
    path = chdb_dir(settings) / ENDPOINT_FILE
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
        url = str(info["url"])
        httpx.get(f"{url}/ping", timeout=2.0).raise_for_status()
        return url
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return None


# ------------------------------------------------------------------------------------ the endpoint


class QueryEndpoint:
    """A loopback HTTP endpoint that runs SQL on the projector's chDB engine for other processes.

    ``POST /query?format=F`` with the SQL as body returns ClickHouse's output in format F; a JSON body
    ``{"sql": ..., "parameters": {...}}`` binds server-side parameters. ``GET /ping`` answers ``ok``.
    Queries run on a client of their own, serialised by a lock (one query at a time).
    """

    def __init__(self, settings: Settings, port: int = 0) -> None:
        self._settings = settings
        self._client = open_client(settings)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="sql-endpoint", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> QueryEndpoint:
        self._thread.start()
        path = chdb_dir(self._settings) / ENDPOINT_FILE
        path.write_text(json.dumps({"url": self.url, "pid": os.getpid(), "started": time.time()}))
        log.info("sql_endpoint.started", url=self.url)
        return self

    def stop(self) -> None:
        path = chdb_dir(self._settings) / ENDPOINT_FILE
        path.unlink(missing_ok=True)
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def run_sql(self, sql: str, fmt: str, parameters: dict[str, Any] | None) -> bytes:
        with self._lock:
            return bytes(self._client.raw_query(sql, parameters=parameters, fmt=fmt))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(200, b"ok") if self.path == "/ping" else self._reply(404, b"not found")

            def do_POST(self) -> None:
                url = urlparse(self.path)
                if url.path != "/query":
                    self._reply(404, b"not found")
                    return
                fmt = parse_qs(url.query).get("format", ["TabSeparatedWithNames"])[0]
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                sql, params = _parse_body(body, self.headers.get("content-type", ""))
                try:
                    self._reply(200, endpoint.run_sql(sql, fmt, params))
                except Exception as exc:  # the caller gets ClickHouse's message, the endpoint goes on
                    self._reply(400, str(exc).encode())

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _parse_body(body: bytes, content_type: str) -> tuple[str, dict[str, Any] | None]:
    if content_type.startswith("application/json"):
        doc = json.loads(body)
        return str(doc["sql"]), dict(doc.get("parameters") or {}) or None
    return body.decode(), None


# ------------------------------------------------------------------------------------------ helpers


def insert_columns(client: Client, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]],
                   database: str | None = None) -> None:
    """Insert column-oriented data (one sequence per column) into `table` as one block."""
    client.insert(table, list(data), column_names=list(columns), database=database,
                  column_oriented=True)
