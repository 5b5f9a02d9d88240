"""Avro schema-resolution rules as a pure checker: can a reader schema read data written with a
writer schema? BACKWARD_TRANSITIVE = the current schema (reader) reads every released version
(writers) of its event type, kept in ``schemas/history/<EventType>/v<N>.avsc``.

Each violation names the event type, the field path and the rule:

- ``field_added_without_default``: the reader has a field the writer lacks and no default;
- ``type_changed``: the types are not the same and not a legal promotion
  (int->long/float/double, long->float/double, float->double, string<->bytes);
- ``enum_symbol_removed``: the writer has a symbol the reader lacks and the reader enum has no default;
- ``union_branch_removed``: a branch of the writer union matches no branch of the reader;
- ``name_changed``: a record/enum/fixed name differs (and is not an alias);
- ``fixed_size_changed``: fixed sizes differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from agentic.schemas import catalogue

PROMOTIONS = {
    ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"), ("long", "double"),
    ("float", "double"), ("string", "bytes"), ("bytes", "string"),
}
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


@dataclass(frozen=True)
class Violation:
    event_type: str
    path: str
    rule: str
    detail: str
    writer_version: int | None = None

    def __str__(self) -> str:
        version = f" (writer v{self.writer_version})" if self.writer_version is not None else ""
        return f"{self.event_type}.{self.path}{version}: {self.detail} [rule: {self.rule}]"


class _Names:
    """Named types seen while walking one schema, so references by name resolve."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    def collect(self, t: Any, ns: str) -> None:
        """Register every named type defined anywhere in ``t`` (also inside fields the other side lacks)."""
        if isinstance(t, list):
            for branch in t:
                self.collect(branch, ns)
        elif isinstance(t, dict):
            kind = t.get("type")
            if kind in ("record", "enum", "fixed"):
                name = catalogue.full_name({"namespace": ns, **t})
                self.types[name] = t
                ns = name.rsplit(".", 1)[0]
            for f in t.get("fields", []):
                self.collect(f["type"], ns)
            for key in ("items", "values"):
                if key in t:
                    self.collect(t[key], ns)
            if isinstance(kind, (dict, list)):
                self.collect(kind, ns)

    def resolve(self, t: Any, ns: str) -> Any:
        if isinstance(t, str) and t not in PRIMITIVES:
            full = t if "." in t else f"{ns}.{t}"
            return self.types.get(full, self.types.get(t, t))
        if isinstance(t, dict) and t.get("type") in ("record", "enum", "fixed"):
            name = catalogue.full_name({"namespace": ns, **t})
            self.types[name] = t
        return t


def _kind(t: Any) -> str:
    if isinstance(t, list):
        return "union"
    if isinstance(t, str):
        return t
    kind = t["type"]
    return str(kind) if not isinstance(kind, (dict, list)) else _kind(kind)


def _short(t: dict[str, Any]) -> str:
    return str(t["name"]).rsplit(".", 1)[-1]


class _Checker:
    def __init__(self, event_type: str, version: int | None) -> None:
        self.event_type = event_type
        self.version = version
        self.found: list[Violation] = []
        self.rn = _Names()
        self.wn = _Names()

    def bad(self, path: str, rule: str, detail: str) -> None:
        self.found.append(Violation(self.event_type, path or "<root>", rule, detail, self.version))

    def matches(self, r: Any, w: Any, ns: str) -> bool:
        """Whether reader type ``r`` can read writer type ``w`` (no messages)."""
        sub = _Checker(self.event_type, self.version)
        sub.rn, sub.wn = self.rn, self.wn
        sub.check(r, w, "", ns)
        return not sub.found

    def check(self, r: Any, w: Any, path: str, ns: str) -> None:
        r, w = self.rn.resolve(r, ns), self.wn.resolve(w, ns)
        if isinstance(r, dict) and isinstance(r.get("type"), (dict, list, str)) and _kind(r) in PRIMITIVES:
            r = r["type"]
        if isinstance(w, dict) and isinstance(w.get("type"), (dict, list, str)) and _kind(w) in PRIMITIVES:
            w = w["type"]
        rk, wk = _kind(r), _kind(w)
        if wk == "union":
            for branch in w:
                if rk == "union":
                    if not any(self.matches(rb, branch, ns) for rb in r):
                        self.bad(path, "union_branch_removed",
                                 f"the writer's union branch {_kind(branch)} has no matching reader branch; "
                                 "keep the branch (or give the field a new name with a default)")
                elif not self.matches(r, branch, ns):
                    self.bad(path, "union_branch_removed",
                             f"the writer's union branch {_kind(branch)} cannot be read as {rk}; "
                             "keep the union")
            return
        if rk == "union":
            if not any(self.matches(rb, w, ns) for rb in r):
                self.bad(path, "type_changed", f"writer type {wk} matches no branch of the reader union")
            return
        if rk != wk:
            if (wk, rk) not in PROMOTIONS:
                self.bad(path, "type_changed", f"{wk} -> {rk} is not a legal Avro promotion; "
                         "add a new field with a default instead of changing the type")
            return
        if rk == "record":
            self.record(r, w, path, ns)
        elif rk == "enum":
            self.enum(r, w, path)
        elif rk == "array":
            self.check(r["items"], w["items"], f"{path}[]", ns)
        elif rk == "map":
            self.check(r["values"], w["values"], f"{path}{{}}", ns)
        elif rk == "fixed":
            self.named(r, w, path)
            if r["size"] != w["size"]:
                self.bad(path, "fixed_size_changed", f"fixed size {w['size']} -> {r['size']}")

    def named(self, r: dict[str, Any], w: dict[str, Any], path: str) -> None:
        aliases = {a.rsplit(".", 1)[-1] for a in r.get("aliases", [])}
        if _short(r) != _short(w) and _short(w) not in aliases:
            self.bad(path, "name_changed", f"{_short(w)} -> {_short(r)}; keep the name or add the old one "
                     "to 'aliases'")

    def record(self, r: dict[str, Any], w: dict[str, Any], path: str, ns: str) -> None:
        self.named(r, w, path)
        ns = catalogue.full_name({"namespace": ns, **r}).rsplit(".", 1)[0]
        wfields = {f["name"]: f for f in w["fields"]}
        for f in w["fields"]:
            for a in f.get("aliases", []):
                wfields.setdefault(a, f)
        for rf in r["fields"]:
            fpath = f"{path}.{rf['name']}" if path else rf["name"]
            wf = wfields.get(rf["name"]) or next((wfields[a] for a in rf.get("aliases", []) if a in wfields), None)
            if wf is None:
                if "default" not in rf:
                    self.bad(fpath, "field_added_without_default",
                             "is new and has no default, so records written before cannot be read; add a default")
                continue
            self.check(rf["type"], wf["type"], fpath, ns)

    def enum(self, r: dict[str, Any], w: dict[str, Any], path: str) -> None:
        self.named(r, w, path)
        missing = [s for s in w["symbols"] if s not in r["symbols"]]
        if missing and "default" not in r:
            self.bad(path, "enum_symbol_removed", f"symbols {', '.join(missing)} were removed and the enum has "
                     "no default; keep them or give the enum a default symbol")


def check_pair(event_type: str, reader: dict[str, Any], writer: dict[str, Any],
               writer_version: int | None = None) -> list[Violation]:
    """Violations preventing ``reader`` from reading data written with ``writer``."""
    c = _Checker(event_type, writer_version)
    c.rn.collect(reader, catalogue.NAMESPACE)
    c.wn.collect(writer, catalogue.NAMESPACE)
    c.check(reader, writer, "", catalogue.NAMESPACE)
    return c.found


# ---- history
def _history_dir() -> Any:
    return resources.files("agentic.schemas").joinpath("history")


@cache
def history_versions(event_type: str) -> tuple[int, ...]:
    d = _history_dir().joinpath(event_type)
    if not d.is_dir():
        return ()
    return tuple(sorted(int(p.name[1:-5]) for p in d.iterdir() if p.name.startswith("v") and p.name.endswith(".avsc")))


def history_schema(event_type: str, version: int) -> dict[str, Any]:
    text = _history_dir().joinpath(event_type, f"v{version}.avsc").read_text(encoding="utf-8")
    return dict(json.loads(text))


def check_event_type(event_type: str, reader: dict[str, Any] | None = None) -> list[Violation]:
    """BACKWARD_TRANSITIVE for one event type: ``reader`` (default: the current schema) against every
    released version, plus a violation when the current schema is not released as a history version."""
    current = catalogue.resolved_schema(event_type) if reader is None else reader
    versions = history_versions(event_type)
    out: list[Violation] = []
    if not versions:
        out.append(Violation(event_type, "<root>", "unreleased",
                             f"no schemas/history/{event_type}/v1.avsc; run python -m agentic.schemas.release"))
    for v in versions:
        out.extend(check_pair(event_type, current, history_schema(event_type, v), v))
    if versions and catalogue.fingerprint_json(history_schema(event_type, versions[-1])) != \
            catalogue.fingerprint_json(current):
        out.append(Violation(event_type, "<root>", "unreleased",
                             f"the current schema differs from v{versions[-1]}; release it as "
                             f"v{versions[-1] + 1} (python -m agentic.schemas.release)"))
    return out


def check_catalogue() -> list[Violation]:
    """BACKWARD_TRANSITIVE over the whole catalogue."""
    return [v for et in catalogue.event_types() for v in check_event_type(et)]
