/* Optional accelerator of TraceView's log filter (viewer/_scan.py is the reference twin).
 *
 * A filter over a log of millions of lines is bound by finding the lines that hold a
 * literal and deciding each one. These functions do that over a buffer (an mmap window
 * of whole lines) in one call each, with the GIL released, and return packed arrays of
 * native uint64 (bytes; the caller reads them with array('Q')):
 *
 * find_lines(buf, literal) -> bytes
 *     starts (positions in buf) of the lines that contain literal, each once.
 * field_equals(buf, literal, key, text, number, max_level) -> (match, unsure)
 *     starts of the lines holding literal (one pass: each line is decided as it is
 *     found, in one call without the GIL): those a display filter `key == value` keeps for certain
 *     (type "event", level <= max_level, fields[key] equals the value), and those this
 *     cannot decide (anything outside compact, strict JSON: whitespace, escapes in
 *     keys or the value, surrogates, long numbers, nesting; other record types). The
 *     rest are decided: the filter drops them. number: None (the value is no number:
 *     a number never equals it), an int (compared with integer tokens), or another
 *     object (numbers undecided).
 * event_starts(buf, first, last, base) -> bytes or None
 *     base + the starts of the lines of buf[first:last] (whole lines), if every one is an
 *     event line ({"type":"event"...); None otherwise (the caller sorts them out). For
 *     the index, whose scan then holds the GIL only to store the offsets.
 * rows_at(offsets, starts, base, lo, hi) -> bytes
 *     for each start (ascending), the row r in [lo, hi) with offsets[r] == base + start
 *     (starts without a row are left out).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CSCAN_VERSION 1
#define MAX_DEPTH 64

typedef struct {
    uint64_t *v;
    Py_ssize_t n, cap;
} U64s;

static int push(U64s *a, uint64_t x) {
    if (a->n == a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 1024;
        uint64_t *v = realloc(a->v, (size_t)cap * sizeof(uint64_t));
        if (v == NULL) return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static PyObject *to_bytes(U64s *a) {
    PyObject *b = PyBytes_FromStringAndSize((const char *)a->v, a->n * (Py_ssize_t)sizeof(uint64_t));
    free(a->v);
    a->v = NULL;
    return b;
}

/* -- find_lines ------------------------------------------------------------------------- */
static PyObject *find_lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer buf, lit;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "find_lines(buf, literal)");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &lit, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    U64s out = {NULL, 0, 0};
    int failed = 0;
    const char *h = buf.buf, *e = h + buf.len, *p = h;
    size_t k = (size_t)lit.len;
    Py_BEGIN_ALLOW_THREADS
    while (k > 0 && p < e) {
        const char *at = memmem(p, (size_t)(e - p), lit.buf, k);
        if (at == NULL) break;
        const char *start = at;
        while (start > h && start[-1] != '\n') start--;
        if (push(&out, (uint64_t)(start - h)) < 0) {
            failed = 1;
            break;
        }
        const char *end = memchr(at, '\n', (size_t)(e - at));
        p = end ? end + 1 : e;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&lit);
    PyBuffer_Release(&buf);
    if (failed) {
        free(out.v);
        return PyErr_NoMemory();
    }
    return to_bytes(&out);
}

/* -- event_starts ------------------------------------------------------------------------ */
static const char EVENT_PREFIX[] = "{\"type\":\"event\"";
#define EVENT_PREFIX_LEN (sizeof EVENT_PREFIX - 1)

static PyObject *event_starts(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer buf;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "event_starts(buf, first, last, base)");
        return NULL;
    }
    Py_ssize_t first = PyLong_AsSsize_t(args[1]), last = PyLong_AsSsize_t(args[2]);
    if ((first == -1 || last == -1) && PyErr_Occurred()) return NULL;
    unsigned long long base = PyLong_AsUnsignedLongLong(args[3]);
    if (base == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) < 0) return NULL;
    if (first < 0) first = 0;
    if (last > buf.len) last = buf.len;
    U64s out = {NULL, 0, 0};
    int failed = 0, odd = 0;
    const char *h = buf.buf, *e = h + last, *p = h + first;
    Py_BEGIN_ALLOW_THREADS
    while (p < e) {
        if ((size_t)(e - p) < EVENT_PREFIX_LEN || memcmp(p, EVENT_PREFIX, EVENT_PREFIX_LEN)) {
            odd = 1;
            break;
        }
        if (push(&out, base + (uint64_t)(p - h)) < 0) {
            failed = 1;
            break;
        }
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (nl == NULL) break;
        p = nl + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    if (failed || odd) {
        free(out.v);
        if (failed) return PyErr_NoMemory();
        Py_RETURN_NONE;
    }
    return to_bytes(&out);
}

/* -- field_equals: a strict, compact JSON reader of one line ------------------------------ */
enum { NO = 0, MATCH = 1, UNSURE = 2 };
enum { ABSENT = 0, SEEN = 1, OTHER = 2, T_ABSENT = 3 };  /* T_ABSENT: no such field */
enum { NUM_NONE = 0, NUM_INT = 1, NUM_OTHER = 2 };

typedef struct {
    const unsigned char *key, *text;
    size_t klen, tlen;
    int num_mode;
    long long number;
    /* what the line holds (the last of duplicate keys wins, as in orjson) */
    int type, level_kind, fields, target;
    long long level;
} Line;

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the valid UTF-8 sequence at p (no overlongs, surrogates, > U+10FFFF), or 0. */
static int utf8_len(const unsigned char *p, const unsigned char *e) {
    unsigned char c = p[0];
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (e - p < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* The end of the string starting at p ('"'), or NULL (invalid or undecided); *esc: it
 * holds an escape (its decoded text differs from its bytes). */
/* 1 for the bytes a string holds as they are (printable ASCII but '"' and '\\') */
static unsigned char plain[256];

static void init_plain(void) {
    for (int c = 0x20; c < 0x80; c++) plain[c] = c != '"' && c != '\\';
}

static const unsigned char *read_string(const unsigned char *p, const unsigned char *e,
                                        int *esc) {
    *esc = 0;
    p++;
    while (p < e) {
        while (e - p >= 4 && plain[p[0]] && plain[p[1]] && plain[p[2]] && plain[p[3]]) p += 4;
        if (p >= e) break;
        unsigned char c = *p;
        if (c == '"') return p + 1;
        if (c == '\\') {
            if (e - p < 2) return NULL;
            unsigned char d = p[1];
            *esc = 1;
            if (d == 'u') {
                if (e - p < 6) return NULL;
                unsigned v = 0;
                for (int i = 2; i < 6; i++) {
                    int h = hexval(p[i]);
                    if (h < 0) return NULL;
                    v = v * 16 + (unsigned)h;
                }
                if (v >= 0xD800 && v <= 0xDFFF) return NULL;  /* pairs: left to Python */
                p += 6;
            } else if (d == '"' || d == '\\' || d == '/' || d == 'b' || d == 'f' || d == 'n'
                       || d == 'r' || d == 't') {
                p += 2;
            } else return NULL;
        } else if (c < 0x20) {
            return NULL;
        } else if (c < 0x80) {
            p++;
        } else {
            int n = utf8_len(p, e);
            if (n == 0) return NULL;
            p += n;
        }
    }
    return NULL;
}

/* The end of the number at p, or NULL; *is_int and *value for short integer tokens. */
static const unsigned char *read_number(const unsigned char *p, const unsigned char *e,
                                        int *is_int, long long *value) {
    int neg = 0, digits = 0, frac = 0, exp = 0;
    long long v = 0;
    if (p < e && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= e) return NULL;
    if (*p == '0') {
        p++;
        digits = 1;
    } else if (*p >= '1' && *p <= '9') {
        while (p < e && *p >= '0' && *p <= '9') {
            if (++digits <= 18) v = v * 10 + (*p - '0');
            p++;
        }
    } else return NULL;
    if (p < e && *p == '.') {
        p++;
        while (p < e && *p >= '0' && *p <= '9') {
            frac++;
            p++;
        }
        if (frac == 0) return NULL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        while (p < e && *p >= '0' && *p <= '9') {
            exp++;
            p++;
        }
        if (exp == 0 || exp > 2) return NULL;  /* no exponent, or one that may overflow */
    }
    if (digits > 18) return NULL;  /* orjson reads long integers as floats: undecided */
    *is_int = frac == 0 && exp == 0;
    *value = neg ? -v : v;
    return p;
}

static const unsigned char *read_value(const unsigned char *p, const unsigned char *e,
                                       int depth, Line *ln, int role);

/* roles of a value: where it sits, so the reader records what the filter needs */
enum { R_NONE, R_TOP, R_TYPE, R_LEVEL, R_FIELDS, R_TARGET };

static const unsigned char *read_object(const unsigned char *p, const unsigned char *e,
                                        int depth, Line *ln, int role) {
    p++;  /* '{' */
    if (p < e && *p == '}') return p + 1;
    for (;;) {
        int esc;
        if (p >= e || *p != '"') return NULL;
        const unsigned char *k = p + 1, *kend = read_string(p, e, &esc);
        if (kend == NULL) return NULL;
        size_t klen = (size_t)(kend - 1 - k);
        int sub = R_NONE;
        if (role == R_TOP || role == R_FIELDS) {
            if (esc) return NULL;  /* a key the reader would decode: undecided */
            if (role == R_TOP) {
                if (klen == 4 && memcmp(k, "type", 4) == 0) sub = R_TYPE;
                else if (klen == 5 && memcmp(k, "level", 5) == 0) sub = R_LEVEL;
                else if (klen == 6 && memcmp(k, "fields", 6) == 0) sub = R_FIELDS;
            } else if (klen == ln->klen && memcmp(k, ln->key, klen) == 0) {
                sub = R_TARGET;
            }
        }
        p = kend;
        if (p >= e || *p != ':') return NULL;
        p = read_value(p + 1, e, depth + 1, ln, sub);
        if (p == NULL || p >= e) return NULL;
        if (*p == '}') return p + 1;
        if (*p != ',') return NULL;
        p++;
    }
}

static const unsigned char *read_array(const unsigned char *p, const unsigned char *e,
                                       int depth, Line *ln) {
    p++;  /* '[' */
    if (p < e && *p == ']') return p + 1;
    for (;;) {
        p = read_value(p, e, depth + 1, ln, R_NONE);
        if (p == NULL || p >= e) return NULL;
        if (*p == ']') return p + 1;
        if (*p != ',') return NULL;
        p++;
    }
}

static const unsigned char *read_value(const unsigned char *p, const unsigned char *e,
                                       int depth, Line *ln, int role) {
    if (p >= e || depth > MAX_DEPTH) return NULL;
    unsigned char c = *p;
    const unsigned char *end;
    int esc = 0, is_int = 0, kind = 0;  /* kind: 1 string, 2 number, 3 object, 4 other */
    long long num = 0;
    if (role == R_FIELDS) {
        ln->fields = OTHER;
        ln->target = T_ABSENT;  /* a later "fields" replaces an earlier one */
    }
    if (c == '"') {
        end = read_string(p, e, &esc);
        kind = 1;
    } else if (c == '{') {
        if (role == R_FIELDS) ln->fields = SEEN;
        end = read_object(p, e, depth, ln, role == R_FIELDS ? R_FIELDS : R_NONE);
        kind = 3;
    } else if (c == '[') {
        end = read_array(p, e, depth, ln);
        kind = 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        end = read_number(p, e, &is_int, &num);
        kind = 2;
    } else if (e - p >= 4 && memcmp(p, "true", 4) == 0) {
        end = p + 4;
        kind = 4;
    } else if (e - p >= 5 && memcmp(p, "false", 5) == 0) {
        end = p + 5;
        kind = 4;
    } else if (e - p >= 4 && memcmp(p, "null", 4) == 0) {
        end = p + 4;
        kind = 5;
    } else return NULL;
    if (end == NULL) return NULL;
    if (role == R_TYPE) {
        ln->type = kind == 1 && !esc && end - p == 7 && memcmp(p + 1, "event", 5) == 0
                   ? SEEN : OTHER;
    } else if (role == R_LEVEL) {
        ln->level_kind = kind == 2 && is_int ? SEEN : OTHER;
        ln->level = num;
    } else if (role == R_TARGET) {
        if (kind == 1 && !esc) {
            size_t len = (size_t)(end - p - 2);
            ln->target = len == ln->tlen && memcmp(p + 1, ln->text, len) == 0 ? MATCH : NO;
        } else if (kind == 2 && ln->num_mode == NUM_NONE) {
            ln->target = NO;  /* a number never equals a value that is no number */
        } else if (kind == 2 && ln->num_mode == NUM_INT && is_int) {
            ln->target = num == ln->number ? MATCH : NO;
        } else if (kind == 5) {
            ln->target = NO;  /* null: equals nothing */
        } else {
            ln->target = UNSURE;  /* escaped text, a float, a bool, a list, an object */
        }
    }
    return end;
}

static int decide(const unsigned char *p, const unsigned char *e, Line *ln, long long max_level) {
    ln->type = ln->level_kind = ln->fields = ABSENT;
    ln->target = T_ABSENT;
    if (p >= e || *p != '{') return UNSURE;
    const unsigned char *end = read_object(p, e, 1, ln, R_TOP);
    if (end != e || ln->type != SEEN || ln->level_kind == OTHER || ln->fields == OTHER)
        return UNSURE;
    if ((ln->level_kind == SEEN ? ln->level : 4) > max_level) return NO;
    if (ln->fields == ABSENT || ln->target == T_ABSENT) return NO;
    return ln->target;  /* MATCH, NO or UNSURE */
}

static PyObject *field_equals(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer buf, lit, key, text;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "field_equals(buf, literal, key, text, number, max_level)");
        return NULL;
    }
    Line ln;
    memset(&ln, 0, sizeof ln);
    PyObject *number = args[4];
    if (number == Py_None) {
        ln.num_mode = NUM_NONE;
    } else if (PyLong_CheckExact(number)) {
        int overflow = 0;
        ln.number = PyLong_AsLongLongAndOverflow(number, &overflow);
        if (ln.number == -1 && PyErr_Occurred()) return NULL;
        ln.num_mode = overflow ? NUM_OTHER : NUM_INT;
    } else {
        ln.num_mode = NUM_OTHER;
    }
    long long max_level = PyLong_AsLongLong(args[5]);
    if (max_level == -1 && PyErr_Occurred()) return NULL;
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &lit, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&lit);
        PyBuffer_Release(&buf);
        return NULL;
    }
    if (PyObject_GetBuffer(args[3], &text, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&key);
        PyBuffer_Release(&lit);
        PyBuffer_Release(&buf);
        return NULL;
    }
    ln.key = key.buf;
    ln.klen = (size_t)key.len;
    ln.text = text.buf;
    ln.tlen = (size_t)text.len;
    U64s match = {NULL, 0, 0}, unsure = {NULL, 0, 0};
    int failed = 0;
    const unsigned char *h = buf.buf, *e = h + buf.len, *p = h;
    size_t k = (size_t)lit.len;
    Py_BEGIN_ALLOW_THREADS
    while (k > 0 && p < e && !failed) {  /* each line holding the literal, decided at once */
        const unsigned char *at = memmem(p, (size_t)(e - p), lit.buf, k);
        if (at == NULL) break;
        const unsigned char *line = at;
        while (line > h && line[-1] != '\n') line--;
        const unsigned char *nl = memchr(at, '\n', (size_t)(e - at));
        int r = decide(line, nl ? nl : e, &ln, max_level);
        if (r == MATCH) failed = push(&match, (uint64_t)(line - h)) < 0;
        else if (r == UNSURE) failed = push(&unsure, (uint64_t)(line - h)) < 0;
        p = nl ? nl + 1 : e;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&text);
    PyBuffer_Release(&key);
    PyBuffer_Release(&lit);
    PyBuffer_Release(&buf);
    if (failed) {
        free(match.v);
        free(unsure.v);
        return PyErr_NoMemory();
    }
    PyObject *a = to_bytes(&match), *b = to_bytes(&unsure);
    if (a == NULL || b == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return NULL;
    }
    return Py_BuildValue("(NN)", a, b);
}

/* -- rows_at -------------------------------------------------------------------------------- */
static PyObject *rows_at(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer offs, starts;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "rows_at(offsets, starts, base, lo, hi)");
        return NULL;
    }
    unsigned long long base = PyLong_AsUnsignedLongLong(args[2]);
    if (base == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    Py_ssize_t lo = PyLong_AsSsize_t(args[3]), hi = PyLong_AsSsize_t(args[4]);
    if ((lo == -1 || hi == -1) && PyErr_Occurred()) return NULL;
    if (PyObject_GetBuffer(args[0], &offs, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &starts, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&offs);
        return NULL;
    }
    const uint64_t *o = offs.buf, *s = starts.buf;
    Py_ssize_t total = offs.len / (Py_ssize_t)sizeof(uint64_t);
    Py_ssize_t n = starts.len / (Py_ssize_t)sizeof(uint64_t);
    if (lo < 0) lo = 0;
    if (hi > total) hi = total;
    U64s out = {NULL, 0, 0};
    int failed = 0;
    /* the GIL stays held: offsets is an array the index thread extends (a resize of an
     * array whose buffer is exported fails); a bisection per start takes microseconds */
    for (Py_ssize_t i = 0; i < n && lo < hi && !failed; i++) {
        uint64_t want = base + s[i];
        Py_ssize_t a = lo, b = hi;  /* bisect_left */
        while (a < b) {
            Py_ssize_t mid = a + (b - a) / 2;
            if (o[mid] < want) a = mid + 1;
            else b = mid;
        }
        if (a < hi && o[a] == want) failed = push(&out, (uint64_t)a) < 0;
        lo = a;
    }
    PyBuffer_Release(&starts);
    PyBuffer_Release(&offs);
    if (failed) {
        free(out.v);
        return PyErr_NoMemory();
    }
    return to_bytes(&out);
}

static PyMethodDef methods[] = {
    {"find_lines", (PyCFunction)(void (*)(void))find_lines, METH_FASTCALL,
     "find_lines(buf, literal) -> bytes of uint64 starts of the lines holding literal"},
    {"field_equals", (PyCFunction)(void (*)(void))field_equals, METH_FASTCALL,
     "field_equals(buf, literal, key, text, number, max_level) -> (match, unsure)"},
    {"event_starts", (PyCFunction)(void (*)(void))event_starts, METH_FASTCALL,
     "event_starts(buf, first, last, base) -> bytes of uint64 base + line starts, or None"},
    {"rows_at", (PyCFunction)(void (*)(void))rows_at, METH_FASTCALL,
     "rows_at(offsets, starts, base, lo, hi) -> bytes of uint64 rows"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "viewer._cscan",
    "Optional C scanner of log lines for TraceView's filter (viewer._scan is the reference).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__cscan(void) {
    init_plain();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", CSCAN_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
