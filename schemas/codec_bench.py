"""Codec micro-benchmark: ``python -m agentic.schemas.codec_bench [--events N] [--repeat R]``.

Prints JSON: per-event encode (validate + generated writer) and decode (fastavro reader +
generated from-dict + validation) times over a mixed, realistic sample of every event type, in
wall-clock and in CPU time of this process (the CPU figure is the one to compare on a busy,
shared machine). No services involved: the schema ids are static.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

from agentic.schemas.codec import EventCodec, StaticSchemaIds
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
