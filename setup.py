"""The compiled parts of the build; everything else is declared in pyproject.toml.

Each entry is a generated C module with a pure-Python twin: the package imports the compiled module
when it is there and falls back to the Python code (same results, same errors, several times slower) when
it is not. `optional=True`: a machine without a C compiler still installs the package; the test suite
fails on such an install unless AGENTIC_PURE_PYTHON=1 says the pure-Python paths are meant.
"""

from setuptools import Extension, setup

EXTENSIONS: list[Extension] = [
    Extension("agentic.projections.clickhouse._crows", ["projections/clickhouse/_crows.c"],
              extra_compile_args=["-O2"], optional=True),
    Extension("agentic.events._cdecode", ["agentic/events/_cdecode.c"], extra_compile_args=["-O2"], optional=True),
]

setup(ext_modules=EXTENSIONS)
