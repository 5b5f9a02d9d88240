"""Raw `events` rows straight from Confluent-framed Avro, in C: schema -> row program, and the fast encoder.

Today's path decodes a record with cavro into a dict, builds its raw row (`rows.event_row`) and dumps it
with orjson (`sink.event_line`). `_crows` (a C extension, ``_crows.c``) does the same in one pass over the
Avro body and writes the exact bytes of that line. What it runs is a *row program*: the event's Avro
schema compiled here into a flat byte code (node sizes, kinds, record keys already JSON-encoded and the
sorted order of every record's fields, enum symbols as JSON text). The C side interprets it.

Equal bytes by construction of the contract, held by tests (tests/unit/test_projection_rowgen.py):

- A program exists only for a writer schema whose fingerprint equals its event type's current schema
  (what cavro would then decode with that very schema) and that uses only the kinds compiled here.
  Any other schema id has no program: its records take the Python path, decided per schema id, so a live
  batch and a rebuild batch split the same way.
- The C encoder refuses (returns no line, and the record takes the Python path) whatever it cannot
  reproduce exactly or what cavro reads differently: invalid UTF-8, over-long or out-of-range varints,
  booleans other than 0/1, out-of-range enum or union indexes, negative block counts, duplicate map keys,
  trailing bytes, truncated bodies, floats whose orjson text it does not derive from ``repr``.
- Floats: orjson writes ``repr`` except for negative exponents (``1e-05`` -> ``0.00001``, ``1e-07`` ->
  ``1e-7``) and non-finite values (``null``); the C encoder applies exactly those two rules (checked
  against orjson over a million random doubles).

Without the compiled module (`AVAILABLE` false, or ``AGENTIC_PURE_PYTHON=1``) everything takes the
Python path: same bytes, more CPU.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from typing import Any

import orjson

try:  # the compiled twin; absent in a source tree that was not built
    from . import _crows  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _crows = None

PURE_PYTHON = os.environ.get("AGENTIC_PURE_PYTHON", "") == "1"
VERSION = 1  # of the program format; a module built for another one is not used
AVAILABLE = _crows is not None and not PURE_PYTHON and getattr(_crows, "FORMAT", None) == VERSION

# Node kinds (= the enum in _crows.c)
NULL, BOOLEAN, INT, LONG, FLOAT, DOUBLE, STRING, ENUM, ARRAY, MAP, UNION, RECORD = range(1, 13)
_PRIMITIVES = {"null": NULL, "boolean": BOOLEAN, "int": INT, "long": LONG, "float": FLOAT,
               "double": DOUBLE, "string": STRING}
MAX_FIELDS = 64  # the C encoder keeps a record's field spans on its stack
# The envelope as `rows.event_row` reads it: these fields, in this order, each written as its JSON value.
ENVELOPE = (("event_id", "string"), ("event_type", "string"), ("occurred_at", "long"), ("tenant", "string"),
            ("source", "string"), ("correlation_id", "string"), ("causation_id", ("null", "string")))


class Unsupported(Exception):
    """The schema uses something the row program does not compile: its records take the Python path."""


def _u32(n: int) -> bytes:
    return struct.pack("<I", n)


def _node(kind: int, body: bytes) -> bytes:
    return _u32(8 + len(body)) + _u32(kind) + body


def _json(text: str) -> bytes:
    return orjson.dumps(text)


def _full(name: str, namespace: str) -> str:
    return name if "." in name else f"{namespace}.{name}" if namespace else name


class _Compiler:
    def __init__(self) -> None:
        self.named: dict[str, bytes] = {}

    def node(self, schema: Any, ns: str) -> bytes:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _node(_PRIMITIVES[schema], b"")
            ref = self.named.get(_full(schema, ns))
            if ref is None:
                raise Unsupported(f"type {schema!r} is not a primitive or a named type defined before")
            return ref
        if isinstance(schema, list):
            return _node(UNION, _u32(len(schema)) + b"".join(self.node(s, ns) for s in schema))
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r} is not a name, a union or an object")
        kind = schema.get("type")
        if isinstance(kind, str) and kind in _PRIMITIVES:
            return _node(_PRIMITIVES[kind], b"")
        if kind == "array":
            return _node(ARRAY, self.node(schema["items"], ns))
        if kind == "map":
            return _node(MAP, self.node(schema["values"], ns))
        if kind == "enum":
            name = _full(schema["name"], schema.get("namespace", ns))
            symbols = [_json(str(s)) for s in schema["symbols"]]
            out = _node(ENUM, _u32(len(symbols)) + b"".join(_u32(len(s)) + s for s in symbols))
            self.named[name] = out
            return out
        if kind == "record":
            name = _full(schema["name"], schema.get("namespace", ns))
            out = self.record(schema["fields"], name.rpartition(".")[0])
            self.named[name] = out
            return out
        raise Unsupported(f"type {kind!r} has no row program (bytes, fixed and nested type objects do not)")

    def record(self, fields: Sequence[dict[str, Any]], ns: str) -> bytes:
        if len(fields) > MAX_FIELDS:
            raise Unsupported(f"a record of {len(fields)} fields (at most {MAX_FIELDS})")
        names = [str(f["name"]) for f in fields]
        if len(set(names)) != len(names):
            raise Unsupported("a record with two fields of one name")
        order = sorted(range(len(names)), key=lambda i: names[i].encode())  # orjson OPT_SORT_KEYS order
        body = b"".join(_u32(len(k)) + k + self.node(f["type"], ns)
                        for f, k in zip(fields, (_json(n) + b":" for n in names), strict=True))
        head = _u32(len(fields)) + _u32(int(order != list(range(len(names))))) + b"".join(_u32(i) for i in order)
        return _node(RECORD, head + body)


def compile_event(schema: dict[str, Any]) -> bytes:
    """The row program of a stripped event schema (`catalogue.stripped`): envelope first, then the payload.

    Raises `Unsupported` for anything it does not compile (the caller keeps the Python path)."""
    if schema.get("type") != "record" or not schema.get("fields"):
        raise Unsupported("an event schema is a record with fields")
    first, rest = schema["fields"][0], schema["fields"][1:]
    env = first.get("type")
    if first.get("name") != "envelope" or not isinstance(env, dict) or env.get("type") != "record":
        raise Unsupported("the first field is not the inlined envelope record")
    shape = tuple((f["name"], tuple(f["type"]) if isinstance(f["type"], list) else f["type"])
                  for f in env["fields"])
    if shape != ENVELOPE:
        raise Unsupported(f"envelope fields {shape} differ from the row's {ENVELOPE}")
    ns = schema.get("namespace", "") if "." not in schema["name"] else schema["name"].rpartition(".")[0]
    comp = _Compiler()
    envelope = comp.record(env["fields"], ns)
    return _u32(VERSION) + envelope + comp.record(rest, ns)


def program_or_none(schema: dict[str, Any]) -> bytes | None:
    """`compile_event`, or None when the schema is not compiled (its records take the Python path)."""
    if not AVAILABLE:
        return None
    try:
        return compile_event(schema)
    except (Unsupported, KeyError, TypeError):
        return None


def encode_blob(programs: dict[int, bytes], raws: Sequence[tuple[str, int, int, bytes | None, bytes | None]]
                ) -> tuple[bytes, list[int], dict[tuple[str, int], int]]:
    """Raw rows of `raws` by the C encoder as one JSONCompactEachRow blob: the encoded lines joined by
    newlines, the indexes of the records it left out (no program for their schema id, or refused: the caller
    puts their Python lines at those indexes), and the next offset per (topic, partition)."""
    assert _crows is not None, "rowgen.encode_blob needs the compiled _crows module"
    return _crows.encode_blob(programs, raws)  # type: ignore[no-any-return]
