"""Weaviate projections: a small batch-apply framework and the memory projection."""

from agentic.projections.weaviate.framework import BatchOutcome, Sourced, WeaviateProjection
from agentic.projections.weaviate.memory import MemoryProjection, record_of

__all__ = ["BatchOutcome", "MemoryProjection", "Sourced", "WeaviateProjection", "record_of"]
