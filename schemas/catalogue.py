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


def _full_names(schema: Any, ns: str) -> Any:
    """Named types written with their full name and no ``namespace`` (registries may drop a nested
    type's namespace when it equals the enclosing one: same schema, different text)."""
    if isinstance(schema, list):
        return [_full_names(s, ns) for s in schema]
    if isinstance(schema, str):
        return schema if schema in _PRIMITIVES or "." in schema else f"{ns}.{schema}"
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if out.get("type") in ("record", "enum", "fixed"):
        name = full_name({"namespace": ns, **out})
        out.pop("namespace", None)
        out["name"] = name
        ns = name.rsplit(".", 1)[0]
    for key in ("type", "items", "values"):
        if key in out and not (key == "type" and isinstance(out[key], str) and out[key] in _KINDS):
            out[key] = _full_names(out[key], ns)
    if "fields" in out:
        out["fields"] = [{**f, "type": _full_names(f["type"], ns)} for f in out["fields"]]
    return out


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_KINDS = _PRIMITIVES | {"record", "enum", "fixed", "array", "map"}


def fingerprint_json(schema: Schema) -> str:
    """Stable text of the stripped schema with full names: equal for schemas that read the same bytes
    the same way, whatever the registry did to their text."""
    canonical = _full_names(stripped(copy.deepcopy(schema)), NAMESPACE)
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"))
