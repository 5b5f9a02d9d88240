"""Where an output came from, carried in its record headers, and the rule that makes restarts exact.

Every output record of a processor carries ``agentic.processor``, ``agentic.source.topic``,
``agentic.source.partition``, ``agentic.source.offset`` and ``agentic.source.index`` (its index among the
outputs of that input). Outputs are written in ``(offset, index)`` order by one idempotent producer, so
the output partition always holds a prefix of the output sequence and its last record says exactly how
far it goes: on restart an output is sent iff its mark is after that last mark (`Mark.covers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PROCESSOR = "agentic.processor"
PROCESSOR_VERSION = "agentic.processor.version"
SOURCE_TOPIC = "agentic.source.topic"
SOURCE_PARTITION = "agentic.source.partition"
SOURCE_OFFSET = "agentic.source.offset"
SOURCE_INDEX = "agentic.source.index"

HeaderList = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """The position of one output: (input offset, index among that input's outputs). Ordered."""

    offset: int
    index: int

    def covers(self, offset: int, index: int) -> bool:
        """True when the output ``(offset, index)`` is at or before this mark (already written)."""
        return (offset, index) <= (self.offset, self.index)


NOTHING_WRITTEN = Mark(-1, -1)


def output_headers(processor: str, topic: str, partition: int, offset: int, index: int,
                   version: str | None = None) -> HeaderList:
    headers: HeaderList = [(PROCESSOR, processor.encode()), (SOURCE_TOPIC, topic.encode()),
                           (SOURCE_PARTITION, str(partition).encode()), (SOURCE_OFFSET, str(offset).encode()),
                           (SOURCE_INDEX, str(index).encode())]
    if version is not None:
        headers.append((PROCESSOR_VERSION, version.encode()))
    return headers


def version_of(headers: Sequence[tuple[str, bytes | None]] | None) -> str | None:
    """The processor version in an output record's headers (None for records written without one)."""
    for key, value in headers or []:
        if key == PROCESSOR_VERSION and value is not None:
            return value.decode()
    return None


def mark_of(headers: Sequence[tuple[str, bytes | None]] | None, processor: str) -> Mark | None:
    """The mark in an output record's headers, or None when the record was not written by ``processor``."""
    found = {k: v for k, v in (headers or []) if v is not None}
    if found.get(PROCESSOR) != processor.encode():
        return None
    try:
        return Mark(int(found[SOURCE_OFFSET]), int(found[SOURCE_INDEX]))
    except (KeyError, ValueError):
        return None
