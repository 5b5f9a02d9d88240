"""Codec micro-benchmark: ``python -m agentic.schemas.codec_bench [--events N] [--repeat R]``.

Prints JSON: per-event encode (validate + generated writer) and decode (generated reader +
validation) times over a mixed, realistic sample of every event type, in wall-clock and in CPU
time of this process (the CPU figure is the one to compare on a busy, shared machine), and the
decode split into stages, in CPU µs per event:

- ``read_cpu_us``: the generated reader alone (bytes -> typed, frozen event; no validation);
- ``validate_cpu_us``: the decode-side checks alone (field constraints, event type, cross-field rules);
- ``build_floor_cpu_us``: a floor for typed objects: the same object trees built from values that are
  already Python objects (strings, ints, tuples reused), the reader's own cheap construction, no parsing;
- ``cavro_parse_cpu_us``: a compiled reference: cavro (Cython) parsing the same bodies into plain dicts,
  strings left as bytes (its fastest setting), no typed objects and no checks.

No services involved: the schema ids are static.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import cavro

from agentic.events import _generated as gen
from agentic.schemas import catalogue
from agentic.schemas.codec import EventCodec, StaticSchemaIds
from agentic.schemas.rules import RULES
from agentic.schemas.samples import sample_events


def _best(fn: Callable[[Any], Any], items: Sequence[Any], repeat: int) -> tuple[float, float]:
    """Best (wall, cpu) seconds per item over ``repeat`` passes."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        for item in items:
            fn(item)
        wall = min(wall, (time.perf_counter() - w0) / len(items))
        cpu = min(cpu, (time.process_time() - c0) / len(items))
    return wall, cpu


def _builders() -> dict[type, Callable[[Any], Any]]:
    """Per record class, a straight-line function that builds a new object tree equal to its argument
    the way the generated reader builds one (slotted fill object, then ``__class__``), from values that
    are already there: what typed objects cost when parsing costs nothing."""
    lines: list[str] = []
    for cls in gen.RECORD_CLASSES.values():
        n = cls.__name__
        lines += [f"def build_{n}(s):", f"    o = _fill(gen._Fill_{n})"]
        for f in dataclasses.fields(cls):
            lines.append(f"    o.{f.name} = {_value(f's.{f.name}', f.type)}")
        lines += [f"    o.__class__ = gen.{n}", "    return o", ""]
    namespace: dict[str, Any] = {"gen": gen, "_fill": object.__new__}
    exec("\n".join(lines), namespace)  # benchmark-only code, generated from our own classes
    return {cls: namespace[f"build_{cls.__name__}"] for cls in gen.RECORD_CLASSES.values()}


def _value(expr: str, annotation: Any) -> str:
    text = str(annotation)
    for cls in gen.RECORD_CLASSES.values():
        n = cls.__name__
        if text in (n, f"{n} | None"):
            return f"build_{n}({expr})" if text == n else f"(None if {expr} is None else build_{n}({expr}))"
        if text == f"tuple[{n}, ...]":
            return f"tuple([build_{n}(v) for v in {expr}])"
    return expr


def _as_bytes(schema: Any) -> Any:
    """The schema with ``string`` read as ``bytes`` (same binary encoding; cavro reads bytes faster)."""
    if isinstance(schema, list):
        return [_as_bytes(s) for s in schema]
    if schema == "string":
        return "bytes"
    if not isinstance(schema, dict):
        return schema
    out = {k: _as_bytes(v) if k in ("type", "items", "values") else v for k, v in schema.items()}
    if "fields" in schema:
        out["fields"] = [{**f, "type": _as_bytes(f["type"])} for f in schema["fields"]]
    return out


def _cavro_parsers() -> dict[str, Callable[[bytes], Any]]:
    options = cavro.DEFAULT_OPTIONS.replace(record_decodes_to_dict=True)
    return {et: cavro.Schema(json.dumps(_as_bytes(catalogue.stripped(catalogue.resolved_schema(et)))),
                             options=options).binary_decode for et in catalogue.event_types()}


def _validate(event: Any) -> None:
    name = type(event).EVENT_TYPE
    gen.VCHK[name](event)
    if event.envelope.event_type != name:
        raise AssertionError(name)
    rule = RULES.get(name)
    if rule is not None:
        rule(event)


def stages(events: Sequence[Any], datas: Sequence[bytes], repeat: int) -> dict[str, float]:
    """CPU µs per event of each decode stage (see the module doc)."""
    reads = [(gen.READ[type(e).EVENT_TYPE], d) for e, d in zip(events, datas, strict=True)]
    builders = _builders()
    builds = [(builders[type(e)], e) for e in events]
    parsers = _cavro_parsers()
    bodies = [(parsers[type(e).EVENT_TYPE], d[5:]) for e, d in zip(events, datas, strict=True)]
    return {
        "read_cpu_us": round(_best(lambda rd: rd[0](rd[1], 5), reads, repeat)[1] * 1e6, 2),
        "validate_cpu_us": round(_best(_validate, events, repeat)[1] * 1e6, 2),
        "build_floor_cpu_us": round(_best(lambda b: b[0](b[1]), builds, repeat)[1] * 1e6, 2),
        "cavro_parse_cpu_us": round(_best(lambda b: b[0](b[1]), bodies, repeat)[1] * 1e6, 2),
        "call_overhead_cpu_us": round(_best(lambda b: None, builds, repeat)[1] * 1e6, 2),
    }


def run(n: int, repeat: int) -> dict[str, Any]:
    events = sample_events(n)
    codec = EventCodec(StaticSchemaIds())
    datas = [codec.encode(e) for e in events]
    enc_wall, enc_cpu = _best(codec.encode, events, repeat)
    dec_wall, dec_cpu = _best(codec.decode, datas, repeat)
    return {
        "events": n,
        "event_types": len({type(e) for e in events}),
        "mean_bytes": round(sum(map(len, datas)) / n, 1),
        "encode_us": round(enc_wall * 1e6, 2),
        "decode_us": round(dec_wall * 1e6, 2),
        "encode_cpu_us": round(enc_cpu * 1e6, 2),
        "decode_cpu_us": round(dec_cpu * 1e6, 2),
        "encode_events_per_s": round(1 / enc_wall),
        "decode_events_per_s": round(1 / dec_wall),
        "encode_events_per_cpu_s": round(1 / enc_cpu),
        "decode_events_per_cpu_s": round(1 / dec_cpu),
        "decode_stages": stages(events, datas, repeat),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=31_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.events, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
