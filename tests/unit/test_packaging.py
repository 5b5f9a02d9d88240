"""What users install carries every data file the code reads (schemas, SQL, compose files).

In CI the project is installed as a wheel (`./run test`), so `agentic` below is the installed package: a
data file left out of the wheel (e.g. in a folder without `__init__.py`) fails here, not at a user's first run.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"schemas": "agentic.schemas", "projections": "agentic.projections", "compose": "agentic.compose",
          "connectors": "agentic.connectors", "streams": "agentic.streams", "bench": "agentic.bench"}
DATA = ("*.avsc", "*.sql", "*.yml", "*.yaml", "*.properties", "*.xml")


def _data_files() -> list[tuple[str, Path]]:
    out = []
    for folder, package in MAPPED.items():
        for pattern in DATA:
            out += [(package, p.relative_to(ROOT / folder)) for p in sorted((ROOT / folder).rglob(pattern))]
    return out


def test_the_source_tree_has_data_files() -> None:
    assert len(_data_files()) > 30


@pytest.mark.parametrize(("package", "relative"), _data_files(), ids=lambda x: str(x))
def test_every_data_file_is_installed(package: str, relative: Path) -> None:
    installed = resources.files(package).joinpath(*relative.parts)
    assert installed.is_file(), f"{relative} of {package} is not in the installed package: check package-data"
    assert installed.read_bytes() == (ROOT / MAPPED_DIR[package] / relative).read_bytes()


MAPPED_DIR = {package: folder for folder, package in MAPPED.items()}
