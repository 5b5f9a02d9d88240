"""The event catalogue: the ``.avsc`` files of ``schemas/avro`` loaded and fully resolved.

Each event file names the shared envelope as ``agentic.events.Envelope``; :func:`resolved_schema`
inlines it, so every schema registered or used for encoding is self-contained (no registry
references). Reading package files is the only I/O here; results are cached.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

NAMESPACE = "agentic.events"
ENVELOPE_NAME = f"{NAMESPACE}.Envelope"
# Field properties of the catalogue that are not Avro: checked by the generated validators.
CONSTRAINT_KEYS = ("minimum", "maximum", "exclusiveMinimum", "minLength", "minItems", "allowed", "format")

Schema = dict[str, Any]


def _avro_dir() -> Any:
    return resources.files("agentic.schemas").joinpath("avro")


@cache
def event_types() -> tuple[str, ...]:
    """Every event type of the catalogue (record names), sorted."""
    names = (p.name.removesuffix(".avsc") for p in _avro_dir().iterdir() if p.name.endswith(".avsc"))
    return tuple(sorted(n for n in names if n != "Envelope"))


@cache
def _raw(name: str) -> str:
    return str(_avro_dir().joinpath(f"{name}.avsc").read_text(encoding="utf-8"))


def envelope_schema() -> Schema:
    return dict(json.loads(_raw("Envelope")))


@cache
def _resolved_json(event_type: str) -> str:
    if event_type not in event_types():
        raise KeyError(f"unknown event type {event_type!r}; known: {', '.join(event_types())}")
    schema = json.loads(_raw(event_type))
    first = schema["fields"][0]
    if first["name"] != "envelope" or first["type"] != ENVELOPE_NAME:
        raise ValueError(f"{event_type}.avsc: the first field must be 'envelope' of type {ENVELOPE_NAME}")
    first["type"] = envelope_schema()
    return json.dumps(schema, separators=(",", ":"))


def resolved_schema(event_type: str) -> Schema:
    """The full schema of an event type, envelope inlined, with docs, logical types and constraints:
    the form registered in the schema registry and kept in ``schemas/history``. A fresh copy."""
    return dict(json.loads(_resolved_json(event_type)))


def schema_json(event_type: str) -> str:
    """:func:`resolved_schema` as compact JSON text (what is sent to the registry)."""
    return _resolved_json(event_type)


def full_name(schema: Schema) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    return f"{schema.get('namespace', NAMESPACE)}.{name}"


def event_type_of(schema: Schema) -> str:
    """The event type a (writer) schema encodes: its record name without namespace."""
    return full_name(schema).rsplit(".", 1)[-1]


def stripped(schema: Any) -> Any:
    """The schema without docs, logical types and catalogue constraints: binary-identical, and
    what the codec hands to fastavro (no UUID/datetime conversions: ids stay ``str``, timestamps
    ``int`` ms)."""
    if isinstance(schema, list):
        return [stripped(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    drop = {"doc", "logicalType", "aliases", *CONSTRAINT_KEYS}
    out = {k: stripped(v) for k, v in schema.items() if k not in drop}
    if "fields" in schema:
        out["fields"] = [
            {k: (stripped(v) if k == "type" else v) for k, v in f.items() if k not in drop}
            for f in schema["fields"]
        ]
    if out.get("type") in ("string", "long", "int", "bytes", "fixed") and len(out) == 1:
        return out["type"]
    return out


def fingerprint_json(schema: Schema) -> str:
    """Stable text of the stripped schema: equal for schemas that read the same bytes the same way."""
    return json.dumps(stripped(copy.deepcopy(schema)), sort_keys=True, separators=(",", ":"))
