"""Decoding and row mapping of raw Kafka records in worker processes (the Python-heavy part of a projection).

The parent reads Kafka and inserts; workers turn chunks of raw records into `Encoded` insert payloads
(JSONCompactEachRow bytes per table). Chunks come back in the order they were sent, so the sink sees the
same rows in the same order as with `workers=0` (everything in-process), and the same checksums.
Workers are started with the ``spawn`` method: the parent runs chDB's threads, which must not be forked.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agentic.schemas.errors import DecodeError

from . import rowgen
from .decode import DictDecoder
from .rows import SourceRecord, event_row
from .sink import Encoded, Position, event_line, raw_line

RawRecord = tuple[str, int, int, bytes | None, bytes | None]  # topic, partition, offset, key, value
Keep = Callable[[SourceRecord], bool]

_DECODER: DictDecoder | None = None


def default_workers() -> int:
    """Decoding processes by default: none with the compiled row encoder (~1 µs per record in this process:
    shipping records to workers and lines back costs more), else two (this machine class has 2 cores)."""
    return 0 if rowgen.AVAILABLE else min(2, os.cpu_count() or 1)


def encode_chunk(decoder: DictDecoder, raws: Iterable[RawRecord], keep: Keep | None = None) -> Encoded:
    """Decode and encode one chunk, one record at a time; records `keep` refuses still advance the positions.

    Each decoded event dies as soon as its line is written: holding a batch of decoded dicts made
    Python's cyclic garbage collector rescan them, which cost more than the decoding itself."""
    if keep is None and rowgen.AVAILABLE:
        return _encode_fast(decoder, raws if isinstance(raws, list) else list(raws))
    seen: dict[Position, int] = {}
    record, decode = decoder.record, decoder.decode
    lines: list[bytes] = []
    n = 0
    for topic, partition, offset, key, value in raws:
        n += 1
        seen[(topic, partition)] = offset + 1
        if keep is None and value is not None:  # the projector's path: no SourceRecord unless undecodable
            try:
                lines.append(event_line(event_row(topic, partition, offset, key, decode(value))))
                continue
            except DecodeError:
                pass
        rec = record(topic, partition, offset, key, value)
        if keep is None or keep(rec):
            lines.append(raw_line(rec))
    return Encoded.of_lines(lines, seen, n)


def _encode_fast(decoder: DictDecoder, raws: list[RawRecord]) -> Encoded:
    """The C encoder's lines (`rowgen`); records it refuses (or without a program yet) by the Python path."""
    blob, refused, seen = rowgen.encode_blob(decoder.programs, raws)
    if refused and decoder.resolve(raws[i][4] for i in refused):  # new schema ids: again with their programs
        blob, refused, seen = rowgen.encode_blob(decoder.programs, raws)
    if refused:  # rare (the first record of a schema id, undecodable ones): the lines, with theirs inserted
        lines = blob.split(b"\n") if blob else []  # JSON lines hold no raw newline
        for i in refused:  # ascending: each lands at its own index
            lines.insert(i, _python_line(decoder, *raws[i]))
        return Encoded.of_lines(lines, seen, len(raws))
    return Encoded({"events": [blob]} if blob else {}, seen, len(raws), len(raws))


def _python_line(decoder: DictDecoder, topic: str, partition: int, offset: int, key: bytes | None,
                 value: bytes | None) -> bytes:
    """Today's path for one record: decode with cavro, row, orjson (an `Undecodable` row if it fails)."""
    if value is not None:
        try:
            return event_line(event_row(topic, partition, offset, key, decoder.decode(value)))
        except DecodeError:
            pass
    return raw_line(decoder.record(topic, partition, offset, key, value))


def _init_worker(registry_url: str) -> None:
    global _DECODER
    from agentic.connectors.registry import RegistrySchemaIds, SchemaRegistry
    from agentic.schemas.topics import TOPICS

    _DECODER = DictDecoder(RegistrySchemaIds(SchemaRegistry(registry_url), TOPICS))


def _ready(_: int) -> bool:
    return _DECODER is not None


def _work(args: tuple[list[RawRecord], Keep | None]) -> Encoded:
    assert _DECODER is not None, "worker not initialised"
    return encode_chunk(_DECODER, args[0], args[1])


@dataclass
class ChunkMapper:
    """Maps chunks in `workers` processes (0: in this process with `decoder`)."""

    decoder: DictDecoder
    registry_url: str
    workers: int = 0
    chunk: int = 5_000
    _pool: Any = field(default=None, init=False, repr=False)

    def __enter__(self) -> ChunkMapper:
        if self.workers > 0:
            ctx = mp.get_context("spawn")
            self._pool = ctx.Pool(self.workers, initializer=_init_worker, initargs=(self.registry_url,))
            self._pool.map(_ready, range(self.workers), chunksize=1)  # imports and registry client done
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def map(self, raws: list[RawRecord], keep: Keep | None = None) -> Encoded:
        """All of `raws` as one `Encoded` (chunks mapped in parallel, merged in order)."""
        if self._pool is None or len(raws) <= self.chunk:
            return encode_chunk(self.decoder, raws, keep)
        parts = [raws[i:i + self.chunk] for i in range(0, len(raws), self.chunk)]
        return Encoded.merge(self._pool.map(_work, [(p, keep) for p in parts]))

    def map_async(self, raws: list[RawRecord], keep: Keep | None = None) -> Pending:
        """Start mapping `raws` in the workers and return at once (in-process: mapped before returning)."""
        if self._pool is None or len(raws) <= self.chunk:
            return Pending(done=encode_chunk(self.decoder, raws, keep))
        parts = [raws[i:i + self.chunk] for i in range(0, len(raws), self.chunk)]
        return Pending(result=self._pool.map_async(_work, [(p, keep) for p in parts]))


@dataclass
class Pending:
    """A batch being mapped: `get()` waits for it (pipelining: insert one batch while the next is mapped)."""

    done: Encoded | None = None
    result: Any = None

    def get(self) -> Encoded:
        if self.done is None:
            self.done = Encoded.merge(self.result.get())
        return self.done
