"""`agentic stack up|down|status`: the project's own services on loopback, no Docker needed."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from agentic.config import Settings


def _names(only: str | None) -> list[str] | None:
    return None if only is None else [s for s in only.split(",") if s.strip()]


@click.group()
def stack() -> None:
    """Install (first use), start, inspect and stop Kafka, the schema registry and Weaviate."""


@stack.command()
@click.option("--only", default=None, metavar="NAMES",
              help="Comma-separated subset of kafka,registry,weaviate (default: all).")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for each service.")
@click.pass_obj
def up(settings: Settings, only: str | None, timeout: float) -> None:
    """Start the services (idempotent): Kafka, then the registry, then Weaviate."""
    from agentic.compose import stack as launcher
    from agentic.compose.process import StackError

    try:
        results = launcher.up(settings, _names(only), timeout=timeout)
    except (StackError, ValueError) as exc:
        click.echo(f"stack up failed: {exc}", err=True)
        sys.exit(1)
    for r in results:
        timing = "" if r.action == "already running" else f"install {r.install_s:.1f}s, ready {r.ready_s:.1f}s"
        click.echo(f"{r.service:9} {r.action:28} {r.version or '':8} pid={r.pid or '-'} {timing}".rstrip())
    click.echo(f"state (data, logs, pids): {settings.state_dir}")


@stack.command()
@click.option("--only", default=None, metavar="NAMES", help="Comma-separated subset (default: all).")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds between SIGTERM and SIGKILL.")
@click.pass_obj
def down(settings: Settings, only: str | None, timeout: float) -> None:
    """Stop the services `up` started from this state dir; their data stays."""
    from agentic.compose import stack as launcher

    try:
        stopped = launcher.down(settings, _names(only), timeout=timeout)
    except ValueError as exc:
        click.echo(f"stack down failed: {exc}", err=True)
        sys.exit(1)
    nothing = "nothing (no process started from this state dir)"
    click.echo(f"stopped: {', '.join(stopped) if stopped else nothing}")


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """What each service reports about itself; exit code 1 if one is down."""
    from agentic.compose import stack as launcher

    report = launcher.status(settings)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for name, entry in report.items():
            click.echo(_line(name, entry))
    sys.exit(0 if all(e.get("up") for e in report.values()) else 1)


def _line(name: str, entry: dict[str, Any]) -> str:
    state = "up" if entry.get("up") else "DOWN"
    skip = {"up", "started_by_launcher", "modules", "nodes", "log_file"}
    details = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in skip and v is not None)
    return f"{name:10} {state:4}  {details}"
