"""Finding a Java runtime of at least a given major version (Kafka 4.x needs 17, Apicurio 3.x 21)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .process import StackError

JVM_ROOT = Path("/usr/lib/jvm")


def java_major(java_home: Path) -> int | None:
    """Major version read from ``<home>/release`` (JAVA_VERSION="17.0.15" -> 17)."""
    try:
        text = (java_home / "release").read_text()
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(1\.)?(\d+)', text, re.MULTILINE)
    return int(match.group(2)) if match else None


def _candidates() -> list[Path]:
    homes = sorted(JVM_ROOT.glob("*"), reverse=True) if JVM_ROOT.is_dir() else []
    on_path = shutil.which("java")
    if on_path:
        homes.insert(0, Path(on_path).resolve().parent.parent)
    return homes


def find_java(service: str, min_major: int) -> Path:
    """Path of a ``java`` binary whose major version is at least ``min_major``.

    The ``java`` on PATH is preferred, then the newest-named home under /usr/lib/jvm.
    """
    for home in _candidates():
        major = java_major(home)
        if major is not None and major >= min_major and (home / "bin" / "java").is_file():
            return home / "bin" / "java"
    raise StackError(
        service, "find java",
        f"no Java {min_major}+ found on PATH or under {JVM_ROOT}: install a JDK {min_major} or newer "
        f"(e.g. a Temurin or OpenJDK package) and run again",
    )
