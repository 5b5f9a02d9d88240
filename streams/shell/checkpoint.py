"""Checkpoints: a processor's snapshot and the input position it covers, as one self-describing record.

Wire format of a checkpoint value (the key is the processor name, the topic is compacted):
``b"AGCP"`` + 4-byte big-endian length of a JSON header + the header (processor, version, topic,
partition, ``next_offset``: the first input NOT folded into the snapshot, ``sha256`` and ``size`` of the
snapshot) + the snapshot compressed with zlib. Pure: encoding and decoding only.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass

MAGIC = b"AGCP"
_LEN = struct.Struct(">I")


class CheckpointError(Exception):
    """A checkpoint record that cannot be used; the shell then replays from the first input."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """State of ``processor`` (``version``) after folding inputs ``[0, next_offset)`` of ``topic[partition]``.

    ``mark`` is the last output mark ``(offset, index)`` written when the checkpoint was taken: an output log
    that ends before it has lost records (deleted, truncated), and the checkpoint must not be trusted.
    """

    processor: str
    version: str
    topic: str
    partition: int
    next_offset: int
    mark: tuple[int, int]
    snapshot: bytes

    def encode(self) -> bytes:
        header = {
            "processor": self.processor, "version": self.version, "topic": self.topic,
            "partition": self.partition, "next_offset": self.next_offset, "mark": list(self.mark),
            "sha256": hashlib.sha256(self.snapshot).hexdigest(), "size": len(self.snapshot),
        }
        head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        return MAGIC + _LEN.pack(len(head)) + head + zlib.compress(self.snapshot, 6)

    @classmethod
    def decode(cls, data: bytes) -> Checkpoint:
        if data[:4] != MAGIC or len(data) < 8:
            raise CheckpointError("checkpoint value does not start with b'AGCP': not written by this shell")
        (size,) = _LEN.unpack_from(data, 4)
        try:
            header = json.loads(data[8:8 + size])
            snapshot = zlib.decompress(data[8 + size:])
            if hashlib.sha256(snapshot).hexdigest() != header["sha256"]:
                raise CheckpointError("checkpoint snapshot does not match its sha256; it will be ignored")
            return cls(processor=str(header["processor"]), version=str(header["version"]),
                       topic=str(header["topic"]), partition=int(header["partition"]),
                       next_offset=int(header["next_offset"]), mark=(int(header["mark"][0]), int(header["mark"][1])),
                       snapshot=snapshot)
        except (ValueError, KeyError, IndexError, TypeError, zlib.error) as exc:
            raise CheckpointError(f"checkpoint is corrupt ({exc}); it will be ignored") from exc

    def usable_for(self, processor: str, version: str, topic: str, partition: int) -> str | None:
        """None when this checkpoint can seed ``processor``; otherwise why not (for the log)."""
        if (self.processor, self.topic, self.partition) != (processor, topic, partition):
            return f"written for {self.processor} on {self.topic}[{self.partition}]"
        if self.version != version:
            return f"written by version {self.version!r}, running {version!r}"
        return None
