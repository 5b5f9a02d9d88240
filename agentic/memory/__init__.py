"""The memory service: validation of memory lines, the in-process write path and search."""

from agentic.memory.lines import MemoryInputError, parse_line
from agentic.memory.service import MemoryService, WriteReport

__all__ = ["MemoryInputError", "MemoryService", "WriteReport", "parse_line"]
