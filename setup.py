"""The compiled parts of the build; everything else is declared in pyproject.toml.

Each entry is a generated C module with a pure-Python twin: the package imports the compiled module
when it is there and falls back to the Python code (same results, same errors) when it is not.
"""

from setuptools import Extension, setup

EXTENSIONS: list[Extension] = [
    Extension("agentic.projections.clickhouse._crows", ["projections/clickhouse/_crows.c"], extra_compile_args=["-O2"]),
    Extension("agentic.events._cdecode", ["agentic/events/_cdecode.c"], extra_compile_args=["-O2"]),
]

setup(ext_modules=EXTENSIONS)
