"""Schema registry adapter over the Confluent REST API (Apicurio's ``/apis/ccompat/v7`` or Confluent's).

- :class:`SchemaRegistry`: the REST calls (register, get_schema, set_compatibility,
  check_compatibility), with errors that say which call failed and what the registry answered.
- :class:`RegistrySchemaIds`: the codec's ``SchemaIds`` port: registers every event schema of the
  catalogue under TopicRecordNameStrategy subjects (``<topic>-agentic.events.<EventType>``) and
  caches ids both ways.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx
import structlog

from agentic.schemas import catalogue
from agentic.schemas.compat import check_pair
from agentic.schemas.topics import TOPICS, TopicSpec

log = structlog.get_logger(__name__)

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")


class RegistryError(RuntimeError):
    """A registry call failed. ``status`` is the HTTP status (0 when unreachable)."""

    def __init__(self, call: str, status: int, detail: str) -> None:
        super().__init__(f"schema registry {call} failed ({status or 'unreachable'}): {detail}")
        self.call = call
        self.status = status
        self.detail = detail


class SchemaNotFoundError(RegistryError, LookupError):
    """The registry has no schema with that id (a LookupError, so the codec reports unknown_schema_id)."""


def subject_for(topic: str, event_type: str) -> str:
    """TopicRecordNameStrategy: one subject per (topic, record) as several event types share a topic."""
    return f"{topic}-{catalogue.NAMESPACE}.{event_type}"


def _schema_text(schema: dict[str, Any] | str) -> str:
    return schema if isinstance(schema, str) else json.dumps(schema, separators=(",", ":"))


class SchemaRegistry:
    """The Confluent schema-registry REST API at ``url`` (e.g. ``Settings.registry_url``)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = client or httpx.Client(timeout=timeout_s, headers={"Accept": CONTENT_TYPE})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SchemaRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, call: str, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, str] | None = None) -> httpx.Response:
        try:
            resp = self._http.request(method, f"{self.url}{path}", params=params,
                                      content=None if body is None else json.dumps(body),
                                      headers={"Content-Type": CONTENT_TYPE} if body is not None else None)
        except httpx.HTTPError as exc:
            raise RegistryError(call, 0, f"{self.url}: {exc!r}; is the registry up? (agentic stack up)") from exc
        return resp

    @staticmethod
    def _fail(call: str, resp: httpx.Response) -> RegistryError:
        try:
            body = resp.json()
            detail = f"error_code {body.get('error_code')}: {body.get('message')}"
        except ValueError:
            detail = resp.text[:300]
        cls = SchemaNotFoundError if resp.status_code == 404 and call == "get_schema" else RegistryError
        return cls(call, resp.status_code, detail)

    def register(self, subject: str, schema: dict[str, Any] | str) -> int:
        """Register ``schema`` (Avro) under ``subject``; returns its global id (the existing id when
        the same schema is already registered). Raises RegistryError, e.g. 409 if incompatible."""
        resp = self._call("register", "POST", f"/subjects/{subject}/versions", {"schema": _schema_text(schema)})
        if resp.status_code != 200:
            err = self._fail("register", resp)
            if resp.status_code == 409:
                msgs = self.check_compatibility(subject, schema)
                raise RegistryError("register", 409, f"{subject} is incompatible: {'; '.join(msgs) or err.detail}")
            raise err
        return int(resp.json()["id"])

    def get_schema(self, schema_id: int) -> dict[str, Any]:
        """The parsed schema with this global id; SchemaNotFoundError (a LookupError) when unknown."""
        resp = self._call("get_schema", "GET", f"/schemas/ids/{schema_id}")
        if resp.status_code != 200:
            raise self._fail("get_schema", resp)
        parsed = json.loads(resp.json()["schema"])
        if not isinstance(parsed, dict):
            raise RegistryError("get_schema", 200, f"schema {schema_id} is not an Avro record: {parsed!r:.100}")
        return parsed

    def set_compatibility(self, level: str, subject: str | None = None) -> None:
        """Set the compatibility level globally (``subject=None``) or for one subject."""
        if level not in LEVELS:
            raise ValueError(f"compatibility level {level!r}: use one of {', '.join(LEVELS)}")
        path = "/config" if subject is None else f"/config/{subject}"
        resp = self._call("set_compatibility", "PUT", path, {"compatibility": level})
        if resp.status_code != 200:
            raise self._fail("set_compatibility", resp)

    def get_compatibility(self, subject: str | None = None) -> str:
        resp = self._call("get_compatibility", "GET", "/config" if subject is None else f"/config/{subject}")
        if resp.status_code != 200:
            raise self._fail("get_compatibility", resp)
        body = resp.json()
        return str(body.get("compatibilityLevel") or body.get("compatibility"))

    def check_compatibility(self, subject: str, schema: dict[str, Any] | str) -> list[str]:
        """Messages explaining why ``schema`` may not be registered under ``subject`` (empty = compatible,
        including when the subject has no version yet)."""
        resp = self._call("check_compatibility", "POST", f"/compatibility/subjects/{subject}/versions/latest",
                          {"schema": _schema_text(schema)}, params={"verbose": "true"})
        if resp.status_code == 404:
            return []  # no version yet: anything is compatible (Confluent's behaviour)
        if resp.status_code != 200:
            raise self._fail("check_compatibility", resp)
        body = resp.json()
        if body.get("is_compatible", False):
            return []
        messages = [str(m) for m in body.get("messages") or []]
        return messages or self._explain(subject, schema) or [f"{subject}: incompatible (no details given)"]

    def _explain(self, subject: str, schema: dict[str, Any] | str) -> list[str]:
        """The registry said no without saying why (Apicurio's ccompat API gives no messages): run the
        pure checker against every registered version, which names the field and the rule."""
        reader = json.loads(schema) if isinstance(schema, str) else schema
        event_type = catalogue.event_type_of(reader)
        out: list[str] = []
        for version in self.versions(subject):
            resp = self._call("get_version", "GET", f"/subjects/{subject}/versions/{version}")
            if resp.status_code != 200:
                raise self._fail("get_version", resp)
            writer = json.loads(resp.json()["schema"])
            out.extend(str(v) for v in check_pair(event_type, reader, writer, version))
        return out

    def subjects(self) -> list[str]:
        resp = self._call("subjects", "GET", "/subjects")
        if resp.status_code != 200:
            raise self._fail("subjects", resp)
        return [str(s) for s in resp.json()]

    def versions(self, subject: str) -> list[int]:
        resp = self._call("versions", "GET", f"/subjects/{subject}/versions")
        if resp.status_code == 404:
            return []
        if resp.status_code != 200:
            raise self._fail("versions", resp)
        return [int(v) for v in resp.json()]


class RegistrySchemaIds:
    """The codec's ``SchemaIds`` backed by the registry: ids of the current catalogue, registered
    once (``register_all``) and cached; writer schemas fetched by id once and cached."""

    def __init__(self, registry: SchemaRegistry, topics: Iterable[TopicSpec] = TOPICS) -> None:
        self._registry = registry
        self._topics = tuple(topics)
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, dict[str, Any]] = {}

    def register_all(self, compatibility: str = "BACKWARD_TRANSITIVE") -> dict[str, int]:
        """Set the global compatibility level, then register every event schema on its topic's subject.
        Returns event type -> schema id."""
        self._registry.set_compatibility(compatibility)
        for spec in self._topics:
            for event_type in spec.event_types:
                self._register(spec, event_type)
        log.info("registry.registered", event_types=len(self._ids), compatibility=compatibility)
        return dict(self._ids)

    def _register(self, spec: TopicSpec, event_type: str) -> int:
        schema = catalogue.resolved_schema(event_type)
        sid = self._registry.register(subject_for(spec.name, event_type), schema)
        self._ids[event_type] = sid
        self._schemas.setdefault(sid, schema)
        return sid

    def id_for(self, event_type: str) -> int:
        sid = self._ids.get(event_type)
        if sid is None:  # not registered at start-up: register now (idempotent in the registry)
            spec = next((t for t in self._topics if event_type in t.event_types), None)
            if spec is None:
                raise KeyError(f"event type {event_type!r} is on none of the topics this process uses")
            sid = self._register(spec, event_type)
        return sid

    def writer_schema(self, schema_id: int) -> dict[str, Any]:
        schema = self._schemas.get(schema_id)
        if schema is None:
            schema = self._schemas[schema_id] = self._registry.get_schema(schema_id)
        return schema
