"""`agentic report NAME`: the named reports shipped as SQL files in `agentic.projections.reports`."""

from __future__ import annotations

from importlib import resources

import click

from agentic.cli.sql import FORMATS, render, run_query
from agentic.config import Settings

REPORTS = ("utilization", "queues", "tenants", "tools", "models")


def report_sql(name: str) -> str:
    return resources.files("agentic.projections.reports").joinpath(f"{name}.sql").read_text()


@click.command("report")
@click.argument("name", type=click.Choice(REPORTS))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_obj
def report(settings: Settings, name: str, fmt: str) -> None:
    """Print a named report: utilization (GPU over time), queues (waits), tenants (usage), tools (audit),
    models (routing and cost per model)."""
    text = report_sql(name)
    title = next((ln.lstrip("- ").strip() for ln in text.splitlines() if ln.startswith("--")), name)
    click.echo(render(run_query(settings, text), fmt, title=title))
