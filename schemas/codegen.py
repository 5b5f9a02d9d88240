"""Generate ``agentic/events/_generated.py`` from the catalogue: ``python -m agentic.schemas.codegen``.

For every record of the catalogue (events and the records nested in them) it writes a frozen,
slotted dataclass plus plain functions the codec calls, so that no reflection runs per event:

- ``_enc_<R>(o) -> dict``: the Avro-shaped dict fastavro writes;
- ``_dec_<R>(d) -> R``: the class from the dict fastavro reads (arrays become tuples, enums members);
- ``_chk_<R>(o)``: types and the catalogue's field constraints (``minimum``, ``maximum``,
  ``exclusiveMinimum``, ``minLength``, ``minItems``, ``allowed``, ``format``), raising
  :class:`EventValidationError` with the field path and the rule; ``_vchk_<R>`` the constraints
  only (for decoded events, whose types and ranges the reader guarantees);
- ``_write_<R>`` / ``_bytes_<R>``: the Avro binary writer (byte-identical to fastavro's);
- ``_read_<R>(d, p) -> (R, p)``: the Avro binary reader, nested records inline, each record filled
  into ``_Fill_<R>`` (a writable twin with the same slots) and then given the frozen class;
- ``_readv_<E>`` (events only): the same reader testing the field constraints as it reads, raising
  ``Refused`` on the first broken one (the codec then words the error with ``_read_`` + ``_vchk_``).

Enums become ``enum.StrEnum``; timestamps stay ``int`` ms; arrays are tuples; maps are plain
dicts. ``--check`` exits 1 when the committed file differs from a fresh generation.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.schemas.catalogue import (
    CONSTRAINT_KEYS,
    NAMESPACE,
    event_types,
    full_name,
    resolved_schema,
)

TARGET = Path(__file__).resolve().parent.parent / "agentic" / "events" / "_generated.py"
PRIMS = {"string": "str", "int": "int", "long": "int", "double": "float", "float": "float",
         "boolean": "bool", "bytes": "bytes", "null": "None"}
INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


@dataclass
class Named:
    """Named types found in the catalogue, in definition order (dependencies first)."""

    enums: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _collect(schema: Any, named: Named, ns: str) -> Any:
    """Register named types (post-order) and return the type with named types replaced by their names."""
    if isinstance(schema, list):
        return [_collect(s, named, ns) for s in schema]
    if isinstance(schema, str):
        return schema if schema in PRIMS else (schema if "." in schema else f"{ns}.{schema}")
    kind = schema["type"]
    if kind in ("record", "enum"):
        name = full_name({"namespace": ns, **schema})
        if kind == "record":
            space = name.rsplit(".", 1)[0]
            fields = [{**f, "type": _collect(f["type"], named, space)} for f in schema["fields"]]
            body = {**schema, "fields": fields}
            table: dict[str, dict[str, Any]] = named.records
        else:
            body = dict(schema)
            table = named.enums
        if name in table and table[name] != body:
            raise SystemExit(f"named type {name} is defined twice with different definitions")
        table[name] = body
        return name
    if kind == "array":
        return {"type": "array", "items": _collect(schema["items"], named, ns)}
    if kind == "map":
        return {"type": "map", "values": _collect(schema["values"], named, ns)}
    if kind in PRIMS:
        return kind
    raise SystemExit(f"unsupported Avro type {schema!r}")


def _nullable(t: Any) -> Any | None:
    """The non-null branch of ``["null", T]``; None for any other type. Other unions are refused."""
    if not isinstance(t, list):
        return None
    if len(t) == 2 and t[0] == "null":
        return t[1]
    raise SystemExit(f"only ['null', T] unions are supported, got {t!r}")


def _lit(path: str) -> str:
    """A path template (``members[{i1}].name``) as Python source: an f-string when it has variables."""
    return f"f'{path}'" if "{" in path else repr(path)


def _item(var: str, key: str) -> str:
    return f"{var}[{key!r}]"


def _constraints(f: dict[str, Any]) -> dict[str, Any]:
    """The catalogue constraints of a field (see `CONSTRAINT_KEYS`)."""
    return {k: f[k] for k in CONSTRAINT_KEYS if k in f}


class Gen:
    def __init__(self, named: Named) -> None:
        self.named = named
        self.tmp = 0
        self.prefix = "chk"
        self.checked = False  # True while generating a checked reader (_readv_)

    def fresh(self, base: str) -> str:
        self.tmp += 1
        return f"{base}{self.tmp}"

    # ---- annotations
    def ann(self, t: Any) -> str:
        inner = _nullable(t)
        if inner is not None:
            return f"{self.ann(inner)} | None"
        if isinstance(t, dict):
            if t["type"] == "array":
                return f"tuple[{self.ann(t['items'])}, ...]"
            return f"dict[str, {self.ann(t['values'])}]"
        return PRIMS.get(t) or _short(t)

    # ---- encode: class value -> Avro dict value
    def enc(self, x: str, t: Any) -> str:
        inner = _nullable(t)
        if inner is not None:
            e = self.enc(x, inner)
            return x if e == x else f"(None if {x} is None else {e})"
        if isinstance(t, dict):
            sub = t.get("items", t.get("values"))
            y = self.fresh("v")
            e = self.enc(y, sub)
            if e == y:
                return x
            if t["type"] == "array":
                return f"[{e} for {y} in {x}]"
            return f"{{k: {e} for k, {y} in {x}.items()}}"
        if isinstance(t, str) and t in self.named.records:
            return f"_enc_{_short(t)}({x})"
        return x

    # ---- decode: Avro dict value -> class value
    def dec(self, x: str, t: Any) -> str:
        inner = _nullable(t)
        if inner is not None:
            y = self.fresh("n")
            e = self.dec(y, inner)
            return x if e == y else f"(None if ({y} := {x}) is None else {e})"
        if isinstance(t, dict):
            sub = t.get("items", t.get("values"))
            y = self.fresh("v")
            e = self.dec(y, sub)
            if t["type"] == "array":
                return f"tuple({x})" if e == y else f"tuple([{e} for {y} in {x}])"
            return x if e == y else f"{{k: {e} for k, {y} in {x}.items()}}"
        if isinstance(t, str) and t in self.named.records:
            return f"_dec_{_short(t)}({x})"
        if isinstance(t, str) and t in self.named.enums:
            return f"_ENUM_{_short(t)}[{x}]"
        return x

    # ---- check: statements validating value `x` at path expression `p`. Two variants per record:
    # _chk_ (types and constraints, before encoding) and _vchk_ (constraints only, after decoding,
    # where Avro already guarantees the types).
    def typed(self, lines: list[str]) -> list[str]:
        return lines if self.prefix == "chk" else []

    def chk(self, x: str, t: Any, p: str, c: dict[str, Any], ind: str) -> list[str]:
        q = _lit(p)
        inner = _nullable(t)
        if inner is not None:
            body = self.chk(x, inner, p, c, ind + "    ")
            return [f"{ind}if {x} is not None:", *body] if body else []
        if isinstance(t, dict) and t["type"] == "array":
            i, y = self.fresh("i"), self.fresh("v")
            out = self.typed([f"{ind}if type({x}) is not tuple:",
                              f"{ind}    raise _type_error({q}, {x}, 'a tuple (Avro array)')"])
            if "minItems" in c:
                out += [f"{ind}if len({x}) < {c['minItems']}:",
                        f"{ind}    raise EventValidationError({q}, 'minItems', "
                        f"'needs at least {c['minItems']} item(s)')"]
            sub = {k: v for k, v in c.items() if k != "minItems"}
            body = self.chk(y, t["items"], f"{p}[{{{i}}}]", sub, ind + "    ")
            return [*out, f"{ind}for {i}, {y} in enumerate({x}):", *body] if body else out
        if isinstance(t, dict):
            k, y = self.fresh("k"), self.fresh("v")
            kq = _lit(f"{p}[{{{k}!r}}]")
            out = self.typed([f"{ind}if type({x}) is not dict:",
                              f"{ind}    raise _type_error({q}, {x}, 'a dict (Avro map)')"])
            body = [*self.typed([f"{ind}    if type({k}) is not str:",
                                 f"{ind}        raise _type_error({kq}, {k}, 'a str map key')"]),
                    *self.chk(y, t["values"], f"{p}[{{{k}!r}}]", c, ind + "    ")]
            return [*out, f"{ind}for {k}, {y} in {x}.items():", *body] if body else out
        if t in self.named.records:
            n = _short(t)
            return [*self.typed([f"{ind}if type({x}) is not {n}:",
                                 f"{ind}    raise _type_error({q}, {x}, 'an instance of {n}')"]),
                    f"{ind}try:",
                    f"{ind}    _{self.prefix}_{n}({x})",
                    f"{ind}except EventValidationError as e:",
                    f"{ind}    raise e.within({q}) from None"]
        if t in self.named.enums:
            n = _short(t)
            return self.typed([f"{ind}if type({x}) is not {n} and (type({x}) is not str or {x} not in _ENUM_{n}):",
                               f"{ind}    raise _enum_error({q}, {x}, {n})"])
        return self.chk_prim(x, t, p, c, ind)

    def chk_prim(self, x: str, t: str, p: str, c: dict[str, Any], ind: str) -> list[str]:
        q = _lit(p)
        if t == "string":
            out = self.typed([f"{ind}if type({x}) is not str:", f"{ind}    raise _type_error({q}, {x}, 'a str')"])
        elif t in ("int", "long"):
            lo, hi = INT_RANGE[t]
            # the range is a type property: the generated reader enforces it, so _vchk_ skips it
            out = self.typed([f"{ind}if type({x}) is not int:", f"{ind}    raise _type_error({q}, {x}, 'an int')",
                              f"{ind}if not {lo} <= {x} <= {hi}:",
                              f"{ind}    raise EventValidationError({q}, '{t}_range', "
                              f"f'{{{x}}} does not fit an Avro {t}; use a value in [{lo}, {hi}]')"])
        elif t in ("double", "float"):
            out = self.typed([f"{ind}if type({x}) is not float and type({x}) is not int:",
                              f"{ind}    raise _type_error({q}, {x}, 'a float')"])
        elif t == "boolean":
            out = self.typed([f"{ind}if type({x}) is not bool:", f"{ind}    raise _type_error({q}, {x}, 'a bool')"])
        elif t == "bytes":
            out = self.typed([f"{ind}if type({x}) is not bytes:", f"{ind}    raise _type_error({q}, {x}, 'bytes')"])
        else:
            raise SystemExit(f"unsupported primitive {t}")
        return out + self.constraints(x, p, c, ind)

    def constraints(self, x: str, p: str, c: dict[str, Any], ind: str) -> list[str]:
        q = _lit(p)
        out: list[str] = []

        def rule(cond: str, name: str, msg: str) -> None:
            out.extend([f"{ind}if {cond}:", f"{ind}    raise EventValidationError({q}, {name!r}, {msg})"])

        if "minimum" in c:
            rule(f"{x} < {c['minimum']!r}", "minimum", f"f'is {{{x}!r}}; must be >= {c['minimum']!r}'")
        if "maximum" in c:
            rule(f"{x} > {c['maximum']!r}", "maximum", f"f'is {{{x}!r}}; must be <= {c['maximum']!r}'")
        if "exclusiveMinimum" in c:
            m = c["exclusiveMinimum"]
            rule(f"{x} <= {m!r}", "exclusiveMinimum", f"f'is {{{x}!r}}; must be > {m!r}'")
        if "minLength" in c:
            n = c["minLength"]
            rule(f"not {x}" if n == 1 else f"len({x}) < {n}", "minLength",
                 "'must not be empty'" if n == 1 else f"'needs at least {n} characters'")
        if "allowed" in c:
            vals = tuple(c["allowed"])
            rule(f"{x} not in {vals!r}", "allowed", f"f'is {{{x}!r}}; use one of {', '.join(vals)}'")
        if c.get("format") == "uuid":
            rule(f"_UUID.fullmatch({x}) is None", "format_uuid",
                 f"f'is {{{x}!r}}; use a canonical lowercase UUID (8-4-4-4-12 hex digits)'")
        elif c.get("format") == "json":
            rule(f"not _is_json({x})", "format_json", "'is not a valid JSON document; send JSON text'")
        return out

    # ---- write: Avro binary of value `x`, appended with `a` (list.append of byte chunks)
    def wr(self, x: str, t: Any, ind: str) -> list[str]:
        inner = _nullable(t)
        if inner is not None:
            return [f"{ind}if {x} is None:", f"{ind}    a(b'\\x00')", f"{ind}else:", f"{ind}    a(b'\\x02')",
                    *self.wr(x, inner, ind + "    ")]
        if isinstance(t, dict):
            return self.wr_block(x, t, ind)
        if t in self.named.records:
            return [f"{ind}_write_{_short(t)}({x}, a)"]
        if t in self.named.enums:
            return [f"{ind}a(_EIDX_{_short(t)}[{x}])"]
        if t == "string":
            b, n = self.fresh("b"), self.fresh("n")
            return [f"{ind}{b} = {x}.encode()", f"{ind}{n} = len({b})",
                    f"{ind}a(_SMALL[{n}] if {n} < _NSMALL else _zz({n}))", f"{ind}a({b})"]
        if t in ("int", "long"):
            pre: list[str] = []
            if not x.isidentifier():
                y = self.fresh("i")
                pre, x = [f"{ind}{y} = {x}"], y
            return [*pre, f"{ind}a(_SMALL[{x}] if 0 <= {x} < _NSMALL else _zz({x}))"]
        if t == "double":
            return [f"{ind}a(_pack_d({x}))"]
        if t == "float":
            return [f"{ind}a(_pack_f({x}))"]
        if t == "boolean":
            return [f"{ind}a(b'\\x01' if {x} else b'\\x00')"]
        if t == "bytes":
            return [f"{ind}a(_SMALL[len({x})] if len({x}) < _NSMALL else _zz(len({x})))", f"{ind}a({x})"]
        raise SystemExit(f"cannot generate a writer for {t!r}")

    def wr_block(self, x: str, t: dict[str, Any], ind: str) -> list[str]:
        """Arrays and maps: one block (count, items), then the 0 terminator, as fastavro writes them."""
        n, y = self.fresh("n"), self.fresh("v")
        head = [f"{ind}if {x}:", f"{ind}    {n} = len({x})", f"{ind}    a(_SMALL[{n}] if {n} < _NSMALL else _zz({n}))"]
        if t["type"] == "array" and t["items"] in ("double", "float"):
            code = "d" if t["items"] == "double" else "f"
            return [*head, f"{ind}    a(_pack(f'<{{{n}}}{code}', *{x}))", f"{ind}a(b'\\x00')"]
        if t["type"] == "array":
            body = [f"{ind}    for {y} in {x}:", *self.wr(y, t["items"], ind + "        ")]
        else:
            k = self.fresh("k")
            body = [f"{ind}    for {k}, {y} in {x}.items():", *self.wr(k, "string", ind + "        "),
                    *self.wr(y, t["values"], ind + "        ")]
        return [*head, *body, f"{ind}a(b'\\x00')"]

    # ---- read: Avro binary at d[p:] into target `v` (a local or `obj.field`), advancing `p`.
    # Single-byte varints (the common case) come from tables; longer ones from the slow paths, which
    # also enforce the int/long ranges, so a decoded value always fits its Avro type. Lengths are
    # not bounds-checked per string: a slice past the end leaves `p > len(d)`, which the caller
    # reports (every read advances `p`, none goes back).
    def rd_varint(self, v: str, ind: str, slow: str) -> list[str]:
        return [f"{ind}{v} = _ZZ[d[p]]", f"{ind}if {v} is None:", f"{ind}    {v}, p = {slow}(d, p)",
                f"{ind}else:", f"{ind}    p += 1"]

    def rd_str(self, x: str, tail: str, ind: str) -> list[str]:
        """A string or bytes into `x`. The common one-byte length: the table gives where it ends."""
        e, q = self.fresh("e"), self.fresh("q")
        return [f"{ind}{e} = _END[d[p]]", f"{ind}if {e} < 0:", f"{ind}    {q}, {e} = _rspan(d, p)",
                f"{ind}    {x} = d[{q}:{e}]{tail}", f"{ind}else:", f"{ind}    {e} += p",
                f"{ind}    {x} = d[p + 1:{e}]{tail}", f"{ind}p = {e}"]

    def refuse(self, x: str, c: dict[str, Any], ind: str) -> list[str]:
        """In the checked reader: the field constraints of value `x`, one `if`, raising `Refused` (the
        codec then re-reads the record to report the error as `_vchk_` words it, path and rule)."""
        if not self.checked:
            return []
        conds = []
        if "minimum" in c:
            conds.append(f"{x} < {c['minimum']!r}")
        if "maximum" in c:
            conds.append(f"{x} > {c['maximum']!r}")
        if "exclusiveMinimum" in c:
            conds.append(f"{x} <= {c['exclusiveMinimum']!r}")
        if "minLength" in c:
            conds.append(f"not {x}" if c["minLength"] == 1 else f"len({x}) < {c['minLength']}")
        if "allowed" in c:
            conds.append(f"{x} not in {tuple(c['allowed'])!r}")
        if c.get("format") == "uuid":
            conds.append(f"_UUID.fullmatch({x}) is None")
        elif c.get("format") == "json":
            conds.append(f"not _is_json({x})")
        return [f"{ind}if {' or '.join(conds)}:", f"{ind}    raise Refused"] if conds else []

    def rd(self, v: str, t: Any, ind: str, c: dict[str, Any] | None = None) -> list[str]:
        c = c or {}
        inner = _nullable(t)
        if inner is not None:
            b = self.fresh("u")
            return [f"{ind}{b} = d[p]", f"{ind}p += 1", f"{ind}if {b} == 0:", f"{ind}    {v} = None",
                    f"{ind}elif {b} == 2:", *self.rd(v, inner, ind + "    ", c), f"{ind}else:",
                    f"{ind}    raise ValueError(f'union branch index {{{b}}} out of range')"]
        if isinstance(t, dict):
            return self.rd_block(v, t, ind, c)
        if t in self.named.records:
            return self.rd_record(v, t, ind)
        if t in self.named.enums:
            i = self.fresh("e")
            return [*self.rd_varint(i, ind, "_rint"), f"{ind}if {i} < 0:",
                    f"{ind}    raise ValueError('negative enum index')", f"{ind}{v} = _ESYM_{_short(t)}[{i}]"]
        checks = self.refuse("{x}", c, ind)
        direct = v.isidentifier() or not checks  # read straight into the target, or into a local first
        x = v if v.isidentifier() else self.fresh("x")
        if direct:
            x = v
        checks = [line.replace("{x}", x) for line in checks]
        store = [] if x == v else [f"{ind}{v} = {x}"]
        if t in ("int", "long"):
            if not v.isidentifier() and direct:
                x = self.fresh("i")
                store = [f"{ind}{v} = {x}"]
            return [*self.rd_varint(x, ind, "_rint" if t == "int" else "_rlong"), *checks, *store]
        if t in ("string", "bytes"):
            return [*self.rd_str(x, ".decode()" if t == "string" else "", ind), *checks, *store]
        if t in ("double", "float"):
            size, fn = (8, "_unpack_d") if t == "double" else (4, "_unpack_f")
            return [f"{ind}{x} = {fn}(d, p)[0]", f"{ind}p += {size}", *checks, *store]
        if t == "boolean":
            b = self.fresh("b")
            return [f"{ind}{b} = d[p]", f"{ind}p += 1", f"{ind}if {b} > 1:",
                    f"{ind}    raise ValueError('boolean byte is not 0 or 1')", f"{ind}{x} = {b} == 1", *checks, *store]
        raise SystemExit(f"cannot generate a reader for {t!r}")

    def rd_record(self, v: str, t: str, ind: str) -> list[str]:
        """A nested record, inline: its fields go straight into a fill object (see `_Fill_`)."""
        n = _short(t)
        o = self.fresh("o")
        out = [f"{ind}{o} = _fill(_Fill_{n})"]
        for f in self.named.records[t]["fields"]:
            out += self.rd(f"{o}.{f['name']}", f["type"], ind, _constraints(f))
        return [*out, f"{ind}{o}.__class__ = {n}", f"{ind}{v} = {o}"]

    def rd_block(self, v: str, t: dict[str, Any], ind: str, c: dict[str, Any]) -> list[str]:
        """Arrays and maps: blocks of (count[, byte size when count < 0], items) until count 0.
        `c` holds the field's constraints: ``minItems`` for the array, the others for each item (value)."""
        acc, n, y, size = self.fresh("acc"), self.fresh("n"), self.fresh("v"), self.fresh("_size")
        is_array = t["type"] == "array"
        sub = {k: val for k, val in c.items() if k != "minItems"}
        out = [f"{ind}{acc}: Any = {'[]' if is_array else '{}'}", f"{ind}while True:",
               *self.rd_varint(n, ind + "    ", "_rlong"), f"{ind}    if {n} == 0:", f"{ind}        break",
               f"{ind}    if {n} < 0:", f"{ind}        {n} = -{n}", *self.rd_varint(size, ind + "        ", "_rlong")]
        inner = ind + "        "
        if is_array and t["items"] in ("double", "float"):
            code, width = ("d", 8) if t["items"] == "double" else ("f", 4)
            out += [f"{ind}    {acc}.extend(_unpack_from(f'<{{{n}}}{code}', d, p))", f"{ind}    p += {width} * {n}"]
            checks = self.refuse(y, sub, ind + "    ")
            if checks:
                out += [f"{ind}for {y} in {acc}:", *checks]
        elif is_array:
            out += [f"{ind}    for _ in range({n}):", *self.rd(y, t["items"], inner, sub), f"{inner}{acc}.append({y})"]
        else:
            k = self.fresh("k")
            out += [f"{ind}    for _ in range({n}):", *self.rd(k, "string", inner),
                    *self.rd(y, t["values"], inner, sub), f"{inner}{acc}[{k}] = {y}"]
        if self.checked and "minItems" in c:
            out += [f"{ind}if len({acc}) < {c['minItems']}:", f"{ind}    raise Refused"]
        return [*out, f"{ind}{v} = {f'tuple({acc})' if is_array else acc}"]

    # ---- one record
    def record(self, name: str, r: dict[str, Any], is_event: bool) -> list[str]:
        n = _short(name)
        self.tmp = 0  # temporaries numbered per record: a schema change only touches its own code
        fields = r["fields"]
        doc = [f'    """{r.get("doc", n)}', ""]
        doc += ["    Attributes:"]
        for f in fields:
            doc += textwrap.wrap(f"{f['name']}: {f.get('doc', '')}", 100,
                                 initial_indent="        ", subsequent_indent="            ")
        doc += ['    """', ""]
        out = ["", "", "@dataclass(frozen=True, slots=True, kw_only=True)", f"class {n}:", *doc,
               f"    RECORD_NAME: ClassVar[str] = {name!r}"]
        if is_event:
            out.append(f"    EVENT_TYPE: ClassVar[str] = {n!r}")
        out.append("")
        for f in fields:
            default = ""
            if "default" in f:
                if f["default"] is not None:
                    raise SystemExit(f"{name}.{f['name']}: only null defaults are supported by codegen")
                default = " = None"
            out.append(f"    {f['name']}: {self.ann(f['type'])}{default}")
        out += ["", "", f"def _enc_{n}(o: {n}) -> dict[str, Any]:", "    return {"]
        out += [f"        {f['name']!r}: {self.enc('o.' + f['name'], f['type'])}," for f in fields]
        # Decoding bypasses the frozen __init__ (3x slower) and fills the slots directly: the
        # values come from Avro and are checked by _chk_ afterwards when the codec validates.
        out += ["    }", ""]
        out += [f"_set_{n}_{f['name']} = {n}.__dict__[{f['name']!r}].__set__" for f in fields]
        out += ["", "", f"def _dec_{n}(d: dict[str, Any]) -> {n}:", f"    o = _new({n})"]
        out += [f"    _set_{n}_{f['name']}(o, {self.dec(_item('d', f['name']), f['type'])})" for f in fields]
        out += ["    return o", "", "", f"def _write_{n}(o: {n}, a: Callable[[bytes], None]) -> None:"]
        for f in fields:
            out += self.wr(f"o.{f['name']}", f["type"], "    ")
        out += ["", "", f"def _bytes_{n}(o: {n}, header: bytes) -> bytes:",
                "    chunks = [header]", f"    _write_{n}(o, chunks.append)", "    return b''.join(chunks)"]
        # The reader fills a plain slotted twin of the class (same slots, same order, so the same
        # layout), then makes it the frozen class by assigning __class__: 2-3x cheaper than the
        # slot setters, 5x cheaper than the frozen __init__. Nested records are read inline.
        slots = tuple(f["name"] for f in fields)
        out += ["", "", f"class _Fill_{n}:", f'    """{n}\'s slots, writable: what the reader fills."""', "",
                f"    __slots__ = {slots!r}"]
        out += ["", "", f"def _read_{n}(d: bytes, p: int) -> tuple[{n}, int]:", f"    o = _fill(_Fill_{n})"]
        for f in fields:
            out += self.rd(f"o.{f['name']}", f["type"], "    ")
        out += [f"    o.__class__ = {n}", "    return o, p"]
        if is_event:  # the reader with the field constraints checked as values are read (_vchk_'s rules)
            self.checked = True
            out += ["", "", f"def _readv_{n}(d: bytes, p: int) -> tuple[{n}, int]:", f"    o = _fill(_Fill_{n})"]
            for f in fields:
                out += self.rd(f"o.{f['name']}", f["type"], "    ", _constraints(f))
            out += [f"    o.__class__ = {n}", "    return o, p"]
            self.checked = False
        for prefix in ("chk", "vchk"):
            self.prefix = prefix
            out += ["", "", f"def _{prefix}_{n}(o: {n}) -> None:"]
            body: list[str] = []
            for f in fields:
                c = {k: f[k] for k in CONSTRAINT_KEYS if k in f}
                x = f"f_{f['name']}"
                lines = self.chk(x, f["type"], f["name"], c, "    ")
                body += [f"    {x} = o.{f['name']}", *lines] if lines else []
            out += body or ["    return"]
        self.prefix = "chk"
        return out


HEADER = '''\
# Generated by `python -m agentic.schemas.codegen` from schemas/avro/*.avsc. DO NOT EDIT.
# Regenerate after changing a schema; tests/unit/test_schemas.py fails when this file is stale.
# Generated code keeps one expression per line and one `if` per rule, so long lines and nested
# ifs are expected here; a _Fill_ class lists its slots in the order of its dataclass (the layout):
# ruff: noqa: E501, SIM102, RUF022, RUF023
"""Typed, frozen event classes of the catalogue, with the per-class functions the codec uses."""

from __future__ import annotations

import enum
import json
import json.scanner
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from agentic.schemas.errors import EventValidationError

_new = object.__new__
_fill: Callable[[type], Any] = object.__new__  # a _Fill_ object, typed Any: its class changes
_pack = struct.pack
_pack_d = struct.Struct("<d").pack
_pack_f = struct.Struct("<f").pack


def _zz(n: int) -> bytes:
    """Avro long: zig-zag, then base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_unpack_d = struct.Struct("<d").unpack_from
_unpack_f = struct.Struct("<f").unpack_from
_unpack_from = struct.unpack_from


# Readers: a varint of one byte (the common case) is a table look-up; longer ones take the slow
# paths below, which also enforce the Avro ranges (a long fits 64 bits, an int 32, a length >= 0).
_ZZ: tuple[int | None, ...] = tuple(((b >> 1) ^ -(b & 1)) if b < 128 else None for b in range(256))
_END: tuple[int, ...] = tuple((b >> 1) + 1 if b < 128 and not b & 1 else -1 for b in range(256))  # 1 + length


def _rlong(d: bytes, p: int) -> tuple[int, int]:
    """Avro long at d[p]: (value, next position). Two and three bytes (sizes, counts) unrolled."""
    b = d[p]
    r = b & 0x7F
    if b < 0x80:
        return (r >> 1) ^ -(r & 1), p + 1
    b = d[p + 1]
    r |= (b & 0x7F) << 7
    if b < 0x80:
        return (r >> 1) ^ -(r & 1), p + 2
    b = d[p + 2]
    r |= (b & 0x7F) << 14
    if b < 0x80:
        return (r >> 1) ^ -(r & 1), p + 3
    s = 21
    p += 3
    while b > 0x7F:
        b = d[p]
        r |= (b & 0x7F) << s
        s += 7
        p += 1
    if s > 70 or r >> 64:
        raise ValueError("varint does not fit an Avro long (64 bits, 10 bytes)")
    return (r >> 1) ^ -(r & 1), p


def _rint(d: bytes, p: int) -> tuple[int, int]:
    """Avro int at d[p]: (value, next position)."""
    v, p = _rlong(d, p)
    if not -(2**31) <= v < 2**31:
        raise ValueError(f"{v} does not fit an Avro int (32 bits)")
    return v, p


def _rspan(d: bytes, p: int) -> tuple[int, int]:
    """The Avro string or bytes whose length is at d[p]: (start, end) of its content."""
    n, p = _rlong(d, p)
    if n < 0:
        raise ValueError(f"negative string length {n}")
    return p, p + n


_NSMALL = 8192
_SMALL = [_zz(i) for i in range(_NSMALL)]  # encodings of 0..8191: lengths and small longs
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


_json_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # stub: context is a decoder


def _is_json(text: str) -> bool:
    """Whether `json.loads` accepts `text`: the same scanner, without the wrapper (3x cheaper)."""
    doc = text.strip(" \\t\\n\\r")  # JSON whitespace, as json.loads skips it
    try:
        end = _json_scan(doc, 0)[1]
    except (StopIteration, ValueError):
        return False
    return bool(end == len(doc))


class Refused(Exception):  # a signal inside the codec, never seen by users
    """Raised by a checked reader (``READV``) when a value breaks a field constraint; the codec
    then reads the record again with ``READ`` and ``VCHK`` to report the error by path and rule."""


def _type_error(path: str, value: object, expected: str) -> EventValidationError:
    return EventValidationError(path, "type", f"must be {expected}, got {type(value).__name__} {value!r:.60}")


def _enum_error(path: str, value: object, enum_cls: type[enum.StrEnum]) -> EventValidationError:
    symbols = ", ".join(m.value for m in enum_cls)
    return EventValidationError(path, "enum", f"is {value!r:.60}; use one of {symbols}")
'''


def generate() -> str:
    named = Named()
    events = event_types()
    for et in events:
        _collect(resolved_schema(et), named, NAMESPACE)
    g = Gen(named)
    out = [HEADER.rstrip("\n")]
    for name, e in named.enums.items():
        n = _short(name)
        out += ["", "", f"class {n}(enum.StrEnum):", f'    """{e.get("doc", n)}"""', ""]
        out += [f"    {s} = {s!r}" for s in e["symbols"]]
        out += ["", "", f"_ENUM_{n}: dict[str, {n}] = {{m.value: m for m in {n}}}",
                f"_EIDX_{n}: dict[str, bytes] = {{m.value: _zz(i) for i, m in enumerate({n})}}",
                f"_ESYM_{n}: tuple[{n}, ...] = tuple({n})"]
    event_names = {f"{NAMESPACE}.{et}" for et in events}
    for name, r in named.records.items():
        out += g.record(name, r, name in event_names)
    alternatives = [f"    {'| ' if i else ''}{et}" for i, et in enumerate(events)]
    out += ["", "", "Event: TypeAlias = (", *alternatives, ")"]
    out += ["EVENT_CLASSES: dict[str, type[Any]] = {", *[f"    {et!r}: {et}," for et in events], "}"]
    recs = [_short(n) for n in named.records]
    out += ["RECORD_CLASSES: dict[str, type[Any]] = {",
            *[f"    {n!r}: {_short(n)}," for n in named.records], "}"]
    out += ["ENUM_CLASSES: dict[str, type[enum.StrEnum]] = {",
            *[f"    {n!r}: {_short(n)}," for n in named.enums], "}"]
    public = sorted([*events, *(_short(n) for n in named.records), *(_short(n) for n in named.enums)])
    public = sorted({*public, "ENUM_CLASSES", "EVENT_CLASSES", "RECORD_CLASSES", "Event"})
    out += ["__all__ = [", *[f"    {n!r}," for n in public], "]"]
    for kind in ("enc", "dec", "chk", "vchk", "bytes", "read"):
        out += [f"{kind.upper()}: dict[str, Any] = {{", *[f"    {r!r}: _{kind}_{r}," for r in recs], "}"]
    out += ["READV: dict[str, Any] = {", *[f"    {et!r}: _readv_{et}," for et in events], "}"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = generate()
    if "--check" in args:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET}: {'up to date' if same else 'STALE: run python -m agentic.schemas.codegen'}")
        return 0 if same else 1
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
