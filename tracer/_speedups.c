/* Optional accelerator of the tracing core's hot path: emitting and rendering events.
 *
 * The pure-Python renderer (tracer/_render.py) is the reference; this module
 * writes byte-identical lines several times faster, because it builds no Python
 * object per record (measured: the Python path spends ~2 us per event creating
 * the time string, a fields Struct and a line Struct before msgspec encodes them).
 *
 * render_lines(records, first_seq, codecs, tids, encode) -> bytearray
 *   records   sequence of flat records (time_ns, event index, tid, *args)
 *   codecs    {event index: (middle: bytes, keys: tuple[bytes, ...], local: bool,
 *                            timed: bool)}
 *             middle: the JSON text after "provider": (provider .. pid members)
 *             keys:   each field's '"name":' already encoded (not @timestamp's)
 *             timed:  the first argument is @timestamp, the event's time in ns: it
 *                     becomes "time", and the record's write time "created"
 *   tids      {thread ident: OS thread id} for records of local providers
 *   encode    the msgspec encoder's encode(), for values other than str, int,
 *             bool and None (floats, bytes, containers ...)
 * Any value or record it cannot render raises; the caller then renders the
 * whole batch in Python (which has the fallbacks for odd values).
 *
 * Writer(index) and Sink(deque, cap, wake_at, on_full, on_drop, owner): the emit path
 * (EventType.write -> SessionBuffer.put) without a Python frame, the same
 * semantics as tracer/_provider.py and tracer/_buffers.py (the reference).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "structmember.h"

#define SPEEDUPS_VERSION 3

typedef struct {
    char *buf;
    Py_ssize_t len;
    Py_ssize_t cap;
} Out;

static int out_reserve(Out *o, Py_ssize_t extra) {
    if (o->len + extra <= o->cap) return 0;
    Py_ssize_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + extra) cap *= 2;
    char *b = PyMem_Realloc(o->buf, (size_t)cap);
    if (b == NULL) { PyErr_NoMemory(); return -1; }
    o->buf = b;
    o->cap = cap;
    return 0;
}

static inline int out_put(Out *o, const char *s, Py_ssize_t n) {
    if (out_reserve(o, n) < 0) return -1;
    memcpy(o->buf + o->len, s, (size_t)n);
    o->len += n;
    return 0;
}

#define PUT_LIT(o, lit) out_put((o), (lit), (Py_ssize_t)(sizeof(lit) - 1))

static int out_bytes(Out *o, PyObject *b) {
    if (!PyBytes_Check(b)) {
        PyErr_SetString(PyExc_TypeError, "expected bytes");
        return -1;
    }
    return out_put(o, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
}

static int out_u64(Out *o, unsigned long long v, int negative) {
    char tmp[24];
    int i = 24;
    do { tmp[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    if (negative) tmp[--i] = '-';
    return out_put(o, tmp + i, 24 - i);
}

static int out_i64(Out *o, long long v) {
    if (v < 0) return out_u64(o, (unsigned long long)0 - (unsigned long long)v, 1);
    return out_u64(o, (unsigned long long)v, 0);
}

/* A JSON string exactly as msgspec writes it: UTF-8, escaping only '"', '\\'
 * and control characters (\b \t \n \f \r short, the rest as \u00XX). */
static int out_str(Out *o, PyObject *s) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);  /* fails on lone surrogates */
    if (p == NULL) return -1;
    if (out_reserve(o, n * 6 + 2) < 0) return -1;
    char *w = o->buf + o->len;
    *w++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\') { *w++ = (char)c; continue; }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\t': *w++ = 't'; break;
        case '\n': *w++ = 'n'; break;
        case '\f': *w++ = 'f'; break;
        case '\r': *w++ = 'r'; break;
        default:
            *w++ = 'u'; *w++ = '0'; *w++ = '0';
            *w++ = "0123456789abcdef"[c >> 4];
            *w++ = "0123456789abcdef"[c & 15];
        }
    }
    *w++ = '"';
    o->len = w - o->buf;
    return 0;
}

static int out_value(Out *o, PyObject *v, PyObject *encode) {
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type) return out_str(o, v);
    if (v == Py_None) return PUT_LIT(o, "null");
    if (v == Py_True) return PUT_LIT(o, "true");
    if (v == Py_False) return PUT_LIT(o, "false");
    if (t == &PyLong_Type) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow) {
            if (x == -1 && PyErr_Occurred()) return -1;
            return out_i64(o, x);
        }
        if (overflow > 0) {  /* msgspec takes up to 2**64 - 1 */
            unsigned long long u = PyLong_AsUnsignedLongLong(v);
            if (u == (unsigned long long)-1 && PyErr_Occurred()) return -1;
            return out_u64(o, u, 0);
        }
        PyErr_SetString(PyExc_OverflowError, "int out of range");
        return -1;
    }
    /* floats (msgspec's shortest repr is 5-10x faster than Python's), bytes, ... */
    PyObject *b = PyObject_CallOneArg(encode, v);
    if (b == NULL) return -1;
    int r = out_bytes(o, b);
    Py_DECREF(b);
    return r;
}

/* -- time: "YYYY-MM-DDTHH:MM:SS." cached per second, then 9 digits and Z ----------- */
static long long cached_sec = -1;
static char cached_prefix[21];

static void civil_from_days(long long z, int *y, unsigned *m, unsigned *d) {
    /* Howard Hinnant's algorithm: days since 1970-01-01 -> proleptic Gregorian date */
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static void put2(char *p, unsigned v) { p[0] = (char)('0' + v / 10); p[1] = (char)('0' + v % 10); }

static int out_time(Out *o, long long ts) {
    if (ts < 0) {
        PyErr_SetString(PyExc_ValueError, "time before 1970");
        return -1;
    }
    long long sec = ts / 1000000000LL;
    long long frac = ts % 1000000000LL;
    if (sec != cached_sec) {
        int y; unsigned m, d;
        civil_from_days(sec / 86400, &y, &m, &d);
        if (y > 9999) {
            PyErr_SetString(PyExc_ValueError, "time after year 9999");
            return -1;
        }
        unsigned s = (unsigned)(sec % 86400);
        char *p = cached_prefix;
        p[0] = (char)('0' + y / 1000); p[1] = (char)('0' + y / 100 % 10);
        p[2] = (char)('0' + y / 10 % 10); p[3] = (char)('0' + y % 10);
        p[4] = '-'; put2(p + 5, m); p[7] = '-'; put2(p + 8, d); p[10] = 'T';
        put2(p + 11, s / 3600); p[13] = ':'; put2(p + 14, s / 60 % 60); p[16] = ':';
        put2(p + 17, s % 60); p[19] = '.';
        cached_sec = sec;
    }
    if (out_reserve(o, 30) < 0) return -1;
    char *w = o->buf + o->len;
    memcpy(w, cached_prefix, 20);
    for (int i = 28; i >= 20; i--) { w[i] = (char)('0' + frac % 10); frac /= 10; }
    w[29] = 'Z';
    o->len += 30;
    return 0;
}

/* -- one record --------------------------------------------------------------------- */
static int render_one(Out *o, PyObject *rec, long long seq, PyObject *codecs, PyObject *tids,
                      PyObject *encode) {
    PyObject *fast = PySequence_Fast(rec, "a record is a sequence");
    if (fast == NULL) return -1;
    int rc = -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    if (n < 3) {
        PyErr_SetString(PyExc_ValueError, "short record");
        goto done;
    }
    PyObject *codec = PyDict_GetItemWithError(codecs, items[1]);
    if (codec == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "unknown event index");
        goto done;
    }
    if (!PyTuple_Check(codec) || PyTuple_GET_SIZE(codec) != 4) {
        PyErr_SetString(PyExc_TypeError, "bad codec");
        goto done;
    }
    PyObject *middle = PyTuple_GET_ITEM(codec, 0);
    PyObject *keys = PyTuple_GET_ITEM(codec, 1);
    int local = PyObject_IsTrue(PyTuple_GET_ITEM(codec, 2));
    if (local < 0) goto done;
    /* timed: the first argument is @timestamp, the event's time (not a fields member) */
    int timed = PyObject_IsTrue(PyTuple_GET_ITEM(codec, 3));
    if (timed < 0) goto done;
    if (!PyTuple_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "bad codec keys");
        goto done;
    }
    long long ts = PyLong_AsLongLong(items[0]);
    if (ts == -1 && PyErr_Occurred()) goto done;
    long long created = -1;  /* the write time, when the event carries its own time */
    Py_ssize_t first = 3 + (timed && n > 3);
    if (first > 3 && PyLong_Check(items[3])) {
        created = ts;
        ts = PyLong_AsLongLong(items[3]);
        if (ts == -1 && PyErr_Occurred()) goto done;
    }
    PyObject *tid = items[2];
    if (local) {
        PyObject *mapped = PyDict_GetItemWithError(tids, tid);
        if (mapped != NULL) tid = mapped;
        else if (PyErr_Occurred()) goto done;
    }
    long long tid_v = PyLong_AsLongLong(tid);
    if (tid_v == -1 && PyErr_Occurred()) goto done;

    if (PUT_LIT(o, "{\"type\":\"event\",\"time\":\"") < 0) goto done;
    if (out_time(o, ts) < 0) goto done;
    if (created >= 0 && (PUT_LIT(o, "\",\"created\":\"") < 0 || out_time(o, created) < 0))
        goto done;
    if (PUT_LIT(o, "\",\"seq\":") < 0 || out_i64(o, seq) < 0) goto done;
    if (PUT_LIT(o, ",\"provider\":") < 0 || out_bytes(o, middle) < 0) goto done;
    if (PUT_LIT(o, ",\"tid\":") < 0 || out_i64(o, tid_v) < 0) goto done;
    if (PUT_LIT(o, ",\"fields\":{") < 0) goto done;
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keys), nargs = n - first;
    Py_ssize_t shown = nargs < nkeys ? nargs : nkeys;
    for (Py_ssize_t i = 0; i < shown; i++) {
        if (i && out_put(o, ",", 1) < 0) goto done;
        if (out_bytes(o, PyTuple_GET_ITEM(keys, i)) < 0) goto done;
        if (out_value(o, items[first + i], encode) < 0) goto done;
    }
    if (nargs > nkeys) {  /* more values than fields: the rest as "_extra" */
        PyObject *extra = PyList_New(nargs - nkeys);
        if (extra == NULL) goto done;
        for (Py_ssize_t i = nkeys; i < nargs; i++) {
            Py_INCREF(items[first + i]);
            PyList_SET_ITEM(extra, i - nkeys, items[first + i]);
        }
        int r = (nkeys ? out_put(o, ",", 1) : 0) < 0 || PUT_LIT(o, "\"_extra\":") < 0
                || out_value(o, extra, encode) < 0;
        Py_DECREF(extra);
        if (r) goto done;
    }
    if (PUT_LIT(o, "}}\n") < 0) goto done;
    rc = 0;
done:
    Py_DECREF(fast);
    return rc;
}

static PyObject *render_lines(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "render_lines(records, first_seq, codecs, tids, encode)");
        return NULL;
    }
    PyObject *records = args[0], *codecs = args[2], *tids = args[3], *encode = args[4];
    long long seq = PyLong_AsLongLong(args[1]);
    if (seq == -1 && PyErr_Occurred()) return NULL;
    if (!PyDict_Check(codecs) || !PyDict_Check(tids)) {
        PyErr_SetString(PyExc_TypeError, "codecs and tids must be dicts");
        return NULL;
    }
    PyObject *fast = PySequence_Fast(records, "records must be a sequence");
    if (fast == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    Out o = {NULL, 0, 0};
    if (out_reserve(&o, (n < 65536 ? n : 65536) * 256 + 64) < 0) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = PySequence_Fast_GET_ITEM(fast, i);
        if (render_one(&o, rec, seq + i, codecs, tids, encode) < 0) goto fail;
    }
    Py_DECREF(fast);
    PyObject *result = PyByteArray_FromStringAndSize(o.buf, o.len);
    PyMem_Free(o.buf);
    return result;
fail:
    Py_DECREF(fast);
    PyMem_Free(o.buf);
    return NULL;
}

/* -- Sink: SessionBuffer.put in C ------------------------------------------------------ */
typedef struct {
    PyObject_HEAD
    PyObject *deque;
    PyObject *append;   /* deque.append */
    PyObject *on_full;  /* called once the pending count reaches wake_at */
    PyObject *on_drop;  /* called with a record refused because the buffers are full */
    PyObject *owner;    /* the SessionBuffer, as __self__ (like the bound method it replaces) */
    Py_ssize_t cap;
    Py_ssize_t wake_at;
    vectorcallfunc vectorcall;
} Sink;

static int sink_put(Sink *self, PyObject *rec) {
    Py_ssize_t n = PyObject_Size(self->deque);
    if (n < 0) return -1;
    PyObject *r;
    if (n < self->cap) {
        r = PyObject_CallOneArg(self->append, rec);
        if (r == NULL) return -1;
        Py_DECREF(r);
        if (n + 1 != self->wake_at) return 0;
        r = PyObject_CallNoArgs(self->on_full);
    } else {
        r = PyObject_CallOneArg(self->on_drop, rec);
    }
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *sink_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                                 PyObject *kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "a sink takes one record");
        return NULL;
    }
    if (sink_put((Sink *)self, args[0]) < 0) return NULL;
    Py_RETURN_NONE;
}

static int sink_init(Sink *self, PyObject *args, PyObject *kwds) {
    PyObject *deque, *on_full, *on_drop, *owner;
    Py_ssize_t cap, wake_at;
    static char *kwlist[] = {"deque", "cap", "wake_at", "on_full", "on_drop", "owner", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OnnOOO", kwlist, &deque, &cap, &wake_at,
                                     &on_full, &on_drop, &owner))
        return -1;
    PyObject *append = PyObject_GetAttrString(deque, "append");
    if (append == NULL) return -1;
    Py_INCREF(deque); Py_INCREF(on_full); Py_INCREF(on_drop); Py_INCREF(owner);
    Py_XSETREF(self->owner, owner);
    Py_XSETREF(self->deque, deque);
    Py_XSETREF(self->append, append);
    Py_XSETREF(self->on_full, on_full);
    Py_XSETREF(self->on_drop, on_drop);
    self->cap = cap;
    self->wake_at = wake_at;
    self->vectorcall = sink_vectorcall;
    return 0;
}

static int sink_traverse(Sink *self, visitproc visit, void *arg) {
    Py_VISIT(self->deque); Py_VISIT(self->append); Py_VISIT(self->on_full);
    Py_VISIT(self->on_drop); Py_VISIT(self->owner);
    return 0;
}

static int sink_clear(Sink *self) {
    Py_CLEAR(self->deque); Py_CLEAR(self->append); Py_CLEAR(self->on_full);
    Py_CLEAR(self->on_drop); Py_CLEAR(self->owner);
    return 0;
}

static void sink_dealloc(Sink *self) {
    PyObject_GC_UnTrack(self);
    sink_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef sink_members[] = {
    {"cap", T_PYSSIZET, offsetof(Sink, cap), 0, "records kept at most (0: refuse all)"},
    {"wake_at", T_PYSSIZET, offsetof(Sink, wake_at), READONLY, "pending count that wakes"},
    {"__self__", T_OBJECT, offsetof(Sink, owner), READONLY, "the buffer this sink fills"},
    {NULL},
};

static PyTypeObject SinkType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracer._speedups.Sink",
    .tp_doc = "Sink(deque, cap, wake_at, on_full, on_drop, owner): SessionBuffer.put in C",
    .tp_basicsize = sizeof(Sink),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)sink_init,
    .tp_dealloc = (destructor)sink_dealloc,
    .tp_traverse = (traverseproc)sink_traverse,
    .tp_clear = (inquiry)sink_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Sink, vectorcall),
    .tp_members = sink_members,
};

/* -- Writer: EventType.write in C ------------------------------------------------------ */
typedef struct {
    PyObject_HEAD
    PyObject *index;
    PyObject *sinks;  /* tuple of callables; Sink objects are called directly */
    vectorcallfunc vectorcall;
} Writer;

static PyObject *writer_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames) {
    Writer *self = (Writer *)op;
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames)) {
        PyErr_SetString(PyExc_TypeError, "write() takes the fields by position "
                        "(write_fields() takes them by name)");
        return NULL;
    }
    PyObject *sinks = self->sinks;
    Py_ssize_t nsinks = PyTuple_GET_SIZE(sinks);
    if (nsinks == 0) Py_RETURN_NONE;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    PyObject *rec = PyTuple_New(3 + nargs);
    if (rec == NULL) return NULL;
    PyObject *ts = PyLong_FromLongLong((long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    PyObject *tid = PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    if (ts == NULL || tid == NULL) {
        Py_XDECREF(ts); Py_XDECREF(tid); Py_DECREF(rec);
        return NULL;
    }
    PyTuple_SET_ITEM(rec, 0, ts);
    Py_INCREF(self->index);
    PyTuple_SET_ITEM(rec, 1, self->index);
    PyTuple_SET_ITEM(rec, 2, tid);
    for (Py_ssize_t i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(rec, 3 + i, args[i]);
    }
    /* Only session buffers will hold it (no Python sink): it is never part of a cycle,
     * so the garbage collector need not walk it while it waits, even with a list among
     * its fields (such records would otherwise stay tracked until rendered). */
    int internal = 1;
    for (Py_ssize_t i = 0; i < nsinks; i++)
        internal &= Py_IS_TYPE(PyTuple_GET_ITEM(sinks, i), &SinkType);
    if (internal)
        PyObject_GC_UnTrack(rec);
    Py_INCREF(sinks);  /* a session may replace them while a Python sink runs */
    int rc = 0;
    for (Py_ssize_t i = 0; i < nsinks && rc == 0; i++) {
        PyObject *sink = PyTuple_GET_ITEM(sinks, i);
        if (Py_IS_TYPE(sink, &SinkType)) {
            rc = sink_put((Sink *)sink, rec);
        } else {
            PyObject *r = PyObject_CallOneArg(sink, rec);
            if (r == NULL) rc = -1;
            else Py_DECREF(r);
        }
    }
    Py_DECREF(sinks);
    Py_DECREF(rec);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static int writer_init(Writer *self, PyObject *args, PyObject *kwds) {
    PyObject *index;
    static char *kwlist[] = {"index", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!", kwlist, &PyLong_Type, &index)) return -1;
    Py_INCREF(index);
    Py_XSETREF(self->index, index);
    Py_XSETREF(self->sinks, PyTuple_New(0));
    self->vectorcall = writer_vectorcall;
    return self->sinks == NULL ? -1 : 0;
}

static PyObject *writer_get_sinks(Writer *self, void *closure) {
    Py_INCREF(self->sinks);
    return self->sinks;
}

static int writer_set_sinks(Writer *self, PyObject *value, void *closure) {
    if (value == NULL || !PyTuple_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "sinks must be a tuple");
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(self->sinks, value);
    return 0;
}

static int writer_traverse(Writer *self, visitproc visit, void *arg) {
    Py_VISIT(self->sinks);
    return 0;
}

static int writer_clear(Writer *self) {
    Py_CLEAR(self->sinks);
    return 0;
}

static void writer_dealloc(Writer *self) {
    PyObject_GC_UnTrack(self);
    writer_clear(self);
    Py_CLEAR(self->index);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyGetSetDef writer_getset[] = {
    {"sinks", (getter)writer_get_sinks, (setter)writer_set_sinks, "the sessions' sinks", NULL},
    {NULL},
};

static PyTypeObject WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracer._speedups.Writer",
    .tp_doc = "Writer(index): EventType.write in C; record (time_ns, index, tid, *args)",
    .tp_basicsize = sizeof(Writer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)writer_init,
    .tp_dealloc = (destructor)writer_dealloc,
    .tp_traverse = (traverseproc)writer_traverse,
    .tp_clear = (inquiry)writer_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Writer, vectorcall),
    .tp_getset = writer_getset,
};

static PyMethodDef methods[] = {
    {"render_lines", (PyCFunction)(void (*)(void))render_lines, METH_FASTCALL,
     "render_lines(records, first_seq, codecs, tids, encode) -> bytearray of JSON lines"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tracer._speedups",
    "Optional C renderer of JSON lines (tracer._render is the reference).", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    if (PyType_Ready(&SinkType) < 0 || PyType_Ready(&WriterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", SPEEDUPS_VERSION) < 0
        || PyModule_AddObjectRef(m, "Sink", (PyObject *)&SinkType) < 0
        || PyModule_AddObjectRef(m, "Writer", (PyObject *)&WriterType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
