"""`agentic publish` and `agentic tail`: events in and out of Kafka from the shell."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from agentic.config import Settings
from agentic.connectors.kafka import DeadLetter, DeliveryError
from agentic.schemas.codec import EventValidationError, event_to_json
from agentic.sdk import AgenticClient, InvalidBatch, InvalidInput

EXIT_INVALID = 2
EXIT_DELIVERY = 3


def _json_lines(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for no, line in enumerate(fh, start=1):
            if line.strip():
                yield f"{path.name} line {no}", line


def _inputs(json_text: str | None, file: Path | None) -> list[tuple[str, str]]:
    if (json_text is None) == (file is None):
        raise click.UsageError("give exactly one of --json '{...}' or --file events.jsonl")
    if json_text is not None:
        return [("--json", json_text)]
    assert file is not None
    return list(_json_lines(file))


def _parse(where: str, text: str, event_type: str | None) -> tuple[str, dict[str, Any]]:
    """One JSON object -> (event type, fields). A line may name its type in `event_type`."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventValidationError("$", "valid JSON", f"{where}: not valid JSON ({exc.msg} at column "
                                   f"{exc.colno}); give one JSON object per line") from exc
    if not isinstance(obj, dict):
        raise EventValidationError("$", "JSON object", f"{where}: expected a JSON object, got "
                                   f"{type(obj).__name__}")
    kind = event_type or obj.pop("event_type", None) or (obj.get("envelope") or {}).get("event_type")
    if not kind:
        raise EventValidationError("event_type", "required", f"{where}: name the event type as the "
                                   "EVENT_TYPE argument or in an \"event_type\" field")
    return str(kind), obj


@click.command("publish")
@click.argument("event_type", required=False)
@click.option("--json", "json_text", help="One event as a JSON object (envelope fields may be left out).")
@click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON lines, one event per line; a line may carry its own \"event_type\".")
@click.option("--tenant", default="default", show_default=True, help="Tenant when the envelope gives none.")
@click.pass_obj
def publish(settings: Settings, event_type: str | None, json_text: str | None, file: Path | None,
            tenant: str) -> None:
    """Validate events, then publish them all (or nothing, when any is invalid)."""
    client = AgenticClient.connect(settings, source="cli")
    events, problems = [], []
    for where, text in _inputs(json_text, file):
        try:
            kind, fields = _parse(where, text, event_type)
            events.append(client.build(kind, fields, tenant=tenant))
        except EventValidationError as exc:
            problems.append(InvalidInput(where, exc))
    try:
        if problems:
            raise InvalidBatch(problems)
        acked = client.publish(events)
    except InvalidBatch as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    except DeliveryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_DELIVERY)
    click.echo(json.dumps({"published": acked}))


def _summary(event: Any) -> str:
    body = event_to_json(event)
    body.pop("envelope", None)
    text = json.dumps(body, separators=(",", ":"), default=str)
    return text if len(text) <= 160 else text[:157] + "..."


@click.command("tail")
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest record instead of new ones.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
@click.option("--idle-timeout", type=float, default=None,
              help="Stop after this many seconds without a new record (default: follow).")
@click.pass_obj
def tail(settings: Settings, topic: str, from_beginning: bool, limit: int | None, as_json: bool,
         idle_timeout: float | None) -> None:
    """Print decoded events of TOPIC; undecodable records are reported on stderr and skipped."""
    client = AgenticClient.connect(settings, source="cli")

    def bad(letter: DeadLetter) -> None:
        click.echo(f"undecodable record {letter.topic}[{letter.partition}]@{letter.offset}: {letter.reason}",
                   err=True)

    stream = client.tail(topic, from_beginning=from_beginning, limit=limit,
                         idle_timeout=idle_timeout if idle_timeout is not None else float("inf"),
                         on_bad_record=bad)
    for item in stream:
        if as_json:
            line = {"topic": item.topic, "partition": item.partition, "offset": item.offset,
                    "event_type": type(item.event).__name__, "event": event_to_json(item.event)}
            click.echo(json.dumps(line, default=str))
        else:
            env = item.event.envelope
            click.echo(f"{item.partition}@{item.offset} {env.event_type} tenant={env.tenant} "
                       f"{_summary(item.event)}")
