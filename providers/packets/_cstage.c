/* The compiled packet stage (issue 14, item 4): TCP reassembly that owns its state.
 *
 * Reassembler is the C twin of providers/packets/_reassembly.py's TcpReassembler, the
 * reference: the same algorithm step by step (32-bit sequence numbers mapped onto an
 * unbounded stream offset, in-order data delivered at once, out-of-order data parked
 * in non-overlapping intervals where the first data seen wins, bounds per stream and
 * in total past which the stream skips to its first parked segment), the same
 * callbacks in the same order and the same counters. Its state lives in its own C
 * structures: it reads and writes no attribute of any Python object. It is told about
 * a segment by values (feed(key, side, seq, flags, data, off, n)) and talks back
 * through the three callables it was made with, on_data(key, side, bytes),
 * on_gap(key, side, n) and on_end(key, side, reason); ``key`` is any hashable that
 * names the flow (the pipeline's Flow).
 *
 * A callback may call back in (close the flow, feed it): every loop re-reads the state
 * instead of keeping pointers into it, and the streams of a flow stay alive until the
 * outermost call returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define VERSION 1

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define SPECIAL (TCP_SYN | TCP_FIN | TCP_RST)
#define HALF 0x80000000LL

/* A parked interval: stream offset of its first byte, and its bytes. */
typedef struct {
    long long start;
    PyObject *bytes;
} Parked;

/* One direction of one connection (_Stream). */
typedef struct {
    int has_base, ended, has_fin;
    uint32_t base;      /* sequence number at stream offset 0 */
    long long next;     /* stream offset of the next byte to deliver */
    long long fin_at;   /* stream offset of the FIN, once seen */
    long long buffered;
    Parked *parked;     /* sorted by start */
    Py_ssize_t count, cap;
} Stream;

/* The two directions of one flow: a Python object, so that the flow's dict entry owns
 * it and a call in progress can hold it. */
typedef struct {
    PyObject_HEAD
    Stream side[2];
} Pair;

enum { DELIVERED, BUFFERED, DROPPED, GAP_BYTES, GAPS, OUT_OF_ORDER, OVERLAP, RETRANSMITTED,
       N_STATS };
static const char *const stat_names[N_STATS] = {
    "delivered_bytes", "buffered_bytes", "dropped_bytes", "gap_bytes", "gaps",
    "out_of_order", "overlap_bytes", "retransmitted_bytes"};

typedef struct {
    PyObject_HEAD
    PyObject *on_data, *on_gap, *on_end;
    PyObject *streams;  /* key -> Pair */
    long long max_stream, max_total;
    long long stats[N_STATS];
} Reassembler;

static PyObject *s_fin, *s_rst, *s_close;

/* -- Pair --------------------------------------------------------------------------- */

static void
stream_clear(Stream *st)
{
    for (Py_ssize_t i = 0; i < st->count; i++)
        Py_CLEAR(st->parked[i].bytes);
    PyMem_Free(st->parked);
    st->parked = NULL;
    st->count = st->cap = 0;
}

static void
pair_dealloc(Pair *self)
{
    stream_clear(&self->side[0]);
    stream_clear(&self->side[1]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject PairType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "providers.packets._cstage._Pair",
    .tp_basicsize = sizeof(Pair),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)pair_dealloc,
    .tp_doc = "The two stream directions of one flow (internal).",
};

/* -- the algorithm (TcpReassembler's methods, same names) --------------------------- */

/* Stream offset of ``seq``: the 32-bit value nearest the next offset. */
static long long
offset_of(const Stream *st, uint32_t seq)
{
    uint32_t expected = (uint32_t)((unsigned long long)st->base + (unsigned long long)st->next);
    long long delta = (long long)(uint32_t)(seq - expected + (uint32_t)HALF) - HALF;
    return st->next + delta;
}

/* fn(key, side, arg), stealing ``arg`` (which may be NULL after a failed allocation). */
static int
call3(PyObject *fn, PyObject *key, int side, PyObject *arg)
{
    PyObject *sideobj = PyLong_FromLong(side), *res = NULL;
    if (sideobj != NULL && arg != NULL) {
        PyObject *argv[3] = {key, sideobj, arg};
        res = PyObject_Vectorcall(fn, argv, 3, NULL);
    }
    Py_XDECREF(sideobj);
    Py_XDECREF(arg);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

static int
deliver(Reassembler *self, PyObject *key, int side, Stream *st, PyObject *bytes)
{
    Py_ssize_t n = PyBytes_GET_SIZE(bytes);
    st->next += n;
    self->stats[DELIVERED] += n;
    return call3(self->on_data, key, side, Py_NewRef(bytes));
}

/* Remove and return (a new reference) the first parked interval; its start in *start. */
static PyObject *
pop_first(Stream *st, long long *start)
{
    PyObject *b = st->parked[0].bytes;
    *start = st->parked[0].start;
    memmove(st->parked, st->parked + 1, (size_t)(st->count - 1) * sizeof(Parked));
    st->count--;
    return b;
}

/* Deliver parked data that has become contiguous. */
static int
drain(Reassembler *self, PyObject *key, int side, Stream *st)
{
    while (st->count && st->parked[0].start <= st->next) {
        long long s;
        PyObject *chunk = pop_first(st, &s);
        Py_ssize_t n = PyBytes_GET_SIZE(chunk);
        st->buffered -= n;
        self->stats[BUFFERED] -= n;
        if (s + n <= st->next) {
            self->stats[OVERLAP] += n;
            Py_DECREF(chunk);
            continue;
        }
        if (s < st->next) {
            self->stats[OVERLAP] += st->next - s;
            PyObject *rest = PyBytes_FromStringAndSize(PyBytes_AS_STRING(chunk) + (st->next - s),
                                                       n - (Py_ssize_t)(st->next - s));
            Py_SETREF(chunk, rest);
            if (chunk == NULL)
                return -1;
        }
        int rc = deliver(self, key, side, st, chunk);
        Py_DECREF(chunk);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Declare the hole before the first parked segment lost and deliver what follows. */
static int
skip_gap(Reassembler *self, PyObject *key, int side, Stream *st)
{
    long long first = st->parked[0].start;
    if (first > st->next) {
        long long gap = first - st->next;
        self->stats[GAPS] += 1;
        self->stats[GAP_BYTES] += gap;
        if (call3(self->on_gap, key, side, PyLong_FromLongLong(gap)) < 0)
            return -1;
        st->next = first;
    }
    return drain(self, key, side, st);
}

static int
finish(Reassembler *self, PyObject *key, int side, Stream *st, PyObject *reason)
{
    while (st->count)
        if (skip_gap(self, key, side, st) < 0)
            return -1;
    st->ended = 1;
    return call3(self->on_end, key, side, Py_NewRef(reason));
}

/* Make room for n parked bytes by skipping ahead if a bound would be crossed. */
static int
room(Reassembler *self, PyObject *key, int side, Stream *st, long long n)
{
    while (st->count && (st->buffered + n > self->max_stream
                         || self->stats[BUFFERED] + n > self->max_total))
        if (skip_gap(self, key, side, st) < 0)
            return -1;
    return st->buffered + n <= self->max_stream && self->stats[BUFFERED] + n <= self->max_total;
}

/* Index of the first parked interval starting after ``pos`` (bisect_right). */
static Py_ssize_t
bisect_right(const Stream *st, long long pos)
{
    Py_ssize_t lo = 0, hi = st->count;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (pos < st->parked[mid].start)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int
insort(Stream *st, long long start, PyObject *bytes)
{
    if (st->count == st->cap) {
        Py_ssize_t cap = st->cap ? 2 * st->cap : 4;
        Parked *p = PyMem_Realloc(st->parked, (size_t)cap * sizeof(Parked));
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        st->parked = p, st->cap = cap;
    }
    Py_ssize_t i = bisect_right(st, start);
    memmove(st->parked + i + 1, st->parked + i, (size_t)(st->count - i) * sizeof(Parked));
    st->parked[i].start = start;
    st->parked[i].bytes = Py_NewRef(bytes);
    st->count++;
    return 0;
}

/* Pieces of a segment to park: stream offsets and bytes (new references). */
typedef struct {
    long long *starts;
    PyObject **bytes;
    Py_ssize_t count, cap;
} Pieces;

static int
add_piece(Pieces *p, long long start, const char *data, Py_ssize_t n)
{
    if (p->count == p->cap) {
        Py_ssize_t cap = p->cap ? 2 * p->cap : 4;
        long long *s = PyMem_Realloc(p->starts, (size_t)cap * sizeof(long long));
        if (s == NULL)
            goto nomem;
        p->starts = s;
        PyObject **b = PyMem_Realloc(p->bytes, (size_t)cap * sizeof(PyObject *));
        if (b == NULL)
            goto nomem;
        p->bytes = b, p->cap = cap;
    }
    if ((p->bytes[p->count] = PyBytes_FromStringAndSize(data, n)) == NULL)
        return -1;
    p->starts[p->count++] = start;
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* Keep the parts of data[0:n] (at stream offset pos) no parked interval covers yet
 * (the first data seen wins). */
static int
park(Reassembler *self, PyObject *key, int side, Stream *st, long long pos, const char *data,
     Py_ssize_t n)
{
    Pieces p = {NULL, NULL, 0, 0};
    int rc = -1;
    long long cur = pos, end = pos + n;
    Py_ssize_t i = bisect_right(st, cur) - 1;
    if (i < 0)
        i = 0;
    while (cur < end && i < st->count) {  /* (no callback runs here: the state holds) */
        long long s = st->parked[i].start;
        long long e = s + PyBytes_GET_SIZE(st->parked[i].bytes);
        if (e <= cur) {
            i++;
            continue;
        }
        if (s >= end)
            break;
        if (s > cur && add_piece(&p, cur, data + (cur - pos), (Py_ssize_t)(s - cur)) < 0)
            goto done;
        self->stats[OVERLAP] += (e < end ? e : end) - (s > cur ? s : cur);
        cur = e;
        i++;
    }
    if (cur < end && add_piece(&p, cur, data + (cur - pos), (Py_ssize_t)(end - cur)) < 0)
        goto done;
    for (Py_ssize_t k = 0; k < p.count; k++) {
        Py_ssize_t len = PyBytes_GET_SIZE(p.bytes[k]);
        int ok = room(self, key, side, st, len);
        if (ok < 0)
            goto done;
        if (!ok || p.starts[k] < st->next) {  /* no room, or a forced skip moved past it */
            self->stats[DROPPED] += len;
            continue;
        }
        if (insort(st, p.starts[k], p.bytes[k]) < 0)
            goto done;
        st->buffered += len;
        self->stats[BUFFERED] += len;
    }
    rc = 0;
done:
    for (Py_ssize_t k = 0; k < p.count; k++)
        Py_DECREF(p.bytes[k]);
    PyMem_Free(p.starts);
    PyMem_Free(p.bytes);
    return rc;
}

static int
segment(Reassembler *self, PyObject *key, int side, Stream *st, long long pos,
        const char *data, Py_ssize_t n)
{
    long long end = pos + n;
    if (end <= st->next) {
        self->stats[RETRANSMITTED] += n;
        return 0;
    }
    if (pos < st->next) {
        self->stats[OVERLAP] += st->next - pos;
        data += st->next - pos;
        n -= (Py_ssize_t)(st->next - pos);
        pos = st->next;
    }
    if (pos == st->next && !(st->count && st->parked[0].start < end)) {
        PyObject *chunk = PyBytes_FromStringAndSize(data, n);
        if (chunk == NULL)
            return -1;
        int rc = deliver(self, key, side, st, chunk);
        Py_DECREF(chunk);
        return rc < 0 ? -1 : drain(self, key, side, st);
    }
    if (pos > st->next)
        self->stats[OUT_OF_ORDER] += 1;
    if (park(self, key, side, st, pos, data, n) < 0)
        return -1;
    return drain(self, key, side, st);
}

/* Any segment: SYN, data anywhere, FIN, RST (n: its payload length as declared; the
 * bytes at hand are data[0:avail]). */
static int
feed_slow(Reassembler *self, PyObject *key, int side, Stream *st, uint32_t seq, int flags,
          const char *data, Py_ssize_t avail, long long n)
{
    if (flags & TCP_SYN) {
        if (!st->has_base || !st->next) {
            st->base = seq + 1;
            st->has_base = 1;
            st->next = 0;
        }
        seq = seq + 1;
    }
    if (n && !st->has_base) {  /* first seen mid-session: start at the first data */
        st->base = seq;
        st->has_base = 1;
    }
    if (n && segment(self, key, side, st, offset_of(st, seq), data, avail) < 0)
        return -1;
    if (flags & TCP_RST)
        return finish(self, key, side, st, s_rst);
    if (flags & TCP_FIN && st->has_base) {
        st->fin_at = offset_of(st, (uint32_t)(seq + (uint32_t)n));
        st->has_fin = 1;
    }
    return 0;
}

/* -- the type ------------------------------------------------------------------------ */

static int
reassembler_init(Reassembler *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"on_data", "on_gap", "on_end", "max_stream_buffer",
                            "max_total_buffer", NULL};
    PyObject *on_data, *on_gap, *on_end;
    long long max_stream = 1 << 20, max_total = 64LL << 20;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|LL:Reassembler", names, &on_data, &on_gap,
                                     &on_end, &max_stream, &max_total))
        return -1;
    if (!PyCallable_Check(on_data) || !PyCallable_Check(on_gap) || !PyCallable_Check(on_end)) {
        PyErr_SetString(PyExc_TypeError, "Reassembler: the callbacks must be callable");
        return -1;
    }
    Py_XSETREF(self->on_data, Py_NewRef(on_data));
    Py_XSETREF(self->on_gap, Py_NewRef(on_gap));
    Py_XSETREF(self->on_end, Py_NewRef(on_end));
    if (self->streams == NULL && (self->streams = PyDict_New()) == NULL)
        return -1;
    self->max_stream = max_stream, self->max_total = max_total;
    return 0;
}

static int
reassembler_traverse(Reassembler *self, visitproc visit, void *arg)
{
    Py_VISIT(self->on_data);
    Py_VISIT(self->on_gap);
    Py_VISIT(self->on_end);
    Py_VISIT(self->streams);
    return 0;
}

static int
reassembler_clear(Reassembler *self)
{
    Py_CLEAR(self->on_data);
    Py_CLEAR(self->on_gap);
    Py_CLEAR(self->on_end);
    Py_CLEAR(self->streams);
    return 0;
}

static void
reassembler_dealloc(Reassembler *self)
{
    PyObject_GC_UnTrack(self);
    reassembler_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
ready(Reassembler *self)
{
    if (self->streams == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reassembler: not initialised");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(feed_doc,
"feed(key, side, seq, flags, data, off, n)\n\n"
"Account one TCP segment sent by ``side`` (0: initiator) of the flow ``key``: sequence\n"
"number, flags, and its payload: ``n`` bytes declared at data[off:] (fewer if the\n"
"capture cut them).");

static PyObject *
reassembler_feed(Reassembler *self, PyObject *const *argv, Py_ssize_t argc)
{
    if (!ready(self))
        return NULL;
    if (argc != 7 || !PyBytes_Check(argv[4])) {
        PyErr_SetString(PyExc_TypeError, "feed(key, side, seq, flags, bytes, off, n)");
        return NULL;
    }
    PyObject *key = argv[0];
    long side = PyLong_AsLong(argv[1]);
    unsigned long long seq = PyLong_AsUnsignedLongLongMask(argv[2]);
    long flags = PyLong_AsLong(argv[3]);
    Py_ssize_t off = PyLong_AsSsize_t(argv[5]);
    long long n = PyLong_AsLongLong(argv[6]);
    if (PyErr_Occurred())
        return NULL;
    if ((side != 0 && side != 1) || off < 0 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "feed: side 0 or 1, off and n not negative");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(argv[4]);
    const char *data = PyBytes_AS_STRING(argv[4]) + (off < size ? off : size);
    Py_ssize_t avail = off < size ? size - off : 0;
    if ((long long)avail > n)
        avail = (Py_ssize_t)n;
    PyObject *pair = PyDict_GetItemWithError(self->streams, key);
    if (pair == NULL) {
        if (PyErr_Occurred() || (pair = PyType_GenericAlloc(&PairType, 0)) == NULL)
            return NULL;
        int rc = PyDict_SetItem(self->streams, key, pair);
        Py_DECREF(pair);
        if (rc < 0)
            return NULL;
    }
    Py_INCREF(pair);  /* alive while callbacks run, even if they close the flow */
    Stream *st = &((Pair *)pair)->side[side];
    int rc = 0;
    if (st->ended)
        goto done;
    if (n && !(flags & SPECIAL) && !st->count && st->has_base
        && (uint32_t)seq == (uint32_t)((unsigned long long)st->base + (unsigned long long)st->next)) {
        /* the common case: the next data in order, nothing parked, no SYN, FIN or RST */
        if (avail) {
            PyObject *chunk = PyBytes_FromStringAndSize(data, avail);
            rc = chunk ? deliver(self, key, (int)side, st, chunk) : -1;
            Py_XDECREF(chunk);
        }
    }
    else
        rc = feed_slow(self, key, (int)side, st, (uint32_t)seq, (int)flags, data, avail, n);
    if (rc == 0 && st->has_fin && st->next >= st->fin_at && !st->ended)
        rc = finish(self, key, (int)side, st, s_fin);
done:
    Py_DECREF(pair);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(close_doc,
"close(key)\n\nThe flow ended: flush both directions (gaps reported) and forget them.");

static PyObject *
reassembler_close(Reassembler *self, PyObject *key)
{
    if (!ready(self))
        return NULL;
    PyObject *pair = PyDict_GetItemWithError(self->streams, key);
    if (pair == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    Py_INCREF(pair);
    if (PyDict_DelItem(self->streams, key) < 0) {
        Py_DECREF(pair);
        return NULL;
    }
    int rc = 0;
    for (int side = 0; side < 2 && rc == 0; side++) {
        Stream *st = &((Pair *)pair)->side[side];
        if (!st->ended) {
            rc = finish(self, key, side, st, s_close);
            st->ended = 1;
        }
    }
    Py_DECREF(pair);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(stats_doc, "stats() -> dict\n\nThe counters, by ReassemblyStats' names.");

static PyObject *
reassembler_stats(Reassembler *self, PyObject *unused)
{
    PyObject *d = PyDict_New();
    for (int i = 0; d != NULL && i < N_STATS; i++) {
        PyObject *v = PyLong_FromLongLong(self->stats[i]);
        if (v == NULL || PyDict_SetItemString(d, stat_names[i], v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

PyDoc_STRVAR(tracked_doc, "tracked(key) -> bool\n\nWhether the flow has stream state.");

static PyObject *
reassembler_tracked(Reassembler *self, PyObject *key)
{
    if (!ready(self))
        return NULL;
    int r = PyDict_Contains(self->streams, key);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyMethodDef reassembler_methods[] = {
    {"feed", (PyCFunction)(void (*)(void))reassembler_feed, METH_FASTCALL, feed_doc},
    {"close", (PyCFunction)reassembler_close, METH_O, close_doc},
    {"stats", (PyCFunction)reassembler_stats, METH_NOARGS, stats_doc},
    {"tracked", (PyCFunction)reassembler_tracked, METH_O, tracked_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReassemblerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "providers.packets._cstage.Reassembler",
    .tp_basicsize = sizeof(Reassembler),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)reassembler_init,
    .tp_traverse = (traverseproc)reassembler_traverse,
    .tp_clear = (inquiry)reassembler_clear,
    .tp_dealloc = (destructor)reassembler_dealloc,
    .tp_methods = reassembler_methods,
    .tp_doc = "Reassembler(on_data, on_gap, on_end, max_stream_buffer=1<<20, "
              "max_total_buffer=64<<20): TCP reassembly with its state in C "
              "(the twin of TcpReassembler).",
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "providers.packets._cstage",
    "The compiled packet stage: TCP reassembly that owns its state.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__cstage(void)
{
    s_fin = PyUnicode_InternFromString("fin");
    s_rst = PyUnicode_InternFromString("rst");
    s_close = PyUnicode_InternFromString("close");
    if (s_fin == NULL || s_rst == NULL || s_close == NULL || PyType_Ready(&PairType) < 0
        || PyType_Ready(&ReassemblerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", VERSION) < 0
        || PyModule_AddObjectRef(m, "Reassembler", (PyObject *)&ReassemblerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
