"""Builders used by composition roots (CLI commands, processors, benchmarks) to wire adapters together.

Nothing here runs at import time; each process calls these once with its `Settings`.
"""

from __future__ import annotations

from agentic.config import Settings
from agentic.connectors.kafka import EventProducer, RawProducer, ensure_topics
from agentic.connectors.registry import RegistrySchemaIds, SchemaRegistry
from agentic.schemas.codec import EventCodec
from agentic.schemas.topics import TOPICS


def schema_ids(settings: Settings) -> RegistrySchemaIds:
    """Register every event schema (BACKWARD_TRANSITIVE) and return the id cache."""
    ids = RegistrySchemaIds(SchemaRegistry(settings.registry_url), TOPICS)
    ids.register_all()
    return ids


def codec(settings: Settings) -> EventCodec:
    return EventCodec(schema_ids(settings))


def producer(settings: Settings, event_codec: EventCodec) -> EventProducer:
    ensure_topics(settings.kafka_bootstrap)
    return EventProducer(RawProducer(settings.kafka_bootstrap), event_codec)
