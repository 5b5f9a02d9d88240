/* _crows: Confluent-framed Avro -> the raw `events` row line (JSONCompactEachRow), byte-identical to
 * orjson.dumps(rows.event_row(...), option=OPT_SORT_KEYS) of today's Python path.
 *
 * It interprets a row program compiled by rowgen.py (format described there and below). Anything it
 * cannot reproduce exactly, or that cavro would read differently, is REFUSED: the caller then takes the
 * Python path for that record, so a line written here is always the Python path's line.
 *
 * Program: u32 version, envelope record node, payload record node. Node: u32 size (whole node), u32 kind,
 * then per kind: ENUM u32 n, n x (u32 len, JSON text); ARRAY/MAP child node; UNION u32 n, n child nodes;
 * RECORD u32 n, u32 permuted, n x u32 sorted order (writer indexes), n x (u32 len, JSON key + ':', node).
 * All integers little-endian.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#define FORMAT 1
#define MAX_FIELDS 64

enum { K_NULL = 1, K_BOOLEAN, K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_STRING, K_ENUM, K_ARRAY, K_MAP, K_UNION,
       K_RECORD };
enum { OK = 0, REFUSE = 1, NOMEM = -1 };

typedef struct { char *p; size_t len, cap; } Buf;
typedef struct { const uint8_t *p, *end; } In;

static uint32_t u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static int grow(Buf *b, size_t extra) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) return NOMEM;
    b->p = p; b->cap = cap;
    return OK;
}
#define RESERVE(b, n) do { if ((b)->len + (size_t)(n) > (b)->cap && grow((b), (n)) != OK) return NOMEM; } while (0)
#define CHECK(expr) do { int rc_ = (expr); if (rc_ != OK) return rc_; } while (0)

static int put(Buf *b, const void *src, size_t n) {
    RESERVE(b, n);
    memcpy(b->p + b->len, src, n); b->len += n;
    return OK;
}
static int putc_(Buf *b, char c) { RESERVE(b, 1); b->p[b->len++] = c; return OK; }

static int put_i64(Buf *b, long long v) {
    char tmp[24];
    char *o = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do { *--o = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) *--o = '-';
    return put(b, o, (size_t)(tmp + sizeof tmp - o));
}

/* ------------------------------------------------------------------------------------ Avro reading */

/* zig-zag varint; at most 10 bytes and 64 bits (cavro wraps longer ones: refused here) */
static int read_long(In *in, long long *out) {
    uint64_t v = 0; int shift = 0;
    for (int i = 0; i < 10; i++) {
        if (in->p >= in->end) return REFUSE;
        uint8_t b = *in->p++;
        if (i == 9 && b > 1) return REFUSE;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *out = (long long)((v >> 1) ^ (~(v & 1) + 1)); return OK; }
        shift += 7;
    }
    return REFUSE;
}

/* ------------------------------------------------------------------------------------ JSON writing */

static const char HEX[] = "0123456789abcdef";

/* Valid UTF-8 (Python's strict decoder: no overlongs, no surrogates, <= U+10FFFF) as an orjson string. */
static int put_str(Buf *b, const uint8_t *s, size_t n) {
    RESERVE(b, n * 6 + 2);
    char *o = b->p + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\') { *o++ = (char)c; i++; continue; }
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b'; break;
            case '\t': *o++ = 't'; break;
            case '\n': *o++ = 'n'; break;
            case '\f': *o++ = 'f'; break;
            case '\r': *o++ = 'r'; break;
            default: *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = HEX[c >> 4]; *o++ = HEX[c & 15];
            }
            i++;
            continue;
        }
        size_t len; uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c >= 0xe0 && c <= 0xef) { len = 3; if (c == 0xe0) lo = 0xa0; else if (c == 0xed) hi = 0x9f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; if (c == 0xf0) lo = 0x90; else if (c == 0xf4) hi = 0x8f; }
        else return REFUSE;
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return REFUSE;
        for (size_t k = 2; k < len; k++) if ((s[i + k] & 0xc0) != 0x80) return REFUSE;
        memcpy(o, s + i, len); o += len; i += len;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return OK;
}

typedef unsigned __int128 u128;
#define SLOW 2

static u128 P10[22];

static void init_p10(void) {
    P10[0] = 1;
    for (int i = 1; i < 22; i++) P10[i] = P10[i - 1] * 10;
}

/* Is there an integer c with lo*p10 <= c*2^sh <= hi*p10 (strict bounds when not closed)? */
static int has_candidate(u128 lo, u128 hi, int sh, int closed, u128 p10) {
    u128 A = lo * p10, B = hi * p10;
    u128 first = closed ? (A + ((u128)1 << sh) - 1) >> sh : (A >> sh) + 1;
    u128 pos = first << sh;
    return closed ? pos <= B : pos < B;
}

/* The shortest decimal that reads back as x (what repr finds with dtoa), by exact 128-bit arithmetic, for
 * 1e-5 <= |x| < 2^53, where repr and orjson both write it positionally. x = m / 2^s; its rounding interval
 * is (4m - lo, 4m + 2) / 2^(s+2) (closed when m is even: round-half-even); the fewest decimals t with an
 * integer c in the scaled interval give the shortest text, and among those c the one nearest x (a tie,
 * or a nearest c outside the interval, is left to dtoa: SLOW). */
static int put_double_fast(Buf *b, double x) {
    uint64_t bits;
    memcpy(&bits, &x, 8);
    int bexp = (int)((bits >> 52) & 0x7ff);
    double ax = fabs(x);
    if (bexp == 0 || bexp == 0x7ff || ax < 1e-5 || ax >= 9007199254740992.0) return SLOW;
    uint64_t frac = bits & ((1ULL << 52) - 1), m = frac | (1ULL << 52);
    int e = bexp - 1075;
    char tmp[48];
    char *o = tmp + sizeof tmp;
    if (e >= 0) {  /* an integer below 2^53 */
        uint64_t v = m << e;
        *--o = '0'; *--o = '.';
        do { *--o = (char)('0' + v % 10); v /= 10; } while (v);
    } else {
        int sh = 2 - e;  /* <= 71 since |x| >= 1e-5 */
        u128 lo = ((u128)m << 2) - ((frac == 0 && bexp > 1) ? 1 : 2), hi = ((u128)m << 2) + 2, X = (u128)m << 2;
        int closed = (m & 1) == 0;
        u128 unit = (u128)1 << sh;
        /* fewest decimals t with an integer in the scaled interval: if t has one, t + 1 has (ten times it) */
        if (!has_candidate(lo, hi, sh, closed, P10[21])) return SLOW;
        int a = 0, z = 21;
        while (a < z) {
            int mid = (a + z) / 2;
            if (has_candidate(lo, hi, sh, closed, P10[mid])) z = mid; else a = mid + 1;
        }
        int t = a;
        u128 A = lo * P10[t], B = hi * P10[t], XS = X * P10[t];
        u128 near = XS >> sh, rem = XS & (unit - 1), half = unit >> 1;
        if (rem > half || (rem == half && (near & 1))) near += 1;  /* a tie: the even one, as dtoa */
        u128 npos = near << sh;
        if (!(closed ? (npos >= A && npos <= B) : (npos > A && npos < B))) return SLOW;
        if (near >> 64) return SLOW;
        uint64_t c = (uint64_t)near;
        if (t == 0) { *--o = '0'; *--o = '.'; }
        for (int k = 0; k < t; k++) { *--o = (char)('0' + c % 10); c /= 10; }
        if (t > 0) *--o = '.';
        do { *--o = (char)('0' + c % 10); c /= 10; } while (c);
    }
    if (x < 0) *--o = '-';
    return put(b, o, (size_t)(tmp + sizeof tmp - o));
}

/* orjson's float text: repr, except non-finite -> null, exponent -5 -> positional, e-0N -> e-N. */
static int put_double(Buf *b, double x) {
    if (!isfinite(x)) return put(b, "null", 4);
    int fast = put_double_fast(b, x);
    if (fast != SLOW) return fast;
    char *r = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (r == NULL) { PyErr_Clear(); return NOMEM; }
    int rc = OK;
    char *e = strchr(r, 'e');
    if (e == NULL || e[1] == '+') {
        rc = put(b, r, strlen(r));
    } else if (e[1] == '-') {
        int exp = atoi(e + 2);
        if (exp == 5) {  /* m[.ddd]e-05 -> 0.0000mddd */
            char tmp[64]; size_t k = 0;
            const char *m = r;
            if (*m == '-') tmp[k++] = *m++;
            memcpy(tmp + k, "0.0000", 6); k += 6;
            for (; m < e && k < sizeof tmp; m++) if (*m != '.') tmp[k++] = *m;
            rc = k < sizeof tmp ? put(b, tmp, k) : REFUSE;
        } else if (exp > 5) {
            char tmp[16];
            int n = snprintf(tmp, sizeof tmp, "e-%d", exp);
            rc = put(b, r, (size_t)(e - r));
            if (rc == OK) rc = put(b, tmp, (size_t)n);
        } else {
            rc = REFUSE;  /* repr never writes e-01..e-04 */
        }
    } else {
        rc = REFUSE;
    }
    PyMem_Free(r);
    return rc;
}

/* ---------------------------------------------------------------------------------- the interpreter */

static int emit(const uint8_t *node, In *in, Buf *out);

static int emit_string(In *in, Buf *out) {
    long long n;
    CHECK(read_long(in, &n));
    if (n < 0 || n > in->end - in->p) return REFUSE;
    const uint8_t *s = in->p;
    in->p += n;
    return put_str(out, s, (size_t)n);
}

typedef struct { size_t start, end; const uint8_t *key; uint32_t klen; } Span;

/* The record's fields in writer order (Avro), written in sorted key order (orjson OPT_SORT_KEYS). */
static int emit_record(const uint8_t *node, In *in, Buf *out) {
    uint32_t n = u32(node + 8), permuted = u32(node + 12);
    const uint8_t *order = node + 16, *f = order + 4 * (size_t)n;
    if (n > MAX_FIELDS) return REFUSE;
    if (!permuted) {
        CHECK(putc_(out, '{'));
        for (uint32_t i = 0; i < n; i++) {
            uint32_t klen = u32(f);
            if (i) CHECK(putc_(out, ','));
            CHECK(put(out, f + 4, klen));
            f += 4 + klen;
            CHECK(emit(f, in, out));
            f += u32(f);
        }
        return putc_(out, '}');
    }
    Span spans[MAX_FIELDS];
    size_t start = out->len, keys = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t klen = u32(f);
        spans[i].key = f + 4; spans[i].klen = klen; keys += klen;
        f += 4 + klen;
        spans[i].start = out->len;
        CHECK(emit(f, in, out));
        spans[i].end = out->len;
        f += u32(f);
    }
    size_t values = out->len - start, total = values + keys + n + 1;
    RESERVE(out, total);
    size_t dst = out->len;
    char *o = out->p + dst;
    *o++ = '{';
    for (uint32_t k = 0; k < n; k++) {
        Span *s = &spans[u32(order + 4 * (size_t)k)];
        if (k) *o++ = ',';
        memcpy(o, s->key, s->klen); o += s->klen;
        memcpy(o, out->p + s->start, s->end - s->start); o += s->end - s->start;
    }
    *o++ = '}';
    size_t len = (size_t)(o - (out->p + dst));
    memmove(out->p + start, out->p + dst, len);
    out->len = start + len;
    return OK;
}

static int emit_array(const uint8_t *item, In *in, Buf *out) {
    CHECK(putc_(out, '['));
    int first = 1;
    for (;;) {
        long long count;
        CHECK(read_long(in, &count));
        if (count == 0) break;
        /* every item but null takes a byte: a count beyond the body is corrupt (or nulls: Python decides) */
        if (count < 0 || count > in->end - in->p) return REFUSE;
        for (long long i = 0; i < count; i++) {
            if (!first) CHECK(putc_(out, ','));
            first = 0;
            CHECK(emit(item, in, out));
        }
    }
    return putc_(out, ']');
}

typedef struct { const uint8_t *key; size_t klen, start, end; } Entry;

static int entry_cmp(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

static int emit_map_entries(const uint8_t *value, In *in, Buf *out, Entry **entries, size_t *cap) {
    size_t n = 0, start = out->len;
    for (;;) {
        long long count;
        CHECK(read_long(in, &count));
        if (count == 0) break;
        if (count < 0 || count > in->end - in->p) return REFUSE;  /* each entry has a key length byte */
        for (long long i = 0; i < count; i++) {
            long long klen;
            CHECK(read_long(in, &klen));
            if (klen < 0 || klen > in->end - in->p) return REFUSE;
            if (n == *cap) {
                size_t c = *cap ? *cap * 2 : 16;
                Entry *e = PyMem_Realloc(*entries, c * sizeof(Entry));
                if (e == NULL) return NOMEM;
                *entries = e; *cap = c;
            }
            Entry *e = &(*entries)[n++];
            e->key = in->p; e->klen = (size_t)klen;
            in->p += klen;
            e->start = out->len;
            CHECK(emit(value, in, out));
            e->end = out->len;
        }
    }
    qsort(*entries, n, sizeof(Entry), entry_cmp);
    size_t dst = out->len;
    CHECK(putc_(out, '{'));
    for (size_t i = 0; i < n; i++) {
        Entry *e = &(*entries)[i];
        if (i) {
            if (entry_cmp(e - 1, e) == 0) return REFUSE;  /* duplicate key: cavro keeps the last value */
            CHECK(putc_(out, ','));
        }
        CHECK(put_str(out, e->key, e->klen));  /* also validates the key's UTF-8 */
        CHECK(putc_(out, ':'));
        RESERVE(out, e->end - e->start);
        memcpy(out->p + out->len, out->p + e->start, e->end - e->start);
        out->len += e->end - e->start;
    }
    CHECK(putc_(out, '}'));
    size_t len = out->len - dst;
    memmove(out->p + start, out->p + dst, len);
    out->len = start + len;
    return OK;
}

static int emit_map(const uint8_t *value, In *in, Buf *out) {
    Entry *entries = NULL;
    size_t cap = 0;
    int rc = emit_map_entries(value, in, out, &entries, &cap);
    PyMem_Free(entries);
    return rc;
}

static int emit(const uint8_t *node, In *in, Buf *out) {
    long long v;
    switch (u32(node + 4)) {
    case K_NULL:
        return put(out, "null", 4);
    case K_BOOLEAN:
        if (in->p >= in->end || *in->p > 1) return REFUSE;  /* cavro reads any non-zero byte as true */
        return *in->p++ ? put(out, "true", 4) : put(out, "false", 5);
    case K_INT:
        CHECK(read_long(in, &v));
        if (v < INT32_MIN || v > INT32_MAX) return REFUSE;
        return put_i64(out, v);
    case K_LONG:
        CHECK(read_long(in, &v));
        return put_i64(out, v);
    case K_FLOAT: {
        float f;
        if (in->end - in->p < 4) return REFUSE;
        memcpy(&f, in->p, 4); in->p += 4;
        return put_double(out, (double)f);
    }
    case K_DOUBLE: {
        double d;
        if (in->end - in->p < 8) return REFUSE;
        memcpy(&d, in->p, 8); in->p += 8;
        return put_double(out, d);
    }
    case K_STRING:
        return emit_string(in, out);
    case K_ENUM: {
        uint32_t n = u32(node + 8);
        const uint8_t *sym = node + 12;
        CHECK(read_long(in, &v));
        if (v < 0 || v >= n) return REFUSE;
        for (long long i = 0; i < v; i++) sym += 4 + u32(sym);
        return put(out, sym + 4, u32(sym));
    }
    case K_ARRAY:
        return emit_array(node + 8, in, out);
    case K_MAP:
        return emit_map(node + 8, in, out);
    case K_UNION: {
        uint32_t n = u32(node + 8);
        const uint8_t *branch = node + 12;
        CHECK(read_long(in, &v));
        if (v < 0 || v >= n) return REFUSE;
        for (long long i = 0; i < v; i++) branch += u32(branch);
        return emit(branch, in, out);
    }
    case K_RECORD:
        return emit_record(node, in, out);
    }
    return REFUSE;
}

/* The envelope's fields, each as its JSON value followed by ',' (the row's event_id .. causation_id). */
static int emit_envelope(const uint8_t *node, In *in, Buf *out) {
    uint32_t n = u32(node + 8);
    const uint8_t *f = node + 16 + 4 * (size_t)n;
    for (uint32_t i = 0; i < n; i++) {
        f += 4 + u32(f);
        CHECK(emit(f, in, out));
        CHECK(putc_(out, ','));
        f += u32(f);
    }
    return OK;
}

/* One row line appended to out; on REFUSE the caller truncates out. */
static int row(const uint8_t *prog, Py_ssize_t plen, PyObject *topic, long long partition, long long offset,
               PyObject *key, const uint8_t *body, Py_ssize_t blen, Buf *out) {
    if (plen < 4 + 16 || u32(prog) != FORMAT) return REFUSE;
    const uint8_t *env = prog + 4, *payload = env + u32(env);
    Py_ssize_t tlen;
    const char *t = PyUnicode_AsUTF8AndSize(topic, &tlen);
    if (t == NULL) { PyErr_Clear(); return REFUSE; }
    In in = {body, body + blen};
    CHECK(putc_(out, '['));
    CHECK(put_str(out, (const uint8_t *)t, (size_t)tlen));
    CHECK(putc_(out, ','));
    CHECK(put_i64(out, partition));
    CHECK(putc_(out, ','));
    CHECK(put_i64(out, offset));
    CHECK(putc_(out, ','));
    CHECK(emit_envelope(env, &in, out));
    if (key == Py_None) {
        CHECK(put(out, "\"\"", 2));
    } else {
        char *k; Py_ssize_t klen;
        if (PyBytes_AsStringAndSize(key, &k, &klen) < 0) { PyErr_Clear(); return REFUSE; }
        CHECK(put_str(out, (const uint8_t *)k, (size_t)klen));  /* invalid UTF-8: Python's "replace" */
    }
    CHECK(putc_(out, ','));
    CHECK(emit(payload, &in, out));
    if (in.p != in.end) return REFUSE;  /* trailing bytes: cavro ignores them, the Python path decides */
    return putc_(out, ']');
}

/* Framing and program lookup: REFUSE unless magic 0, a known schema id, and all the row encodable. */
static int framed_row(PyObject *programs, PyObject *topic, long long partition, long long offset,
                      PyObject *key, PyObject *value, Buf *out) {
    if (!PyBytes_Check(value) || (key != Py_None && !PyBytes_Check(key)) || !PyUnicode_Check(topic))
        return REFUSE;
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(value);
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    if (n < 5 || data[0] != 0) return REFUSE;
    uint32_t sid = ((uint32_t)data[1] << 24) | ((uint32_t)data[2] << 16) | ((uint32_t)data[3] << 8) | data[4];
    PyObject *id = PyLong_FromUnsignedLong(sid);
    if (id == NULL) { PyErr_Clear(); return NOMEM; }
    PyObject *prog = PyDict_GetItemWithError(programs, id);  /* borrowed */
    Py_DECREF(id);
    if (prog == NULL) { if (PyErr_Occurred()) return NOMEM; return REFUSE; }
    if (!PyBytes_Check(prog)) return REFUSE;
    size_t mark = out->len;
    int rc = row((const uint8_t *)PyBytes_AS_STRING(prog), PyBytes_GET_SIZE(prog), topic, partition, offset,
                 key, data + 5, n - 5, out);
    if (rc != OK) out->len = mark;
    return rc;
}

/* float_text(x, fast=True) -> bytes | None: a double as the encoder writes it (for tests) */
static PyObject *float_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs < 1 || nargs > 2) { PyErr_SetString(PyExc_TypeError, "float_text(x, fast=True)"); return NULL; }
    double x = PyFloat_AsDouble(args[0]);
    if (x == -1.0 && PyErr_Occurred()) return NULL;
    int fast_only = nargs == 2 ? PyObject_IsTrue(args[1]) : 0;
    Buf out = {NULL, 0, 0};
    int rc = fast_only ? put_double_fast(&out, x) : put_double(&out, x);
    PyObject *r;
    if (rc == OK) r = PyBytes_FromStringAndSize(out.p, (Py_ssize_t)out.len);
    else if (rc == NOMEM) r = PyErr_NoMemory();
    else { r = Py_None; Py_INCREF(r); }
    PyMem_Free(out.p);
    return r;
}

/* encode_blob(programs, raws) -> (blob, refused indexes, next offsets): the lines of the records it
 * encodes, joined by newlines (no line for a refused record: the caller inserts it at its index) */
static PyObject *encode_blob(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "encode_blob(programs: dict[int, bytes], raws: list[tuple])");
        return NULL;
    }
    PyObject *programs = args[0];
    PyObject *seq = PySequence_Fast(args[1], "raws must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *refused = PyList_New(0), *seen = PyDict_New();
    Buf out = {NULL, 0, 0};
    PyObject *last_topic = NULL, *last_part = NULL, *last_next = NULL;
    if (refused == NULL || seen == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = items[i];
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 5) {
            PyErr_SetString(PyExc_TypeError, "each raw record is (topic, partition, offset, key, value)");
            goto fail;
        }
        PyObject *topic = PyTuple_GET_ITEM(t, 0), *part = PyTuple_GET_ITEM(t, 1), *off = PyTuple_GET_ITEM(t, 2);
        long long partition = PyLong_AsLongLong(part), offset = PyLong_AsLongLong(off);
        if (PyErr_Occurred()) goto fail;
        if (last_topic != NULL && (last_topic != topic || last_part != part)) {
            PyObject *k = PyTuple_Pack(2, last_topic, last_part);
            if (k == NULL || PyDict_SetItem(seen, k, last_next) < 0) { Py_XDECREF(k); goto fail; }
            Py_DECREF(k);
        }
        Py_XDECREF(last_next);
        last_topic = topic; last_part = part;
        last_next = PyLong_FromLongLong(offset + 1);
        if (last_next == NULL) goto fail;
        size_t mark = out.len;
        if (mark > 0 && putc_(&out, '\n') != OK) { PyErr_NoMemory(); goto fail; }
        int rc = framed_row(programs, topic, partition, offset, PyTuple_GET_ITEM(t, 3), PyTuple_GET_ITEM(t, 4),
                            &out);
        if (rc == REFUSE) {
            out.len = mark;
            PyObject *idx = PyLong_FromSsize_t(i);
            if (idx == NULL || PyList_Append(refused, idx) < 0) { Py_XDECREF(idx); goto fail; }
            Py_DECREF(idx);
        } else if (rc != OK) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    if (last_topic != NULL) {
        PyObject *k = PyTuple_Pack(2, last_topic, last_part);
        if (k == NULL || PyDict_SetItem(seen, k, last_next) < 0) { Py_XDECREF(k); goto fail; }
        Py_DECREF(k);
    }
    Py_XDECREF(last_next);
    Py_DECREF(seq);
    PyObject *blob = PyBytes_FromStringAndSize(out.p, (Py_ssize_t)out.len);
    PyMem_Free(out.p);
    if (blob == NULL) { Py_DECREF(refused); Py_DECREF(seen); return NULL; }
    return Py_BuildValue("(NNN)", blob, refused, seen);
fail:
    Py_XDECREF(last_next);
    PyMem_Free(out.p);
    Py_DECREF(seq);
    Py_XDECREF(refused); Py_XDECREF(seen);
    return NULL;
}

static PyMethodDef METHODS[] = {
    {"encode_blob", (PyCFunction)(void (*)(void))encode_blob, METH_FASTCALL,
     "encode_blob(programs, raws) -> (blob, refused, next_offsets): encoded lines joined by newlines"},
    {"float_text", (PyCFunction)(void (*)(void))float_text, METH_FASTCALL,
     "float_text(x, fast_only=False) -> bytes | None: x as orjson writes it (fast_only: None where dtoa is needed)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_crows",
    "Confluent-framed Avro -> raw events row lines (see rowgen.py).", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__crows(void) {
    init_p10();
    PyObject *m = PyModule_Create(&MODULE);
    if (m != NULL && PyModule_AddIntConstant(m, "FORMAT", FORMAT) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
