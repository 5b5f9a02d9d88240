"""The generic stream-processor runtime: the `Processor` contract, the pure `fold` used by replay and
tests, checkpoints, output marks, and the Kafka shell that runs a processor with an exact effect."""

from .checkpoint import Checkpoint, CheckpointError
from .marks import NOTHING_WRITTEN, Mark, mark_of, output_headers
from .protocol import Emitted, Processor, Unprocessable, fold, fold_positioned

__all__ = [
    "NOTHING_WRITTEN",
    "Checkpoint",
    "CheckpointError",
    "Emitted",
    "Mark",
    "Processor",
    "Unprocessable",
    "fold",
    "fold_positioned",
    "mark_of",
    "output_headers",
]
