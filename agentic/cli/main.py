"""The `agentic` command: the composition root of every CLI process.

Each command group lives in its own module of this package and is registered below by name, so
that `agentic --help` does not import Kafka, ClickHouse or Weaviate clients it does not need.
"""

from __future__ import annotations

import gc
import importlib

import click

from agentic.config import Settings
from agentic.logging import configure

# (module in agentic.cli, attribute): each attribute is a click command or group.
COMMANDS: list[tuple[str, str]] = [
    ("bench", "bench"),
    ("sql", "sql"),
    ("report", "report"),
    ("projector", "projector"),
    ("replay", "replay"),
    ("audit", "audit"),
    ("demo", "demo"),
    ("stack", "stack"),
    ("processor", "processor"),
    ("processor", "cluster"),
    ("events", "publish"),
    ("events", "tail"),
    ("memory", "memory"),
]


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when they are run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({attr.replace("_cmd", "").replace("_", "-") for _, attr in COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module, attr in COMMANDS:
            if attr.replace("_cmd", "").replace("_", "-") == cmd_name:
                cmd = getattr(importlib.import_module(f"agentic.cli.{module}"), attr)
                assert isinstance(cmd, click.Command)
                return cmd
        return None


@click.group(cls=LazyGroup)
@click.option("--log-format", type=click.Choice(["console", "json"]), default=None,
              help="Log lines as coloured console text or JSON (env AGENTIC_LOG_FORMAT).")
@click.pass_context
def cli(ctx: click.Context, log_format: str | None) -> None:
    """Agentic Infra: events on Kafka, deterministic processors, ClickHouse/Weaviate projections."""
    settings = Settings.from_env()
    configure(log_format or settings.log_format)
    ctx.obj = settings


def main() -> None:
    # Stream processing allocates many short-lived objects: collect the young generation 70x less often
    # (CPython's default of 700 allocations makes decoding a large batch trigger hundreds of collections).
    gc.set_threshold(50_000, 20, 20)
    cli()
