"""Generate ``agentic/events/_cdecode.c`` from the catalogue: ``python -m agentic.schemas.ccodegen``.

The C twin of the checked readers (``READV``) of ``agentic/events/_generated.py``: one function per
record that reads the Avro body straight into the frozen class (allocated with the class's
``tp_alloc``, slots written at the offsets of its member descriptors, found once by :func:`bind`),
testing the catalogue's field constraints as it reads, as ``_readv_`` does. It never words an
error: anything it does not accept (a broken constraint, truncated data, a bad varint, invalid
UTF-8, an enum or union index out of range, trailing bytes, a wrong ``envelope.event_type``) is a
refusal, and the codec then runs the Python readers, which give the result or the error exactly as
before. Refusing is always correct; returning an event Python would reject never is.

Module API (the codec, ``agentic.schemas.codec``, loads and binds it):
- ``bind(records, enums, is_json)``: the classes by full record name, the enum members (tuples in
  index order) by full enum name, and the JSON check; verifies each class's slots;
- ``decode(data, index) -> event | None``: one framed record of event type ``EVENT_TYPES[index]``
  (the 5 header bytes are skipped, not checked);
- ``bind_consumed(cls)`` and ``consume(msgs, start, plans, rules, seen, out) -> int``: the consumer's
  loop over confluent-kafka messages (see ``connectors/kafka.py``); stops at the first message it
  cannot take and returns its index; ``reads_in_place(cls)``: whether it reads that message class's
  fields in place (DIRECT) rather than through its methods;
- ``encode(event, index, header) -> bytes | None``: the C twin of the checked Python writer (``CHK``
  then ``BYTES``, see :class:`WGen`): the framed record, byte for byte what Python writes, or None
  (a refusal) for anything Python would refuse or that is not exactly of the expected types; the codec
  then runs the Python path, which raises the field-level error or writes;
- ``EVENT_TYPES``, ``SCHEMA_DIGEST`` (:func:`schema_digest` of the catalogue it was generated from);
- ``C_RULES`` (the event types whose cross-field rule ``decode`` applies itself, see ``RULES_C``) and
  ``RULES_DIGEST`` (:func:`rules_digest` of the Python rules they mirror).

``--check`` exits 1 when the committed file differs from a fresh generation.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from agentic.schemas.catalogue import CONSTRAINT_KEYS, NAMESPACE, event_types, resolved_schema
from agentic.schemas.codegen import Named, _collect, _nullable, _short

TARGET = Path(__file__).resolve().parent.parent / "agentic" / "events" / "_cdecode.c"

# The cross-field rules of schemas/rules.py that RULES_C (below) mirrors in C, and the digest of their
# source when it was written. tests/unit/test_cdecode.py fails when the Python rules change without
# this digest (so: without RULES_C being reviewed); at run time the codec also calls the Python rules
# whenever the digest differs (`rules_digest`), so a stale C rule can never let an event through.
C_RULES = ("TaskSubmitted", "QueueConfigured", "TaskAllocated", "MemoryDeleted", "TripleAsserted", "WorkflowStarted")
RULE_FUNCTIONS = ("_gang_member", "task_submitted", "queue_configured", "task_allocated", "memory_deleted",
                  "triple_asserted", "workflow_started")
RULES_DIGEST = "55826a240e14a72b"
INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def catalogue_types() -> Named:
    named = Named()
    for et in event_types():
        _collect(resolved_schema(et), named, NAMESPACE)
    return named


def schema_digest(named: Named | None = None) -> str:
    """A digest of the named types the reader is generated from: the codec uses the compiled module
    only when its digest equals the installed catalogue's."""
    named = named or catalogue_types()
    text = json.dumps([named.enums, named.records, event_types()], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rules_digest() -> str:
    """The digest of the current source of the Python rules that RULES_C mirrors."""
    import inspect

    from agentic.schemas import rules

    source = "".join(inspect.getsource(getattr(rules, name)) for name in RULE_FUNCTIONS)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _c_str(s: str) -> str:
    return json.dumps(s)  # ASCII names and symbols: a JSON string is a valid C literal


def _num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SystemExit(f"numeric constraint expected, got {v!r}")
    return repr(float(v)) if isinstance(v, float) else str(v)


def _string_constraints(c: dict[str, Any]) -> None:
    """Refuse (at generation) string constraints the C readers and writers do not implement."""
    unknown = set(c) - {"minLength", "allowed", "format"}
    if unknown or c.get("format") not in (None, "uuid", "json"):
        raise SystemExit(f"string constraints {c} are not supported")


def _allowed_test(c: dict[str, Any]) -> str:
    """The C condition that the UTF-8 bytes `s`, `n` are one of the `allowed` strings."""
    return " || ".join(f"(n == {len(a.encode())} && memcmp(s, {_c_str(a)}, {len(a.encode())}) == 0)"
                       for a in c["allowed"])


class _Emitter:
    """One C function per distinct (type, constraints), named PREFIX and a number, emitted once (`fn`);
    the subclass writes its `body`."""

    PREFIX = ""

    def __init__(self, named: Named) -> None:
        self.named = named
        self.records = list(named.records)
        self.enums = list(named.enums)
        self.fns: list[str] = []
        self.names: dict[str, str] = {}

    def fn(self, t: Any, c: dict[str, Any]) -> str:
        """The name of the C function for one value of type `t` with the constraints `c`."""
        key = json.dumps([t, c], sort_keys=True)
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = f"{self.PREFIX}{len(self.names)}"
            self.fns.append("\n".join(self.body(name, t, c)))
        return name

    def body(self, name: str, t: Any, c: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def field_fns(self, name: str) -> list[str]:
        """The functions of record `name`'s fields, in order."""
        return [self.fn(f["type"], {k: f[k] for k in CONSTRAINT_KEYS if k in f})
                for f in self.named.records[name]["fields"]]


class CGen(_Emitter):
    """Emits one C function per distinct (type, constraints) value reader, one per record."""

    PREFIX = "v"

    def body(self, name: str, t: Any, c: dict[str, Any]) -> list[str]:
        head = f"static PyObject *{name}(Rd *r)"
        inner = _nullable(t)
        if inner is not None:
            fn = self.fn(inner, c)
            return [f"{head} {{  /* ['null', {_short(str(inner))}] */", "    if (r->p >= r->end) return NULL;",
                    "    unsigned char b = *r->p++;", "    if (b == 0) Py_RETURN_NONE;",
                    f"    return b == 2 ? {fn}(r) : NULL;", "}"]
        if isinstance(t, dict):
            sub = {k: v for k, v in c.items() if k != "minItems"}
            fn = self.fn(t["items"] if t["type"] == "array" else t["values"], sub)
            if t["type"] == "array":
                return [f"{head} {{ return rd_array(r, {fn}, {int(c.get('minItems', 0))}); }}"]
            if "minItems" in c:
                raise SystemExit("minItems on a map is not supported")
            return [f"{head} {{ return rd_map(r, {fn}); }}"]
        if t in self.named.records:
            return [f"{head} {{ return rd_{_short(t)}(r); }}"]
        if t in self.named.enums:
            i = self.enums.index(t)
            return [f"{head} {{  /* enum {_short(t)} */", "    int64_t x;",
                    f"    if (rd_long(r, &x) || x < 0 || x >= PyTuple_GET_SIZE(ENUMS[{i}])) return NULL;",
                    f"    PyObject *m = PyTuple_GET_ITEM(ENUMS[{i}], x);", "    Py_INCREF(m);", "    return m;", "}"]
        if t == "string":
            return self.string(head, c)
        if t in ("int", "long"):
            lo, hi = INT_BOUNDS[t]
            conds = [f"x < {lo}LL", f"x > {hi}LL"] if t == "int" else []
            conds += self.num_conds(c)
            test = f" || {' || '.join(conds)}" if conds else ""
            return [f"{head} {{  /* {t} */", "    int64_t x;", f"    if (rd_long(r, &x){test}) return NULL;",
                    "    return PyLong_FromLongLong(x);", "}"]
        if t in ("double", "float"):
            size, unpack = (8, "PyFloat_Unpack8") if t == "double" else (4, "PyFloat_Unpack4")
            conds = self.num_conds(c)
            return [f"{head} {{  /* {t} */", f"    if (r->end - r->p < {size}) return NULL;",
                    f"    double x = {unpack}((const char *)r->p, 1);", f"    r->p += {size};",
                    *([f"    if ({' || '.join(conds)}) return NULL;"] if conds else []),
                    "    return PyFloat_FromDouble(x);", "}"]
        if t == "boolean":
            if c:
                raise SystemExit(f"constraints on a boolean are not supported: {c}")
            return [f"{head} {{", "    if (r->p >= r->end || *r->p > 1) return NULL;",
                    "    PyObject *v = *r->p++ ? Py_True : Py_False;", "    Py_INCREF(v);", "    return v;", "}"]
        raise SystemExit(f"cannot generate a C reader for {t!r}")

    @staticmethod
    def num_conds(c: dict[str, Any]) -> list[str]:
        """The refusals of a number `x`: true when a constraint is broken (false for NaN, as in Python)."""
        unknown = set(c) - {"minimum", "maximum", "exclusiveMinimum"}
        if unknown:
            raise SystemExit(f"constraints {sorted(unknown)} are not supported on numbers")
        out = []
        if "minimum" in c:
            out.append(f"x < {_num(c['minimum'])}")
        if "maximum" in c:
            out.append(f"x > {_num(c['maximum'])}")
        if "exclusiveMinimum" in c:
            out.append(f"x <= {_num(c['exclusiveMinimum'])}")
        return out

    @staticmethod
    def string(head: str, c: dict[str, Any]) -> list[str]:
        _string_constraints(c)
        out = [f"{head} {{  /* string {json.dumps(c, sort_keys=True)} */", "    const char *s;",
               "    Py_ssize_t n;", "    if (rd_span(r, &s, &n)) return NULL;"]
        n_min = int(c.get("minLength", 0))
        if n_min >= 1:
            out.append(f"    if (n < {n_min}) return NULL;")  # >= n_min bytes is needed, not enough
        if c.get("format") == "uuid":
            out.append("    if (!is_uuid(s, n)) return NULL;")
        if "allowed" in c:
            out.append(f"    if (!({_allowed_test(c)})) return NULL;")
        out.append("    PyObject *v = mk_str(s, n);")
        if n_min > 1:
            out.append(f"    if (v && PyUnicode_GET_LENGTH(v) < {n_min}) {{ Py_DECREF(v); return NULL; }}")
        if c.get("format") == "json":
            out.append("    if (v && !json_ok(v, s, n)) { Py_DECREF(v); return NULL; }")
        return [*out, "    return v;", "}"]

    def record(self, name: str) -> list[str]:
        i = self.records.index(name)
        n = _short(name)
        readers = self.field_fns(name)
        out = [f"static PyObject *rd_{n}(Rd *r) {{", f"    PyTypeObject *t = CLS[{i}];",
               "    PyObject *o = new_obj(t), *v;", "    if (o == NULL) return NULL;"]
        for j, fn in enumerate(readers):
            out += [f"    if ((v = {fn}(r)) == NULL) goto fail;", f"    SLOT(o, OFF[{i}][{j}]) = v;"]
        return [*out, "    return o;", "fail:", "    Py_DECREF(o);", "    return NULL;", "}"]


class WGen(_Emitter):
    """Emits one C writer per distinct (type, constraints): ``int wN(Wr *w, PyObject *v)`` appends the
    Avro encoding of `v` and returns 0, or returns -1 (a refusal) when `v` is not exactly what the
    checked Python writer takes: another type (even a subclass, an int for a float, a list for a tuple),
    a broken constraint, text that is not valid Unicode. Refusing is always correct (the codec then
    runs the Python check and writer, which raise or write); writing what Python would refuse never is."""

    PREFIX = "w"

    def body(self, name: str, t: Any, c: dict[str, Any]) -> list[str]:
        head = f"static int {name}(Wr *w, PyObject *v)"
        inner = _nullable(t)
        if inner is not None:
            fn = self.fn(inner, c)
            return [f"{head} {{  /* ['null', {_short(str(inner))}] */",
                    "    if (v == Py_None) return wr_byte(w, 0);", f"    return wr_byte(w, 2) ? -1 : {fn}(w, v);", "}"]
        if isinstance(t, dict):
            sub = {k: v for k, v in c.items() if k != "minItems"}
            if t["type"] == "array":
                fn = self.fn(t["items"], sub)
                return [f"{head} {{  /* array */", "    if (!PyTuple_CheckExact(v)) return -1;",
                        "    Py_ssize_t n = PyTuple_GET_SIZE(v);",
                        f"    if (n < {int(c.get('minItems', 0))}) return -1;",
                        "    if (n > 0) {", "        if (wr_long(w, n)) return -1;",
                        "        for (Py_ssize_t k = 0; k < n; k++) {",
                        f"            if ({fn}(w, PyTuple_GET_ITEM(v, k))) return -1;", "        }", "    }",
                        "    return wr_byte(w, 0);", "}"]
            if "minItems" in c:
                raise SystemExit("minItems on a map is not supported")
            fn = self.fn(t["values"], sub)
            return [f"{head} {{  /* map */", "    if (!PyDict_CheckExact(v)) return -1;",
                    "    Py_ssize_t n = PyDict_GET_SIZE(v), pos = 0;", "    PyObject *key, *val;",
                    "    if (n > 0) {", "        if (wr_long(w, n)) return -1;",
                    "        while (PyDict_Next(v, &pos, &key, &val)) {",
                    f"            if (wr_plain_str(w, key) || {fn}(w, val)) return -1;", "        }", "    }",
                    "    return wr_byte(w, 0);", "}"]
        if t in self.named.records:
            return [f"{head} {{ return wr_{_short(t)}(w, v); }}"]
        if t in self.named.enums:
            i = self.enums.index(t)
            return [f"{head} {{  /* enum {_short(t)}: a member of the class (a plain str goes to Python) */",
                    f"    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(ENUMS[{i}]); k++) {{",
                    f"        if (PyTuple_GET_ITEM(ENUMS[{i}], k) == v) return wr_long(w, k);", "    }",
                    "    return -1;", "}"]
        if t == "string":
            return self.string(head, c)
        if t in ("int", "long"):
            lo, hi = INT_BOUNDS[t]
            conds = [f"x < {lo}LL", f"x > {hi}LL"] if t == "int" else []
            conds += CGen.num_conds(c)
            test = f" || {' || '.join(conds)}" if conds else ""
            return [f"{head} {{  /* {t} */", "    if (!PyLong_CheckExact(v)) return -1;", "    int over;",
                    "    long long x = PyLong_AsLongLongAndOverflow(v, &over);",
                    "    if (over || (x == -1 && PyErr_Occurred())) { PyErr_Clear(); return -1; }",
                    f"    if (0{test}) return -1;", "    return wr_long(w, x);", "}"]
        if t in ("double", "float"):
            size, pack = (8, "PyFloat_Pack8") if t == "double" else (4, "PyFloat_Pack4")
            conds = CGen.num_conds(c)
            return [f"{head} {{  /* {t}: a float (an int goes to Python) */",
                    "    if (!PyFloat_CheckExact(v)) return -1;", "    double x = PyFloat_AS_DOUBLE(v);",
                    *([f"    if ({' || '.join(conds)}) return -1;"] if conds else []),
                    f"    unsigned char b[{size}];",
                    f"    if ({pack}(x, (char *)b, 1) < 0) {{ PyErr_Clear(); return -1; }}",
                    f"    return wr_bytes(w, b, {size});", "}"]
        if t == "boolean":
            if c:
                raise SystemExit(f"constraints on a boolean are not supported: {c}")
            return [f"{head} {{", "    if (v != Py_True && v != Py_False) return -1;",
                    "    return wr_byte(w, v == Py_True);", "}"]
        raise SystemExit(f"cannot generate a C writer for {t!r}")

    @staticmethod
    def string(head: str, c: dict[str, Any]) -> list[str]:
        _string_constraints(c)
        out = [f"{head} {{  /* string {json.dumps(c, sort_keys=True)} */",
               "    if (!PyUnicode_CheckExact(v)) return -1;"]
        n_min = int(c.get("minLength", 0))
        if n_min >= 1:
            out.append(f"    if (PyUnicode_GET_LENGTH(v) < {n_min}) return -1;")
        out += ["    const char *s;", "    Py_ssize_t n;", "    if (utf8_of(v, &s, &n)) return -1;"]
        if c.get("format") == "uuid":
            out.append("    if (!is_uuid(s, n)) return -1;")
        if "allowed" in c:
            out.append(f"    if (!({_allowed_test(c)})) return -1;")
        if c.get("format") == "json":
            out.append("    if (!json_ok(v, s, n)) { PyErr_Clear(); return -1; }")
        return [*out, "    return wr_long(w, n) || wr_bytes(w, s, n) ? -1 : 0;", "}"]

    def record(self, name: str) -> list[str]:
        i = self.records.index(name)
        writers = self.field_fns(name)
        out = [f"static int wr_{_short(name)}(Wr *w, PyObject *o) {{", f"    if (Py_TYPE(o) != CLS[{i}]) return -1;",
               "    PyObject *v;"]
        for j, fn in enumerate(writers):
            out.append(f"    if ((v = SLOT(o, OFF[{i}][{j}])) == NULL || {fn}(w, v)) return -1;")
        return [*out, "    return 0;", "}"]


def generate() -> str:
    named = catalogue_types()
    g = CGen(named)
    events = event_types()
    for et in events:
        fields = resolved_schema(et)["fields"]
        if fields[0]["name"] != "envelope":
            raise SystemExit(f"{et}: the first field must be the envelope")
    env_fields = [f["name"] for f in named.records[f"{NAMESPACE}.Envelope"]["fields"]]
    records = []
    for name in named.records:
        records += ["", *g.record(name)]
    protos = [f"static PyObject *rd_{_short(n)}(Rd *r);" for n in named.records]
    protos += [f"static PyObject *{fn}(Rd *r);" for fn in g.names.values()]
    wg = WGen(named)
    writers = []
    for name in named.records:
        writers += ["", *wg.record(name)]
    wprotos = [f"static int wr_{_short(n)}(Wr *w, PyObject *o);" for n in named.records]
    wprotos += [f"static int {fn}(Wr *w, PyObject *v);" for fn in wg.names.values()]
    nfields = [len(named.records[n]["fields"]) for n in named.records]
    maxf = max(nfields)
    field_rows = ["    {" + ", ".join(_c_str(f["name"]) for f in named.records[n]["fields"]) + "},"
                  for n in named.records]
    ev_index = [g.records.index(f"{NAMESPACE}.{et}") for et in events]
    macros = [f"#define F_{_short(n)}_{f['name']} OFF[{i}][{j}]"
              for i, n in enumerate(named.records) for j, f in enumerate(named.records[n]["fields"])]
    macros += [f"#define E_{_short(n)}_{sym} PyTuple_GET_ITEM(ENUMS[{i}], {k})"
               for i, n in enumerate(named.enums) for k, sym in enumerate(named.enums[n]["symbols"])]
    rule_fns = [f"rule_{et}" if et in C_RULES else "NULL" for et in events]
    parts = [
        HEADER.replace("@DIGEST@", schema_digest(named)).replace("@RULES_DIGEST@", RULES_DIGEST),
        f"#define NREC {len(named.records)}",
        f"#define NENUM {len(named.enums)}",
        f"#define NEVENT {len(events)}",
        f"#define MAXF {maxf}",
        f"#define ENV_REC {g.records.index(f'{NAMESPACE}.Envelope')}",
        f"#define ENV_EVENT_TYPE {env_fields.index('event_type')}",
        "static const char *REC_NAMES[NREC] = {" + ", ".join(_c_str(n) for n in named.records) + "};",
        "static const int REC_NFIELDS[NREC] = {" + ", ".join(map(str, nfields)) + "};",
        "static const char *REC_FIELDS[NREC][MAXF] = {", *field_rows, "};",
        "static const char *ENUM_NAMES[NENUM] = {" + ", ".join(_c_str(n) for n in named.enums) + "};",
        "static const int ENUM_SIZES[NENUM] = {"
        + ", ".join(str(len(named.enums[n]["symbols"])) for n in named.enums) + "};",
        "static const char *EVENT_NAMES[NEVENT] = {" + ", ".join(_c_str(e) for e in events) + "};",
        "static const int EVENT_REC[NEVENT] = {" + ", ".join(map(str, ev_index)) + "};",
        "static PyTypeObject *CLS[NREC];",
        "static Py_ssize_t OFF[NREC][MAXF];",
        "static PyObject *ENUMS[NENUM];",
        "",
        *macros,
        "",
        *protos,
        "",
        "\n\n".join(g.fns),
        *records,
        "",
        "static PyObject *(*const EVENT_READ[NEVENT])(Rd *) = {"
        + ", ".join(f"rd_{et}" for et in events) + "};",
        "",
        "/* ---- the writers (see WGen in ccodegen.py) */",
        *wprotos,
        "",
        "\n\n".join(wg.fns),
        *writers,
        "",
        "static int (*const EVENT_WRITE[NEVENT])(Wr *, PyObject *) = {"
        + ", ".join(f"wr_{et}" for et in events) + "};",
        RULES_C,
        "static int (*const EVENT_RULE[NEVENT])(PyObject *) = {" + ", ".join(rule_fns) + "};",
        FOOTER,
    ]
    return "\n".join(parts).rstrip("\n") + "\n"


HEADER = r"""/* Generated by `python -m agentic.schemas.ccodegen` from the .avsc files of schemas/avro. DO NOT EDIT.
 * Regenerate after changing a schema; tests/unit/test_cdecode.py fails when this file is stale.
 * The C twin of the checked readers of _generated.py: see schemas/ccodegen.py. Every reader returns
 * a new reference, or NULL for a refusal (an exception may or may not be set: the caller clears it
 * and lets the Python readers decide). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define SCHEMA_DIGEST "@DIGEST@"
#define RULES_DIGEST "@RULES_DIGEST@"
#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

typedef struct {
    const unsigned char *p, *end;
} Rd;

/* UNTRACKED: the records, tuples and Consumed objects made here are untracked by the cyclic garbage
 * collector as soon as they are allocated. They are immutable and hold only what was read (strings,
 * numbers, enum members, dicts of those, other such objects), so they cannot be part of a cycle; left
 * tracked, the ~10 containers of every event made each young collection walk the whole batch (3-4x
 * the decoding time on a 10,000-record batch). A tuple whose items are all atomic is untracked by
 * CPython itself at its next collection; this does it for records too, and at once. */

static void fast_dealloc(PyObject *o);

/* A new instance of a generated class, fields NULL, untracked (see UNTRACKED). For the classes of
 * checked layout (see FAST_DEALLOC) the object is made by _PyObject_GC_New, which neither zeroes the
 * whole object nor links it into the collector only for it to be unlinked again; the n field pointers
 * are cleared here. Other classes go through their own tp_alloc. */
static inline PyObject *new_obj(PyTypeObject *t) {
    if (t->tp_dealloc != fast_dealloc) {
        PyObject *o = t->tp_alloc(t, 0);
        if (o != NULL) PyObject_GC_UnTrack(o);
        return o;
    }
    PyObject *o = _PyObject_GC_New(t);
    if (o != NULL) memset((char *)o + sizeof(PyObject), 0, (size_t)t->tp_basicsize - sizeof(PyObject));
    return o;
}

static PyObject *IS_JSON;  /* agentic.events._generated._is_json */
static int BOUND;

/* Avro long: zig-zag varint of at most 10 bytes whose value fits 64 bits (as _rlong enforces). */
static inline int rd_long(Rd *r, int64_t *out) {
    uint64_t v = 0;
    int shift = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return -1;
        unsigned b = *r->p++;
        if (i == 9 && b > 1) return -1;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) {
            *out = (int64_t)((v >> 1) ^ (~(v & 1) + 1));
            return 0;
        }
        shift += 7;
    }
    return -1;
}

/* A string's bytes: a length >= 0 that the data holds. */
static inline int rd_span(Rd *r, const char **s, Py_ssize_t *n) {
    int64_t len;
    if (rd_long(r, &len) || len < 0 || len > r->end - r->p) return -1;
    *s = (const char *)r->p;
    *n = (Py_ssize_t)len;
    r->p += len;
    return 0;
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL  /* the high bit of each byte of a word */
#define SHARED_MAX 32
#define NSHARED 2048
typedef struct {
    uint32_t hash, seen, len;
    char text[SHARED_MAX];
    PyObject *str;
} Shared;
static Shared SHARED[NSHARED];

/* The hash of a short string for the SHARED table, and whether it is all ASCII: 8 bytes at a time
 * (a byte at a time, with a multiply after each, was a serial chain of ~4 cycles a byte). Words at
 * 0, 8, ... and one ending at the last byte (overlapping the one before it); under 8 bytes, the bytes
 * themselves. */
static inline uint32_t short_hash(const char *s, Py_ssize_t n, int *ascii) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL, any = 0, w;
    if (n >= 8) {
        for (Py_ssize_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, s + i, 8);
            any |= w;
            h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
            h ^= h >> 32;
        }
        memcpy(&w, s + n - 8, 8);
    } else {
        w = 0;
        for (Py_ssize_t i = 0; i < n; i++) w |= (uint64_t)(unsigned char)s[i] << (8 * i);
    }
    any |= w;
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    *ascii = !(any & HIGH);
    return (uint32_t)(h ^ (h >> 32));
}

/* str from UTF-8 (strict, as bytes.decode()); ASCII copied straight into a compact str. */
static PyObject *mk_str(const char *s, Py_ssize_t n) {
    if (n > SHARED_MAX) {
        Py_ssize_t i = 0;
        uint64_t any = 0, w;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, 8);
            any |= w;
        }
        for (; i < n; i++) any |= (unsigned char)s[i];
        if (any & HIGH) return PyUnicode_DecodeUTF8(s, n, NULL);
        PyObject *u = PyUnicode_New(n, 127);
        if (u != NULL) memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
        return u;
    }
    /* SHARED: short ASCII strings (tenants, sources, names, kinds) repeat from record to record; the
     * last one kept per hash slot is handed out again instead of a new equal one (str is immutable).
     * A slot holds the text itself, so a miss touches no other memory, and a string is kept only when
     * its hash came twice in a row to the slot: one-off values (ids) do not churn the table. */
    int ascii;
    uint32_t h = short_hash(s, n, &ascii);
    if (!ascii) return PyUnicode_DecodeUTF8(s, n, NULL);
    Shared *e = &SHARED[h & (NSHARED - 1)];
    if (e->str != NULL && e->hash == h && e->len == n && memcmp(e->text, s, (size_t)n) == 0) {
        Py_INCREF(e->str);
        return e->str;
    }
    PyObject *u = PyUnicode_New(n, 127);
    if (u == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(u), s, (size_t)n);
    if (e->seen != h) {
        e->seen = h;
        return u;
    }
    Py_INCREF(u);
    Py_XSETREF(e->str, u);
    e->hash = h;
    e->len = (uint32_t)n;
    memcpy(e->text, s, (size_t)n);
    return u;
}

/* A canonical lowercase UUID, 8-4-4-4-12 hex digits (the _UUID pattern). The 32 digits are gathered
 * into four 8-byte words and tested 8 at a time (SWAR): a byte is a digit when it is ASCII and within
 * '0'..'9' or 'a'..'f'. Per byte, x + (0x80 - lo) has its high bit set when x >= lo, and x + (0x7F - hi)
 * when x > hi; with every byte below 0x80 the sums carry into no other byte. (Three of these per
 * event, tested byte by byte, were ~9% of a consumed batch's CPU.) */
static inline uint64_t in_range(uint64_t w, unsigned lo, unsigned hi) {
    return (w + (0x80 - lo) * ONES) & ~(w + (0x7F - hi) * ONES) & HIGH;
}

static int is_uuid(const char *s, Py_ssize_t n) {
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return 0;
    char d[32];
    memcpy(d, s, 8);
    memcpy(d + 8, s + 9, 4);
    memcpy(d + 12, s + 14, 4);
    memcpy(d + 16, s + 19, 4);
    memcpy(d + 20, s + 24, 12);
    for (int k = 0; k < 32; k += 8) {
        uint64_t w;
        memcpy(&w, d + k, 8);
        if ((w & HIGH) || (in_range(w, '0', '9') | in_range(w, 'a', 'f')) != HIGH) return 0;
    }
    return 1;
}

/* JSON_SURE: a conservative JSON recogniser. It says 1 only for text that `_is_json` (the same
 * scanner as json.loads) certainly accepts: one value between JSON whitespace; objects with string
 * keys, arrays, strings without raw control characters and with the JSON escapes only, numbers of the
 * JSON grammar (integers of at most 4,300 digits, CPython's int limit), true, false, null, NaN,
 * Infinity, -Infinity; nesting at most 64 deep (deeper, Python's scanner may run out of recursion).
 * Anything else, valid or not, is 0: then `_is_json` itself decides. */
typedef struct {
    const char *p, *end;
} Js;

static inline void js_ws(Js *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static inline int js_lit(Js *j, const char *word, size_t n) {
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return 0;
    j->p += n;
    return 1;
}

static inline int js_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int js_string(Js *j) {  /* at the opening quote */
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"') return 1;
        if (c < 0x20) return 0;
        if (c == '\\') {
            if (j->p >= j->end) return 0;
            c = (unsigned char)*j->p++;
            if (c == 'u') {
                if (j->end - j->p < 4 || !js_hex(j->p[0]) || !js_hex(j->p[1]) || !js_hex(j->p[2]) || !js_hex(j->p[3]))
                    return 0;
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return 0;
            }
        }
    }
    return 0;
}

static int js_digits(Js *j) {
    const char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    return (int)(j->p - start > 4300 ? -1 : j->p - start);
}

static int js_number(Js *j) {
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p >= j->end) return 0;
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        if (js_digits(j) < 0) return 0;
    } else {
        return 0;
    }
    if (j->p + 1 < j->end && *j->p == '.' && j->p[1] >= '0' && j->p[1] <= '9') {
        j->p++;
        js_digits(j);
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        const char *e = j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (js_digits(j) == 0) j->p = e;
    }
    return 1;
}

static int js_value(Js *j, int depth) {
    if (j->p >= j->end || depth > 64) return 0;
    switch (*j->p) {
    case '"':
        return js_string(j);
    case '{':
        j->p++;
        js_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return 1;
        }
        for (;;) {
            if (j->p >= j->end || *j->p != '"' || !js_string(j)) return 0;
            js_ws(j);
            if (j->p >= j->end || *j->p != ':') return 0;
            j->p++;
            js_ws(j);
            if (!js_value(j, depth + 1)) return 0;
            js_ws(j);
            if (j->p >= j->end) return 0;
            if (*j->p == '}') {
                j->p++;
                return 1;
            }
            if (*j->p++ != ',') return 0;
            js_ws(j);
        }
    case '[':
        j->p++;
        js_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 1;
        }
        for (;;) {
            if (!js_value(j, depth + 1)) return 0;
            js_ws(j);
            if (j->p >= j->end) return 0;
            if (*j->p == ']') {
                j->p++;
                return 1;
            }
            if (*j->p++ != ',') return 0;
            js_ws(j);
        }
    case 't':
        return js_lit(j, "true", 4);
    case 'f':
        return js_lit(j, "false", 5);
    case 'n':
        return js_lit(j, "null", 4);
    case 'N':
        return js_lit(j, "NaN", 3);
    case 'I':
        return js_lit(j, "Infinity", 8);
    case '-':
        if (j->p + 1 < j->end && j->p[1] == 'I') {
            j->p++;
            return js_lit(j, "Infinity", 8);
        }
        return js_number(j);
    default:
        return js_number(j);
    }
}

static int json_sure(const char *s, Py_ssize_t n) {
    Js j = {s, s + n};
    js_ws(&j);
    if (!js_value(&j, 0)) return 0;
    js_ws(&j);
    return j.p == j.end;
}

/* `text` is the str decoded from the UTF-8 bytes s[:n] */
static int json_ok(PyObject *text, const char *s, Py_ssize_t n) {
    if (json_sure(s, n)) return 1;
    PyObject *ok = PyObject_CallOneArg(IS_JSON, text);
    int yes = ok == Py_True;
    Py_XDECREF(ok);
    return yes;
}

typedef PyObject *(*rdfn)(Rd *);

/* The count of the next block (its byte size skipped when the count is negative); a count the
 * remaining bytes cannot hold (every item takes at least one byte) is refused. */
static inline int rd_count(Rd *r, int64_t *n) {
    int64_t size;
    if (rd_long(r, n)) return -1;
    if (*n < 0) {
        if (*n == INT64_MIN || rd_long(r, &size)) return -1;
        *n = -*n;
    }
    return *n > r->end - r->p ? -1 : 0;
}

/* Avro array -> tuple (blocks until a 0 count). */
static PyObject *rd_array(Rd *r, rdfn item, Py_ssize_t min_items) {
    PyObject *acc = NULL;
    Py_ssize_t len = 0;
    for (;;) {
        int64_t n;
        if (rd_count(r, &n)) goto fail;
        if (n == 0) break;
        if (acc == NULL) {
            if ((acc = PyTuple_New((Py_ssize_t)n)) == NULL) goto fail;
        } else if (_PyTuple_Resize(&acc, len + (Py_ssize_t)n) < 0) {
            return NULL;  /* acc was freed */
        }
        PyObject_GC_UnTrack(acc);  /* see UNTRACKED */
        for (int64_t k = 0; k < n; k++) {
            PyObject *v = item(r);
            if (v == NULL) goto fail;
            PyTuple_SET_ITEM(acc, len++, v);
        }
    }
    if (len < min_items) goto fail;
    return acc != NULL ? acc : PyTuple_New(0);
fail:
    Py_XDECREF(acc);  /* items not yet set are NULL: tuple dealloc skips them */
    return NULL;
}

/* Avro map -> dict (string keys; a repeated key keeps its last value, as in Python). */
static PyObject *rd_map(Rd *r, rdfn value) {
    PyObject *acc = PyDict_New();
    if (acc == NULL) return NULL;
    for (;;) {
        int64_t n;
        if (rd_count(r, &n)) goto fail;
        if (n == 0) return acc;
        for (int64_t k = 0; k < n; k++) {
            const char *s;
            Py_ssize_t len;
            if (rd_span(r, &s, &len)) goto fail;
            PyObject *key = mk_str(s, len);
            if (key == NULL) goto fail;
            PyObject *v = value(r);
            if (v == NULL || PyDict_SetItem(acc, key, v) < 0) {
                Py_DECREF(key);
                Py_XDECREF(v);
                goto fail;
            }
            Py_DECREF(key);
            Py_DECREF(v);
        }
    }
fail:
    Py_DECREF(acc);
    return NULL;
}

/* ---- writing: a growing buffer (on the stack up to WR_STACK bytes) */

#define WR_STACK 2048
typedef struct {
    unsigned char *p;
    Py_ssize_t len, cap;
    unsigned char stack[WR_STACK];
} Wr;

static int wr_grow(Wr *w, Py_ssize_t more) {
    Py_ssize_t cap = w->cap * 2 > w->len + more ? w->cap * 2 : w->len + more;
    unsigned char *p = w->p == w->stack ? PyMem_Malloc((size_t)cap) : PyMem_Realloc(w->p, (size_t)cap);
    if (p == NULL) return -1;
    if (w->p == w->stack) memcpy(p, w->stack, (size_t)w->len);
    w->p = p;
    w->cap = cap;
    return 0;
}

static inline int wr_bytes(Wr *w, const void *s, Py_ssize_t n) {
    if (w->len + n > w->cap && wr_grow(w, n)) return -1;
    memcpy(w->p + w->len, s, (size_t)n);
    w->len += n;
    return 0;
}

static inline int wr_byte(Wr *w, int b) {
    if (w->len + 1 > w->cap && wr_grow(w, 1)) return -1;
    w->p[w->len++] = (unsigned char)b;
    return 0;
}

/* Avro long: zig-zag varint. */
static inline int wr_long(Wr *w, int64_t x) {
    if (w->len + 10 > w->cap && wr_grow(w, 10)) return -1;
    uint64_t z = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
    while (z >= 0x80) {
        w->p[w->len++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    w->p[w->len++] = (unsigned char)z;
    return 0;
}

/* The UTF-8 bytes of a str, as str.encode() gives them; -1 for text that is not valid Unicode (lone
 * surrogates, which str.encode() refuses too). */
static inline int utf8_of(PyObject *v, const char **s, Py_ssize_t *n) {
    if (PyUnicode_IS_COMPACT_ASCII(v)) {
        *s = (const char *)PyUnicode_1BYTE_DATA(v);
        *n = PyUnicode_GET_LENGTH(v);
        return 0;
    }
    *s = PyUnicode_AsUTF8AndSize(v, n);
    if (*s == NULL) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

static int wr_plain_str(Wr *w, PyObject *v) {  /* a map key */
    const char *s;
    Py_ssize_t n;
    if (!PyUnicode_CheckExact(v) || utf8_of(v, &s, &n)) return -1;
    return wr_long(w, n) || wr_bytes(w, s, n) ? -1 : 0;
}
"""

RULES_C = r"""
/* ---- the cross-field rules of schemas/rules.py (see C_RULES in ccodegen.py). Each returns 1 when the
 * event keeps the rule, 0 when it breaks it or may (then the reader refuses the record and the Python
 * rule words the error), never more lenient than the Python rule. Lists longer than RULE_MAX are left
 * to Python (0). */
#define RULE_MAX 64

static inline int str_eq(PyObject *a, PyObject *b) {
    if (a == b) return 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    return n == PyUnicode_GET_LENGTH(b) && PyUnicode_KIND(a) == PyUnicode_KIND(b)
           && memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * PyUnicode_KIND(a)) == 0;
}

static inline int str_eq_ascii(PyObject *a, const char *b) {
    size_t n = strlen(b);
    return PyUnicode_IS_COMPACT_ASCII(a) && (size_t)PyUnicode_GET_LENGTH(a) == n
           && memcmp(PyUnicode_1BYTE_DATA(a), b, n) == 0;
}

static inline long long ival(PyObject *o) { return PyLong_AsLongLong(o); }  /* ints read by the reader fit */

static int rule_TaskSubmitted(PyObject *e) {  /* unique member names; GPU count and milli agree */
    PyObject *members = SLOT(e, F_TaskSubmitted_members);
    Py_ssize_t n = PyTuple_GET_SIZE(members);
    if (n > RULE_MAX) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *m = PyTuple_GET_ITEM(members, i), *name = SLOT(m, F_GangMember_name);
        for (Py_ssize_t k = 0; k < i; k++) {
            if (str_eq(name, SLOT(PyTuple_GET_ITEM(members, k), F_GangMember_name))) return 0;
        }
        long long count = ival(SLOT(m, F_GangMember_gpu_count)), milli = ival(SLOT(m, F_GangMember_gpu_milli));
        if ((count == 0 && milli != 0) || (count > 0 && milli == 0) || (milli < 1000 && count > 1)) return 0;
    }
    return 1;
}

static int rule_QueueConfigured(PyObject *e) {  /* gpu_model only on gpu_milli; one quota per pair */
    PyObject *quotas = SLOT(e, F_QueueConfigured_quotas);
    Py_ssize_t n = PyTuple_GET_SIZE(quotas);
    if (n > RULE_MAX) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *q = PyTuple_GET_ITEM(quotas, i);
        PyObject *res = SLOT(q, F_ResourceQuota_resource), *model = SLOT(q, F_ResourceQuota_gpu_model);
        if (model != Py_None && !str_eq_ascii(res, "gpu_milli")) return 0;
        for (Py_ssize_t k = 0; k < i; k++) {
            PyObject *p = PyTuple_GET_ITEM(quotas, k), *pm = SLOT(p, F_ResourceQuota_gpu_model);
            if (str_eq(res, SLOT(p, F_ResourceQuota_resource))
                && (pm == Py_None ? model == Py_None : model != Py_None && str_eq(model, pm))) {
                return 0;
            }
        }
    }
    return 1;
}

static int rule_TaskAllocated(PyObject *e) {  /* no GPU index twice in one placement */
    PyObject *placements = SLOT(e, F_TaskAllocated_placements);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(placements); i++) {
        PyObject *gpus = SLOT(PyTuple_GET_ITEM(placements, i), F_Placement_gpus);
        Py_ssize_t n = PyTuple_GET_SIZE(gpus);
        if (n > RULE_MAX) return 0;
        for (Py_ssize_t a = 0; a < n; a++) {
            long long ia = ival(SLOT(PyTuple_GET_ITEM(gpus, a), F_GpuShare_index));
            for (Py_ssize_t b = 0; b < a; b++) {
                if (ia == ival(SLOT(PyTuple_GET_ITEM(gpus, b), F_GpuShare_index))) return 0;
            }
        }
    }
    return 1;
}

static int rule_MemoryDeleted(PyObject *e) {  /* the scope's id is there */
    PyObject *scope = SLOT(e, F_MemoryDeleted_scope);
    if (scope == E_DeleteScope_MEMORY && SLOT(e, F_MemoryDeleted_memory_id) == Py_None) return 0;
    if (scope == E_DeleteScope_SESSION && SLOT(e, F_MemoryDeleted_session_id) == Py_None) return 0;
    return 1;
}

static int rule_TripleAsserted(PyObject *e) {  /* valid_to_ms >= valid_from_ms when set */
    PyObject *to = SLOT(e, F_TripleAsserted_valid_to_ms);
    return to == Py_None || ival(to) >= ival(SLOT(e, F_TripleAsserted_valid_from_ms));
}

static int rule_WorkflowStarted(PyObject *e) {  /* unique step ids; dependencies on other steps only */
    PyObject *steps = SLOT(e, F_WorkflowStarted_steps);
    Py_ssize_t n = PyTuple_GET_SIZE(steps);
    if (n > RULE_MAX) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *st = PyTuple_GET_ITEM(steps, i), *id = SLOT(st, F_WorkflowStep_step_id);
        for (Py_ssize_t k = 0; k < i; k++) {
            if (str_eq(id, SLOT(PyTuple_GET_ITEM(steps, k), F_WorkflowStep_step_id))) return 0;
        }
        PyObject *deps = SLOT(st, F_WorkflowStep_depends_on);
        if (PyTuple_GET_SIZE(deps) > RULE_MAX) return 0;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(deps); j++) {
            PyObject *dep = PyTuple_GET_ITEM(deps, j);
            int known = 0;
            for (Py_ssize_t k = 0; k < n && !known; k++) {
                known = str_eq(dep, SLOT(PyTuple_GET_ITEM(steps, k), F_WorkflowStep_step_id));
            }
            if (!known || str_eq(dep, id)) return 0;
        }
    }
    return 1;
}
"""

FOOTER = r"""
/* ---- decoding one record */

/* The event of type `index` from a framed record (header skipped), or NULL (refused, no exception). */
static PyObject *decode_body(const char *buf, Py_ssize_t len, Py_ssize_t index) {
    if (len < 5) return NULL;
    Rd r = {(const unsigned char *)buf + 5, (const unsigned char *)buf + len};
    PyObject *o = EVENT_READ[index](&r);
    if (o == NULL) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *env = SLOT(o, OFF[EVENT_REC[index]][0]);
    PyObject *et = SLOT(env, OFF[ENV_REC][ENV_EVENT_TYPE]);
    if (r.p != r.end || PyUnicode_CompareWithASCIIString(et, EVENT_NAMES[index]) != 0
        || (EVENT_RULE[index] != NULL && !EVENT_RULE[index](o))) {
        Py_DECREF(o);
        return NULL;
    }
    return o;
}

/* The event index argument of encode and decode (`who`), checked against the bound catalogue; -1 with
 * an exception when it is not an int in range or the module is not bound. */
static Py_ssize_t event_index(PyObject *arg, const char *who) {
    Py_ssize_t index = PyLong_AsSsize_t(arg);
    if (index == -1 && PyErr_Occurred()) return -1;
    if (!BOUND || index < 0 || index >= NEVENT) {
        PyErr_Format(PyExc_ValueError, "%s: module not bound, or event index out of range", who);
        return -1;
    }
    return index;
}

/* encode(event, index, header) -> bytes | None: the header, then the Avro body of an event of type
 * EVENT_TYPES[index], or None (a refusal, see WGen) when the event is not exactly what the checked
 * Python writer takes, names another event type, or breaks a cross-field rule mirrored in C. The
 * rule runs after the writer, which has checked every field's type. */
static PyObject *py_encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyBytes_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "encode(event, index: int, header: bytes)");
        return NULL;
    }
    Py_ssize_t index = event_index(args[1], "encode");
    if (index < 0) return NULL;
    Wr w;
    w.p = w.stack;
    w.len = 0;
    w.cap = WR_STACK;
    PyObject *event = args[0], *out = NULL;
    if (wr_bytes(&w, PyBytes_AS_STRING(args[2]), PyBytes_GET_SIZE(args[2])) == 0
        && EVENT_WRITE[index](&w, event) == 0) {
        PyObject *et = SLOT(SLOT(event, OFF[EVENT_REC[index]][0]), OFF[ENV_REC][ENV_EVENT_TYPE]);
        if (str_eq_ascii(et, EVENT_NAMES[index]) && (EVENT_RULE[index] == NULL || EVENT_RULE[index](event))) {
            out = PyBytes_FromStringAndSize((const char *)w.p, w.len);
        }
    }
    if (w.p != w.stack) PyMem_Free(w.p);
    if (out == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return out;
}

static PyObject *py_decode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "decode(data: bytes, index: int)");
        return NULL;
    }
    Py_ssize_t index = event_index(args[1], "decode");
    if (index < 0) return NULL;
    PyObject *o = decode_body(PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), index);
    if (o == NULL) Py_RETURN_NONE;
    return o;
}

/* ---- binding the classes */

static Py_ssize_t slot_offset(PyTypeObject *t, const char *field) {
    PyObject *d = PyDict_GetItemString(t->tp_dict, field);  /* borrowed */
    if (d == NULL || Py_TYPE(d) != &PyMemberDescr_Type) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a slot; regenerate _generated.py and _cdecode.c",
                     t->tp_name, field);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX || m->offset <= 0 || m->offset + (Py_ssize_t)sizeof(PyObject *) > t->tp_basicsize) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot of the instance", t->tp_name, field);
        return -1;
    }
    return m->offset;
}

/* FAST_DEALLOC: the generated classes (and Consumed) are plain slotted objects: the object header, then
 * one object pointer per field, no __dict__, no weak references, no finaliser. CPython's generic
 * subtype_dealloc for them was the largest single cost of a consumed batch (~17% of its CPU); this one
 * clears the slots and frees. It is installed only on classes whose layout is checked to be exactly
 * that (`fast_layout`); a subclass (rare) keeps subtype_dealloc, which calls this one for its base's
 * part, as it does for any base type's deallocator. */
static void fast_dealloc(PyObject *o) {
    PyTypeObject *t = Py_TYPE(o), *b = t;
    while (b->tp_dealloc != fast_dealloc) b = b->tp_base;
    PyObject_GC_UnTrack(o);
    PyObject **slot = (PyObject **)((char *)o + sizeof(PyObject));
    PyObject **end = (PyObject **)((char *)o + b->tp_basicsize);
    /* PREFETCH: a batch's objects are long out of the cache when it is freed, and each field's
     * reference count is a load that misses: asking for all of them first lets the misses overlap
     * instead of waiting for each in turn (freeing was ~a third of a consumed batch's CPU). */
    for (PyObject **p = slot; p < end; p++) {
        if (*p != NULL) __builtin_prefetch(*p, 1, 0);
    }
    while (end > slot) {  /* last field first (see FREE ORDER) */
        end--;
        Py_CLEAR(*end);
    }
    t->tp_free(o);
    Py_DECREF(t);
}

static int fast_layout(PyTypeObject *t, const Py_ssize_t *off, int n) {
    if (t->tp_base != &PyBaseObject_Type || t->tp_dictoffset != 0 || t->tp_weaklistoffset != 0
        || t->tp_itemsize != 0 || t->tp_finalize != NULL || t->tp_del != NULL
        || !(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || !(t->tp_flags & Py_TPFLAGS_HAVE_GC)
        || t->tp_free != PyObject_GC_Del
        || t->tp_basicsize != (Py_ssize_t)(sizeof(PyObject) + (size_t)n * sizeof(PyObject *))) {
        return 0;
    }
    for (int j = 0; j < n; j++) {
        if (off[j] < (Py_ssize_t)sizeof(PyObject) || off[j] >= t->tp_basicsize) return 0;
    }
    return 1;
}

static void set_fast_dealloc(PyTypeObject *t, const Py_ssize_t *off, int n) {
    if (t->tp_dealloc != fast_dealloc && fast_layout(t, off, n)) t->tp_dealloc = fast_dealloc;
}

static int check_slots(PyTypeObject *t, const char *const *fields, int n) {
    PyObject *slots = PyDict_GetItemString(t->tp_dict, "__slots__");
    if (slots == NULL || !PyTuple_Check(slots) || PyTuple_GET_SIZE(slots) != n) {
        PyErr_Format(PyExc_TypeError, "%s: expected a __slots__ tuple of %d fields", t->tp_name, n);
        return -1;
    }
    for (int j = 0; j < n; j++) {
        PyObject *s = PyTuple_GET_ITEM(slots, j);
        if (!PyUnicode_Check(s) || PyUnicode_CompareWithASCIIString(s, fields[j]) != 0) {
            PyErr_Format(PyExc_TypeError, "%s: slot %d is not %s", t->tp_name, j, fields[j]);
            return -1;
        }
    }
    /* an instance made as the readers make them must be of the class itself */
    PyObject *probe = t->tp_alloc(t, 0);
    if (probe == NULL) return -1;
    int same = Py_TYPE(probe) == t;
    Py_DECREF(probe);
    if (!same) {
        PyErr_Format(PyExc_TypeError, "%s: tp_alloc does not make instances of the class", t->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *py_bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "bind(records: dict, enums: dict, is_json: callable)");
        return NULL;
    }
    PyTypeObject *cls[NREC];
    Py_ssize_t off[NREC][MAXF];
    PyObject *enums[NENUM];
    for (int i = 0; i < NREC; i++) {
        PyObject *c = PyDict_GetItemString(args[0], REC_NAMES[i]);
        if (c == NULL || !PyType_Check(c)) {
            PyErr_Format(PyExc_KeyError, "bind: no class for record %s", REC_NAMES[i]);
            return NULL;
        }
        cls[i] = (PyTypeObject *)c;
        if (check_slots(cls[i], REC_FIELDS[i], REC_NFIELDS[i]) < 0) return NULL;
        for (int j = 0; j < REC_NFIELDS[i]; j++) {
            if ((off[i][j] = slot_offset(cls[i], REC_FIELDS[i][j])) < 0) return NULL;
        }
    }
    for (int i = 0; i < NENUM; i++) {
        PyObject *e = PyDict_GetItemString(args[1], ENUM_NAMES[i]);
        if (e == NULL || !PyTuple_Check(e) || PyTuple_GET_SIZE(e) != ENUM_SIZES[i]) {
            PyErr_Format(PyExc_KeyError, "bind: enum %s needs a tuple of its %d members", ENUM_NAMES[i],
                         ENUM_SIZES[i]);
            return NULL;
        }
        enums[i] = e;
    }
    for (int i = 0; i < NREC; i++) {
        Py_INCREF(cls[i]);
        Py_XSETREF(CLS[i], cls[i]);
        memcpy(OFF[i], off[i], sizeof(off[i]));
        set_fast_dealloc(cls[i], off[i], REC_NFIELDS[i]);
    }
    for (int i = 0; i < NENUM; i++) {
        Py_INCREF(enums[i]);
        Py_XSETREF(ENUMS[i], enums[i]);
    }
    Py_INCREF(args[2]);
    Py_XSETREF(IS_JSON, args[2]);
    BOUND = 1;
    Py_RETURN_NONE;
}

/* ---- the consumer loop */

enum { M_ERROR, M_VALUE, M_TOPIC, M_PARTITION, M_OFFSET, M_KEY, NMETH };
static const char *METHOD_NAMES[NMETH] = {"error", "value", "topic", "partition", "offset", "key"};
static PyTypeObject *MSG_TYPE;        /* the message class whose methods are cached */
static PyObject *METHODS[NMETH];      /* its method descriptors, called with the message as self */
static PyTypeObject *CONSUMED;
static Py_ssize_t CONSUMED_OFF[5];
static const char *CONSUMED_FIELDS[5] = {"topic", "partition", "offset", "key", "event"};

static PyObject *py_bind_consumed(PyObject *self, PyObject *arg) {
    if (!PyType_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "bind_consumed(cls: type)");
        return NULL;
    }
    PyTypeObject *t = (PyTypeObject *)arg;
    Py_ssize_t off[5];
    if (check_slots(t, CONSUMED_FIELDS, 5) < 0) return NULL;
    for (int j = 0; j < 5; j++) {
        if ((off[j] = slot_offset(t, CONSUMED_FIELDS[j])) < 0) return NULL;
    }
    Py_INCREF(t);
    Py_XSETREF(CONSUMED, t);
    memcpy(CONSUMED_OFF, off, sizeof(off));
    set_fast_dealloc(t, off, 5);
    Py_RETURN_NONE;
}

/* DIRECT: confluent-kafka's Message keeps topic, value, key and error as object pointers and the
 * partition and offset as int32 and int64 fields, read through one method call each (six calls per
 * record). Where a message class is made from keyword arguments (confluent-kafka 2.x), its layout is
 * found by probing: two messages made with known, distinct values; each field must be found at exactly
 * one place, the same in both. The fields are then read in place. Any other class, or a layout not
 * found, is read through its methods, as before. */
static Py_ssize_t MSG_AT[NMETH];  /* by M_ index */
static int MSG_DIRECT;

static PyObject *probe_message(PyTypeObject *t, int k, PyObject *err, PyObject **objs) {
    PyObject *kw = Py_BuildValue("{s:O,s:O,s:O,s:i,s:L}", "topic", objs[M_TOPIC], "value", objs[M_VALUE],
                                 "key", objs[M_KEY], "partition", 0x2A3B4C5D + k, "offset",
                                 (long long)(0x1122334455667700LL + k));
    PyObject *m = NULL, *empty = PyTuple_New(0);
    if (kw != NULL && empty != NULL && (err == NULL || PyDict_SetItemString(kw, "error", err) == 0)) {
        m = PyObject_Call((PyObject *)t, empty, kw);
    }
    Py_XDECREF(kw);
    Py_XDECREF(empty);
    return m;
}

/* The one aligned place of `size` bytes in o's fields equal to `want`, or -1. */
static Py_ssize_t find_field(PyObject *o, const void *want, size_t size) {
    Py_ssize_t at = -1;
    for (Py_ssize_t off = sizeof(PyObject); off + (Py_ssize_t)size <= Py_TYPE(o)->tp_basicsize; off += size) {
        if (memcmp((char *)o + off, want, size) == 0) {
            if (at >= 0) return -1;
            at = off;
        }
    }
    return at;
}

static int probe_one(PyTypeObject *t, int k, Py_ssize_t *at) {
    PyObject *objs[NMETH] = {NULL};
    objs[M_TOPIC] = PyUnicode_FromFormat("agentic.probe.%d", k);
    objs[M_VALUE] = PyBytes_FromFormat("value%d", k);
    objs[M_KEY] = PyBytes_FromFormat("key%d", k);
    PyObject *kafka = PyImport_ImportModule("confluent_kafka");
    PyObject *errcls = kafka ? PyObject_GetAttrString(kafka, "KafkaError") : NULL;
    PyObject *err = errcls ? PyObject_CallFunction(errcls, "i", -191) : NULL;  /* _PARTITION_EOF */
    PyObject *plain = NULL, *failed = NULL;
    int ok = 0;
    if (objs[M_TOPIC] && objs[M_VALUE] && objs[M_KEY] && err && (plain = probe_message(t, k, NULL, objs)) != NULL
        && (failed = probe_message(t, k, err, objs)) != NULL && Py_TYPE(plain) == t && Py_TYPE(failed) == t) {
        int32_t part = 0x2A3B4C5D + k;
        int64_t off = 0x1122334455667700LL + k;
        at[M_TOPIC] = find_field(plain, &objs[M_TOPIC], sizeof(PyObject *));
        at[M_VALUE] = find_field(plain, &objs[M_VALUE], sizeof(PyObject *));
        at[M_KEY] = find_field(plain, &objs[M_KEY], sizeof(PyObject *));
        at[M_ERROR] = find_field(failed, &err, sizeof(PyObject *));
        at[M_PARTITION] = find_field(plain, &part, sizeof(part));
        at[M_OFFSET] = find_field(plain, &off, sizeof(off));
        ok = 1;
        for (int f = 0; f < NMETH; f++) ok &= at[f] >= 0;
        ok = ok && (SLOT(plain, at[M_ERROR]) == NULL || SLOT(plain, at[M_ERROR]) == Py_None);
    }
    PyErr_Clear();
    for (int f = 0; f < NMETH; f++) Py_XDECREF(objs[f]);
    Py_XDECREF(kafka);
    Py_XDECREF(errcls);
    Py_XDECREF(err);
    Py_XDECREF(plain);
    Py_XDECREF(failed);
    return ok;
}

static void probe_layout(PyTypeObject *t) {
    Py_ssize_t a[NMETH], b[NMETH];
    MSG_DIRECT = probe_one(t, 0, a) && probe_one(t, 1, b) && memcmp(a, b, sizeof(a)) == 0;
    if (MSG_DIRECT) memcpy(MSG_AT, a, sizeof(a));
}

static int cache_methods(PyTypeObject *t) {
    PyObject *found[NMETH];
    for (int k = 0; k < NMETH; k++) {
        found[k] = PyObject_GetAttrString((PyObject *)t, METHOD_NAMES[k]);
        if (found[k] == NULL) {
            while (k--) Py_DECREF(found[k]);
            return -1;
        }
    }
    for (int k = 0; k < NMETH; k++) Py_XSETREF(METHODS[k], found[k]);
    Py_INCREF(t);
    Py_XSETREF(MSG_TYPE, t);
    probe_layout(t);
    return 0;
}

/* What method k of msg returns, for the object fields (error, value, topic, key; the partition and
 * offset are read by read_int): read in place (DIRECT) or by calling it. A new reference, or NULL with
 * an exception. In place, as the methods do: a missing object is None. */
static inline PyObject *call(int k, PyObject *msg) {
    if (!MSG_DIRECT) return PyObject_Vectorcall(METHODS[k], &msg, 1, NULL);
    PyObject *o = *(PyObject *const *)((const char *)msg + MSG_AT[k]);
    return Py_NewRef(o != NULL ? o : Py_None);
}

/* BATCH: what EventConsumer.poll returns, a sequence of Consumed. Each record is kept as a row (its event,
 * key, offset, partition and topic index) and its Consumed is made when it is read (batch[i], iteration).
 * A list of Consumed objects cost each record two more objects (the Consumed and its offset int): in a
 * 10,000-record batch they are cold by the time the batch is freed, and each is a cache miss to make and
 * another to free (~190 of ~1,070 ns per record decoded and freed, 2026-11-28). The batch holds only what
 * the consumer read (events, keys, topic names), none of which can refer back to it, so it is not
 * tracked by the cyclic garbage collector; an object appended from Python that refers to its batch
 * would only be leaked. */
typedef struct {
    PyObject *event;        /* owned */
    int64_t offset;
    int64_t key_at;         /* where the key's bytes start in the batch's keys; -1: no key (None) */
    int32_t key_len;
    int32_t partition;
    int32_t topic;          /* index into the batch's topics */
} BRow;

/* The keys' bytes are copied into one buffer per batch rather than kept as the messages' bytes
 * objects: those are made hot by consume() and freed with their messages, where a kept one was one
 * more object per record to free cold (~3% of a consumed record's main-thread CPU, 2026-11-28). */
typedef struct {
    PyObject_HEAD
    BRow *rows;
    Py_ssize_t n, cap;
    char *keys;
    Py_ssize_t keys_len, keys_cap;
    PyObject *topics;       /* list of the distinct topic names, in order of first sight */
} BatchObject;

static PyTypeObject BatchType;

/* The index of `topic` (a str) in the batch's topics, added if new; -1 with an exception. */
static int32_t batch_topic(BatchObject *b, PyObject *topic) {
    Py_ssize_t n = PyList_GET_SIZE(b->topics);
    for (Py_ssize_t k = n - 1; k >= 0; k--) {
        PyObject *t = PyList_GET_ITEM(b->topics, k);
        if (t == topic) return (int32_t)k;
        int eq = PyUnicode_Compare(t, topic);
        if (eq == 0) return (int32_t)k;
        if (eq == -1 && PyErr_Occurred()) return -1;
    }
    if (n >= INT32_MAX || PyList_Append(b->topics, topic) < 0) return -1;
    return (int32_t)n;
}

/* Appends a row; steals `event` (also on failure). `key` (borrowed) is None or bytes. */
static int batch_push(BatchObject *b, int32_t topic, int32_t partition, int64_t offset, PyObject *key,
                      PyObject *event) {
    int64_t key_at = -1;
    Py_ssize_t key_len = 0;
    if (key != Py_None) {
        key_len = PyBytes_GET_SIZE(key);
        if (key_len > INT32_MAX) {
            Py_DECREF(event);
            PyErr_SetString(PyExc_ValueError, "append: a key of more than 2**31-1 bytes");
            return -1;
        }
        if (b->keys_len + key_len > b->keys_cap) {
            Py_ssize_t cap = b->keys_cap < 4096 ? 4096 : b->keys_cap;
            while (cap < b->keys_len + key_len && cap <= PY_SSIZE_T_MAX / 2) cap *= 2;
            char *keys = cap >= b->keys_len + key_len ? PyMem_Realloc(b->keys, (size_t)cap) : NULL;
            if (keys == NULL) {
                Py_DECREF(event);
                PyErr_NoMemory();
                return -1;
            }
            b->keys = keys;
            b->keys_cap = cap;
        }
        memcpy(b->keys + b->keys_len, PyBytes_AS_STRING(key), (size_t)key_len);
        key_at = b->keys_len;
        b->keys_len += key_len;
    }
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap < 64 ? 64 : b->cap * 2;
        BRow *rows = NULL;
        if (cap <= PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(BRow)) rows = PyMem_Realloc(b->rows, (size_t)cap * sizeof(BRow));
        if (rows == NULL) {
            Py_DECREF(event);
            PyErr_NoMemory();
            return -1;
        }
        b->rows = rows;
        b->cap = cap;
    }
    BRow *r = &b->rows[b->n++];
    r->event = event;
    r->key_at = key_at;
    r->key_len = (int32_t)key_len;
    r->offset = offset;
    r->partition = partition;
    r->topic = topic;
    return 0;
}

static PyObject *batch_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    if (PyTuple_GET_SIZE(args) != 0 || (kw != NULL && PyDict_GET_SIZE(kw) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Batch() takes no arguments; add records with append()");
        return NULL;
    }
    BatchObject *b = (BatchObject *)type->tp_alloc(type, 0);
    if (b == NULL) return NULL;
    if ((b->topics = PyList_New(0)) == NULL) {
        Py_DECREF(b);
        return NULL;
    }
    return (PyObject *)b;
}

/* FREE ORDER: the allocator hands out a size's freed blocks last freed first. A batch is freed from its
 * last row to its first, and an object's fields from the last to the first (fast_dealloc), so that the
 * next batch, decoded in the same order as this one was, gets this one's memory back in the order it was
 * laid out, which the CPU's prefetchers follow. Freed first to last, the next batch walked the memory
 * backwards: main-thread CPU per consumed event 1.39 against 1.29 us (eight alternating pairs,
 * 2026-11-28). Each row's event is asked for a few rows ahead (see PREFETCH). */
static void batch_dealloc(BatchObject *b) {
    for (Py_ssize_t i = b->n - 1; i >= 0; i--) {
        if (i >= 8) __builtin_prefetch(b->rows[i - 8].event, 1, 0);
        Py_DECREF(b->rows[i].event);
    }
    PyMem_Free(b->rows);
    PyMem_Free(b->keys);
    Py_XDECREF(b->topics);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

static Py_ssize_t batch_len(BatchObject *b) { return b->n; }

/* Row i as a new Consumed. */
static PyObject *batch_row(BatchObject *b, Py_ssize_t i) {
    if (CONSUMED == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Batch: call bind_consumed() first");
        return NULL;
    }
    BRow *r = &b->rows[i];
    PyObject *item = new_obj(CONSUMED);  /* see UNTRACKED */
    if (item == NULL) return NULL;
    PyObject *p = PyLong_FromLong(r->partition), *o = p ? PyLong_FromLongLong(r->offset) : NULL;
    PyObject *k = o == NULL ? NULL
                  : r->key_at < 0 ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize(b->keys + r->key_at, r->key_len);
    if (k == NULL) {
        Py_XDECREF(p);
        Py_XDECREF(o);
        Py_DECREF(item);
        return NULL;
    }
    SLOT(item, CONSUMED_OFF[0]) = Py_NewRef(PyList_GET_ITEM(b->topics, r->topic));
    SLOT(item, CONSUMED_OFF[1]) = p;
    SLOT(item, CONSUMED_OFF[2]) = o;
    SLOT(item, CONSUMED_OFF[3]) = k;
    SLOT(item, CONSUMED_OFF[4]) = Py_NewRef(r->event);
    return item;
}

static PyObject *batch_item(BatchObject *b, Py_ssize_t i) {
    if (i < 0 || i >= b->n) {
        PyErr_SetString(PyExc_IndexError, "Batch index out of range");
        return NULL;
    }
    return batch_row(b, i);
}

static PyObject *batch_subscript(BatchObject *b, PyObject *key) {
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) return NULL;
        return batch_item(b, i < 0 ? i + b->n : i);
    }
    if (!PySlice_Check(key)) {
        PyErr_Format(PyExc_TypeError, "Batch indices must be integers or slices, not %.200s", Py_TYPE(key)->tp_name);
        return NULL;
    }
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key, &start, &stop, &step) < 0) return NULL;
    Py_ssize_t len = PySlice_AdjustIndices(b->n, &start, &stop, step);
    PyObject *out = PyList_New(len);
    for (Py_ssize_t k = 0; out != NULL && k < len; k++) {
        PyObject *item = batch_row(b, start + k * step);
        if (item == NULL) Py_CLEAR(out);
        else PyList_SET_ITEM(out, k, item);
    }
    return out;  /* a slice is a list of Consumed */
}

static PyObject *batch_append(BatchObject *b, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "append(topic, partition, offset, key, event) takes 5 arguments");
        return NULL;
    }
    if (!PyUnicode_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "append: topic must be a str, not %.200s", Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    if (args[3] != Py_None && !PyBytes_Check(args[3])) {
        PyErr_Format(PyExc_TypeError, "append: key must be bytes or None, not %.200s", Py_TYPE(args[3])->tp_name);
        return NULL;
    }
    if (!PyLong_Check(args[1]) || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "append: partition and offset must be ints");
        return NULL;
    }
    long partition = PyLong_AsLong(args[1]);
    if ((partition == -1 && PyErr_Occurred()) || partition < 0 || partition > INT32_MAX) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "append: partition must be in 0..2**31-1");
        return NULL;
    }
    long long offset = PyLong_AsLongLong(args[2]);
    if ((offset == -1 && PyErr_Occurred()) || offset < 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "append: offset must be in 0..2**63-1");
        return NULL;
    }
    int32_t topic = batch_topic(b, args[0]);
    if (topic < 0) return NULL;
    if (batch_push(b, topic, (int32_t)partition, (int64_t)offset, args[3], Py_NewRef(args[4])) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Whether row i's Consumed equals value: 1, 0, or -1 with an exception. */
static int row_equals(BatchObject *b, Py_ssize_t i, PyObject *value) {
    PyObject *item = batch_row(b, i);
    int eq = item == NULL ? -1 : PyObject_RichCompareBool(item, value, Py_EQ);
    Py_XDECREF(item);
    return eq;
}

/* index(value[, start[, stop]]) and count(value), as collections.abc.Sequence gives the Python twin */
static PyObject *batch_index(BatchObject *b, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t start = 0, stop = PY_SSIZE_T_MAX;
    if (nargs < 1 || nargs > 3 || (nargs > 1 && !PyIndex_Check(args[1])) || (nargs > 2 && !PyIndex_Check(args[2]))) {
        PyErr_SetString(PyExc_TypeError, "index(value, start=0, stop=len): start and stop are ints");
        return NULL;
    }
    if (nargs > 1 && (start = PyNumber_AsSsize_t(args[1], NULL)) == -1 && PyErr_Occurred()) return NULL;
    if (nargs > 2 && (stop = PyNumber_AsSsize_t(args[2], NULL)) == -1 && PyErr_Occurred()) return NULL;
    if (start < 0) start = start + b->n < 0 ? 0 : start + b->n;
    if (stop < 0) stop += b->n;
    for (Py_ssize_t i = start; i < stop && i < b->n; i++) {
        int eq = row_equals(b, i, args[0]);
        if (eq < 0) return NULL;
        if (eq) return PyLong_FromSsize_t(i);
    }
    PyErr_SetString(PyExc_ValueError, "Batch.index(x): x not in batch");
    return NULL;
}

static PyObject *batch_count(BatchObject *b, PyObject *value) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < b->n; i++) {
        int eq = row_equals(b, i, value);
        if (eq < 0) return NULL;
        n += eq;
    }
    return PyLong_FromSsize_t(n);
}

static PyObject *batch_repr(BatchObject *b) {
    return PyUnicode_FromFormat("<Batch of %zd records>", b->n);
}

typedef struct {
    PyObject_HEAD
    BatchObject *batch;
    Py_ssize_t i;
} BatchIterObject;

static PyTypeObject BatchIterType;

static PyObject *batch_iter(BatchObject *b) {
    BatchIterObject *it = PyObject_New(BatchIterObject, &BatchIterType);
    if (it == NULL) return NULL;
    it->batch = (BatchObject *)Py_NewRef(b);
    it->i = 0;
    return (PyObject *)it;
}

static void batchiter_dealloc(BatchIterObject *it) {
    Py_DECREF(it->batch);
    PyObject_Free(it);
}

static PyObject *batchiter_next(BatchIterObject *it) {
    if (it->i >= it->batch->n) return NULL;
    return batch_row(it->batch, it->i++);
}

static PyObject *batchiter_length_hint(BatchIterObject *it, PyObject *unused) {
    return PyLong_FromSsize_t(it->batch->n > it->i ? it->batch->n - it->i : 0);
}

static PyMethodDef BATCHITER_METHODS[] = {
    {"__length_hint__", (PyCFunction)batchiter_length_hint, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BatchIterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "agentic.events._cdecode.BatchIterator",
    .tp_basicsize = sizeof(BatchIterObject),
    .tp_dealloc = (destructor)batchiter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)batchiter_next,
    .tp_methods = BATCHITER_METHODS,
};

static PySequenceMethods BATCH_SEQ = {
    .sq_length = (lenfunc)batch_len,
    .sq_item = (ssizeargfunc)batch_item,
};

static PyMappingMethods BATCH_MAP = {
    .mp_length = (lenfunc)batch_len,
    .mp_subscript = (binaryfunc)batch_subscript,
};

static PyMethodDef BATCH_METHODS[] = {
    {"append", (PyCFunction)(void (*)(void))batch_append, METH_FASTCALL,
     "append(topic, partition, offset, key, event): add a record."},
    {"index", (PyCFunction)(void (*)(void))batch_index, METH_FASTCALL,
     "index(value, start=0, stop=len) -> the first index of a record equal to value."},
    {"count", (PyCFunction)batch_count, METH_O, "count(value) -> how many records equal value."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "agentic.events._cdecode.Batch",
    .tp_doc = "The records one poll returned, in order: a sequence of Consumed, each made when read.",
    .tp_basicsize = sizeof(BatchObject),
    .tp_dealloc = (destructor)batch_dealloc,
    .tp_repr = (reprfunc)batch_repr,
    .tp_as_sequence = &BATCH_SEQ,
    .tp_as_mapping = &BATCH_MAP,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_SEQUENCE,
    .tp_iter = (getiterfunc)batch_iter,
    .tp_methods = BATCH_METHODS,
    .tp_new = batch_new,
};

/* The int32 (partition) or int64 (offset) field k of msg, in place or by its method; 0, or 1 when it
 * is missing or negative (None from the method), or -1 with an exception. */
static inline int read_int(int k, PyObject *msg, int64_t *out) {
    if (MSG_DIRECT) {
        const char *at = (const char *)msg + MSG_AT[k];
        if (k == M_PARTITION) {
            int32_t x;
            memcpy(&x, at, sizeof(x));
            *out = x;
        } else {
            memcpy(out, at, sizeof(*out));
        }
        return *out < 0;
    }
    PyObject *v = PyObject_Vectorcall(METHODS[k], &msg, 1, NULL);
    if (v == NULL) return -1;
    if (v == Py_None) {
        Py_DECREF(v);
        return 1;
    }
    long long x = PyLong_AsLongLong(v);
    Py_DECREF(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    *out = x;
    return x < 0 || (k == M_PARTITION && x > INT32_MAX);
}

#define PLAN_CACHE 64

/* consume(msgs, start, plans, rules, seen, out) -> int
 * From msgs[start]: each message without error whose value is framed with a schema id of `plans`
 * (dict id -> event index) is decoded, checked by rules[index] (None or a callable), and appended to
 * `out` (a Batch) with its position and key; (topic, partition) is added to `seen` when it changes. Stops at the first
 * message it cannot take (an error or end of partition, no value, an id not in plans, a refusal, a
 * rule that raises) and returns its index (len(msgs) when all were taken). */
static PyObject *py_consume(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6 || !PyList_Check(args[0]) || !PyDict_Check(args[2]) || !PyTuple_Check(args[3])
        || PyTuple_GET_SIZE(args[3]) != NEVENT || !PySet_Check(args[4]) || Py_TYPE(args[5]) != &BatchType) {
        PyErr_SetString(PyExc_TypeError, "consume(msgs: list, start: int, plans: dict, rules: tuple, seen: set, "
                                         "out: Batch)");
        return NULL;
    }
    if (!BOUND || CONSUMED == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "consume: call bind() and bind_consumed() first");
        return NULL;
    }
    PyObject *msgs = args[0], *plans = args[2], *rules = args[3], *seen = args[4];
    BatchObject *out = (BatchObject *)args[5];
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if (i == -1 && PyErr_Occurred()) return NULL;
    uint32_t cache_id[PLAN_CACHE];
    int cache_idx[PLAN_CACHE];
    for (int k = 0; k < PLAN_CACHE; k++) cache_idx[k] = -2;  /* -2: empty, -1: not a plan */
    PyObject *topic = NULL, *v = NULL;  /* topic: the current run's, as a message gave it */
    int64_t partition = -1;
    int32_t topic_ix = -1;
    /* No collection while the loop runs: what it allocates is untracked (see UNTRACKED), yet each
     * allocation counts towards the next young collection, which would walk the batch's messages. The
     * count is kept: one collection at most follows the loop. */
    int gc_was_on = PyGC_Disable();
    for (; i < PyList_GET_SIZE(msgs); i++) {
        PyObject *msg = PyList_GET_ITEM(msgs, i);
        if (Py_TYPE(msg) != MSG_TYPE && cache_methods(Py_TYPE(msg)) < 0) goto error;
        if ((v = call(M_ERROR, msg)) == NULL) goto error;
        if (v != Py_None) break;
        Py_DECREF(v);
        if ((v = call(M_VALUE, msg)) == NULL) goto error;
        if (!PyBytes_CheckExact(v) || PyBytes_GET_SIZE(v) < 5) break;
        const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(v);
        if (b[0] != 0) break;
        uint32_t sid = ((uint32_t)b[1] << 24) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 8) | b[4];
        int h = (int)(sid % PLAN_CACHE);
        if (cache_idx[h] == -2 || cache_id[h] != sid) {
            PyObject *key = PyLong_FromUnsignedLong(sid);
            if (key == NULL) goto error;
            PyObject *ix = PyDict_GetItemWithError(plans, key);  /* borrowed */
            Py_DECREF(key);
            if (ix == NULL && PyErr_Occurred()) goto error;
            long idx = ix != NULL && PyLong_Check(ix) ? PyLong_AsLong(ix) : -1;
            cache_id[h] = sid;
            cache_idx[h] = idx >= 0 && idx < NEVENT ? (int)idx : -1;
        }
        int index = cache_idx[h];
        if (index < 0) break;
        PyObject *event = decode_body((const char *)b, PyBytes_GET_SIZE(v), index);
        Py_CLEAR(v);
        if (event == NULL) break;
        PyObject *rule = PyTuple_GET_ITEM(rules, index);
        if (rule != Py_None) {
            PyObject *res = PyObject_CallOneArg(rule, event);
            if (res == NULL) {
                PyErr_Clear();  /* the Python path words the error and dead-letters the record */
                Py_DECREF(event);
                break;
            }
            Py_DECREF(res);
        }
        int64_t part, offset;
        int bad = read_int(M_PARTITION, msg, &part);
        if (bad == 0) bad = read_int(M_OFFSET, msg, &offset);
        if (bad != 0) {  /* no position: the Python path (with its error, if any) */
            Py_DECREF(event);
            if (bad < 0) goto error;
            break;
        }
        PyObject *t = call(M_TOPIC, msg);
        if (t == NULL) {
            Py_DECREF(event);
            goto error;
        }
        int same = topic != NULL && part == partition && (t == topic || PyUnicode_Compare(t, topic) == 0);
        if (!same) {  /* a new run: note its partition as seen, find its topic's index in the batch */
            PyObject *p = PyUnicode_Check(t) ? PyLong_FromLongLong(part) : NULL;
            PyObject *tp = p ? PyTuple_Pack(2, t, p) : NULL;
            int32_t ix = tp && PySet_Add(seen, tp) == 0 ? batch_topic(out, t) : -1;
            Py_XDECREF(p);
            Py_XDECREF(tp);
            if (ix < 0) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "consume: a message's topic is not a str");
                Py_DECREF(t);
                Py_DECREF(event);
                goto error;
            }
            Py_XSETREF(topic, t);
            partition = part;
            topic_ix = ix;
        } else {
            Py_DECREF(t);
        }
        PyObject *key = call(M_KEY, msg);
        if (key == NULL) {
            Py_DECREF(event);
            goto error;
        }
        if (key != Py_None && !PyBytes_Check(key)) {  /* not a record the loop takes: the Python path */
            Py_DECREF(key);
            Py_DECREF(event);
            break;
        }
        int pushed = batch_push(out, topic_ix, (int32_t)part, offset, key, event);
        Py_DECREF(key);
        if (pushed < 0) goto error;
    }
    Py_XDECREF(v);
    Py_XDECREF(topic);
    if (gc_was_on) PyGC_Enable();
    return PyLong_FromSsize_t(i);
error:
    Py_XDECREF(v);
    Py_XDECREF(topic);
    if (gc_was_on) PyGC_Enable();
    return NULL;
}

static PyObject *py_reads_in_place(PyObject *self, PyObject *arg) {
    if (!PyType_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "reads_in_place(cls: type)");
        return NULL;
    }
    if ((PyTypeObject *)arg != MSG_TYPE && cache_methods((PyTypeObject *)arg) < 0) return NULL;
    return PyBool_FromLong(MSG_DIRECT);
}

static PyObject *py_json_sure(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "json_sure(text: str)");
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
    if (s == NULL) {  /* not valid Unicode (lone surrogates): never JSON text the codec would take */
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    return PyBool_FromLong(json_sure(s, n));
}

static PyMethodDef METHODS_TABLE[] = {
    {"json_sure", (PyCFunction)py_json_sure, METH_O,
     "json_sure(text) -> bool: True only for text _is_json certainly accepts (for the tests)."},
    {"bind", (PyCFunction)(void (*)(void))py_bind, METH_FASTCALL,
     "bind(records, enums, is_json): the classes, enum members and JSON check the readers use."},
    {"decode", (PyCFunction)(void (*)(void))py_decode, METH_FASTCALL,
     "decode(data, index) -> event or None: a framed record of EVENT_TYPES[index]; None = refused."},
    {"bind_consumed", (PyCFunction)py_bind_consumed, METH_O, "bind_consumed(cls): the Consumed class."},
    {"encode", (PyCFunction)(void (*)(void))py_encode, METH_FASTCALL,
     "encode(event, index, header) -> bytes | None: the framed record, or None (refused: the Python path decides)."},
    {"reads_in_place", (PyCFunction)py_reads_in_place, METH_O,
     "reads_in_place(cls): whether consume() reads messages of this class in place (see DIRECT)."},
    {"consume", (PyCFunction)(void (*)(void))py_consume, METH_FASTCALL,
     "consume(msgs, start, plans, rules, seen, out: Batch) -> index of the first message not taken."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_cdecode",
                                    "Compiled checked readers of the event catalogue (generated).", -1,
                                    METHODS_TABLE, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cdecode(void) {
    if (PyType_Ready(&BatchType) < 0 || PyType_Ready(&BatchIterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&MODULE);
    if (m == NULL) return NULL;
    Py_INCREF(&BatchType);
    if (PyModule_AddObject(m, "Batch", (PyObject *)&BatchType) < 0) {
        Py_DECREF(&BatchType);
        goto fail;
    }
    PyObject *names = PyTuple_New(NEVENT);
    if (names == NULL) goto fail;
    for (int i = 0; i < NEVENT; i++) {
        PyObject *s = PyUnicode_FromString(EVENT_NAMES[i]);
        if (s == NULL) {
            Py_DECREF(names);
            goto fail;
        }
        PyTuple_SET_ITEM(names, i, s);
    }
    if (PyModule_AddObject(m, "EVENT_TYPES", names) < 0) {
        Py_DECREF(names);
        goto fail;
    }
    if (PyModule_AddStringConstant(m, "SCHEMA_DIGEST", SCHEMA_DIGEST) < 0) goto fail;
    if (PyModule_AddStringConstant(m, "RULES_DIGEST", RULES_DIGEST) < 0) goto fail;
    PyObject *ruled = PyTuple_New(0);
    for (int i = 0; ruled != NULL && i < NEVENT; i++) {
        if (EVENT_RULE[i] == NULL) continue;
        PyObject *s = PyUnicode_FromString(EVENT_NAMES[i]);
        if (s == NULL || _PyTuple_Resize(&ruled, PyTuple_GET_SIZE(ruled) + 1) < 0) {
            Py_XDECREF(s);
            Py_XDECREF(ruled);
            goto fail;
        }
        PyTuple_SET_ITEM(ruled, PyTuple_GET_SIZE(ruled) - 1, s);
    }
    if (ruled == NULL || PyModule_AddObject(m, "C_RULES", ruled) < 0) {
        Py_XDECREF(ruled);
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = generate()
    if "--check" in args:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET}: {'up to date' if same else 'STALE: run python -m agentic.schemas.ccodegen'}")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
