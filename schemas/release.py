"""Release schema versions: ``python -m agentic.schemas.release``.

For every event type whose current schema (stripped of docs) differs from its latest released
version, or that has none, it writes ``schemas/history/<EventType>/v<N+1>.avsc`` (the fully
resolved schema) and ``tests/data/schema_samples/<EventType>.v<N+1>.avro``: an Avro container file
with sample records written with that version, which the tests decode with the current schema
forever after. Existing versions and samples are never rewritten. ``--check`` only reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastavro import parse_schema, writer

from agentic.schemas import catalogue
from agentic.schemas.compat import check_pair, history_schema, history_versions

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "schemas" / "history"
SAMPLES = ROOT / "tests" / "data" / "schema_samples"
SAMPLES_PER_VERSION = 3


def sample_path(event_type: str, version: int) -> Path:
    return SAMPLES / f"{event_type}.v{version}.avro"


def pending() -> list[tuple[str, int]]:
    """(event type, version to release) for every event type whose schema changed."""
    out = []
    for et in catalogue.event_types():
        versions = history_versions(et)
        current = catalogue.fingerprint_json(catalogue.resolved_schema(et))
        if not versions or catalogue.fingerprint_json(history_schema(et, versions[-1])) != current:
            out.append((et, (versions[-1] if versions else 0) + 1))
    return out


def write_samples(event_type: str, version: int) -> Path:
    """Samples of the CURRENT classes, written with the current schema (= the version being released)."""
    from agentic.events import _generated as gen  # the classes must match the schema: regenerate first
    from agentic.schemas.samples import sample_event

    schema = parse_schema(catalogue.stripped(catalogue.resolved_schema(event_type)))
    records = [gen.ENC[event_type](sample_event(event_type, i)) for i in range(SAMPLES_PER_VERSION)]
    path = sample_path(event_type, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fo:
        # deterministic bytes: fixed sync marker, no codec
        writer(fo, schema, records, sync_marker=b"agentic-samples!", disable_tuple_notation=True)
    return path


def release(event_type: str, version: int) -> None:
    schema = catalogue.resolved_schema(event_type)
    for v in history_versions(event_type):
        problems = check_pair(event_type, schema, history_schema(event_type, v), v)
        if problems:
            raise SystemExit("refusing to release an incompatible schema:\n" + "\n".join(map(str, problems)))
    folder = HISTORY / event_type
    folder.mkdir(parents=True, exist_ok=True)
    (HISTORY / "__init__.py").touch()
    (folder / "__init__.py").touch()  # a package folder, so the history ships in the wheel
    (folder / f"v{version}.avsc").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    write_samples(event_type, version)
    print(f"released {event_type} v{version}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    todo = pending()
    if "--check" in args:
        for et, v in todo:
            print(f"{et}: unreleased changes (would be v{v})")
        return 1 if todo else 0
    for et, v in todo:
        release(et, v)
        history_versions.cache_clear()
    if not todo:
        print("every schema is released")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
