"""Memory consolidation: a pure core ``apply(state, command, config) -> (state, outputs)``."""

from agentic.streams.memory.core import apply, replay, validate
from agentic.streams.memory.model import (
    AccessMemory,
    DeleteMemory,
    DeleteScope,
    Fact,
    Memory,
    MemoryConfig,
    MemoryConsolidated,
    MemoryExpired,
    MemoryRemoved,
    MemoryState,
    MemoryStored,
    MemoryType,
    Tick,
    TripleAsserted,
    WriteMemory,
    WriteRejected,
)

__all__ = [
    "AccessMemory", "DeleteMemory", "DeleteScope", "Fact", "Memory", "MemoryConfig", "MemoryConsolidated",
    "MemoryExpired", "MemoryRemoved", "MemoryState", "MemoryStored", "MemoryType", "Tick", "TripleAsserted",
    "WriteMemory", "WriteRejected", "apply", "replay", "validate",
]
