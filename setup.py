"""Lists the packages of the `agentic` distribution.

The design card keeps `schemas/`, `streams/`, `projections/`, `connectors/` and `compose/` at the top of
the repository; pyproject.toml maps each to `agentic.<name>`. Setuptools cannot discover sub-packages
through such a mapping, so they are listed here from the folders that hold an `__init__.py`.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
MAPPED = {"agentic": "agentic", "agentic.schemas": "schemas", "agentic.streams": "streams",
          "agentic.projections": "projections", "agentic.connectors": "connectors",
          "agentic.compose": "compose", "agentic.bench": "bench"}


def packages() -> list[str]:
    found = []
    for name, folder in MAPPED.items():
        base = ROOT / folder
        for init in sorted(base.rglob("__init__.py")):
            rel = init.parent.relative_to(base)
            found.append(".".join([name, *rel.parts]) if rel.parts else name)
    return found


setup(packages=packages())
