"""The event catalogue (Avro schemas), topics, codec and schema-evolution checks.

The codec names are imported lazily so that ``python -m agentic.schemas.codegen`` runs even when
the generated event classes are stale or missing.
"""

from __future__ import annotations

import importlib
from typing import Any

_CODEC_NAMES = ("DecodeError", "EventCodec", "EventValidationError", "SchemaIds", "StaticSchemaIds",
                "event_from_json", "event_to_json", "validate")

__all__ = list(_CODEC_NAMES)


def __getattr__(name: str) -> Any:
    if name in _CODEC_NAMES:
        return getattr(importlib.import_module("agentic.schemas.codec"), name)
    raise AttributeError(f"module 'agentic.schemas' has no attribute {name!r}")
