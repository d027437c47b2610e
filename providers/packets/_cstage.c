/* The compiled packet stage (issue 14, item 4): a flow table and TCP reassembly that own
 * their state.
 *
 * FlowTable is the C twin of providers/packets/_flows.py's FlowTable (same keys, LRU
 * order, state machine, timeouts, eviction, local networks, counters and on_end calls);
 * its flows are FlowBase objects whose state is the C struct's own (Python code reads it
 * through getters and sets only local_side, follow, user and _id). It is told about a
 * packet by values (account(proto, src, sport, dst, dport, icmp_id, flags, wire_len,
 * ts_ns, version)).
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
#include "structmember.h"

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

/* == the flow table (FlowTable's twin) ================================================ */

enum { NEW, ESTABLISHED, CLOSING, CLOSED };
enum { T_TCP, T_HANDSHAKE, T_CLOSED, T_UDP, T_ICMP, T_OTHER, N_TIMEOUTS };
#define TCP_ACK 0x10

/* One flow: a C type whose state is its own; Python code reads it through members and
 * getters, and writes only ``local_side``, ``follow``, ``user`` and ``_id``. */
typedef struct FlowObj {
    PyObject_HEAD
    PyObject *key, *addrs, *ports, *user, *id_, *states;
    int proto, version, local_side, follow, state, fin_seen[2];
    long long packets[2], bytes[2], first_ns, last_ns;
    unsigned char a[2][16];
    Py_ssize_t alen[2];
    long port[2];
    struct FlowObj *prev, *next;  /* LRU order while in a table (the table's dict owns it) */
} FlowObj;

static int
flow_traverse(FlowObj *self, visitproc visit, void *arg)
{
    Py_VISIT(self->key);
    Py_VISIT(self->addrs);
    Py_VISIT(self->ports);
    Py_VISIT(self->user);
    Py_VISIT(self->id_);
    Py_VISIT(self->states);
    return 0;
}

static int
flow_clear(FlowObj *self)
{
    Py_CLEAR(self->key);
    Py_CLEAR(self->addrs);
    Py_CLEAR(self->ports);
    Py_CLEAR(self->user);
    Py_CLEAR(self->id_);
    Py_CLEAR(self->states);
    return 0;
}

static void
flow_dealloc(FlowObj *self)
{
    PyObject_GC_UnTrack(self);
    flow_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
pair_list(long long a, long long b)
{
    return Py_BuildValue("[LL]", a, b);
}

static PyObject *
flow_get_state(FlowObj *self, void *c)
{
    if (self->states == NULL)
        Py_RETURN_NONE;
    return Py_NewRef(PyTuple_GET_ITEM(self->states, self->state));
}

static PyObject *
flow_get_packets(FlowObj *self, void *c)
{
    return pair_list(self->packets[0], self->packets[1]);
}

static PyObject *
flow_get_bytes(FlowObj *self, void *c)
{
    return pair_list(self->bytes[0], self->bytes[1]);
}

static PyObject *
flow_get_fin_seen(FlowObj *self, void *c)
{
    return Py_BuildValue("[OO]", self->fin_seen[0] ? Py_True : Py_False,
                         self->fin_seen[1] ? Py_True : Py_False);
}

static PyObject *
flow_get_follow(FlowObj *self, void *c)
{
    return PyBool_FromLong(self->follow);
}

static int
flow_set_follow(FlowObj *self, PyObject *v, void *c)
{
    int b = v ? PyObject_IsTrue(v) : -1;
    if (b < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_AttributeError, "follow cannot be deleted");
        return -1;
    }
    self->follow = b;
    return 0;
}

static PyObject *
flow_get_local_side(FlowObj *self, void *c)
{
    return PyLong_FromLong(self->local_side);
}

static int
flow_set_local_side(FlowObj *self, PyObject *v, void *c)
{
    long side = v ? PyLong_AsLong(v) : -1;
    if (side != 0 && side != 1) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "local_side is 0 or 1");
        return -1;
    }
    self->local_side = (int)side;
    return 0;
}

static PyObject *
flow_get_obj(FlowObj *self, void *c)
{
    PyObject *v = *(PyObject **)((char *)self + (Py_ssize_t)c);
    return Py_NewRef(v ? v : Py_None);
}

static int
flow_set_obj(FlowObj *self, PyObject *v, void *c)
{
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot be deleted");
        return -1;
    }
    Py_XSETREF(*(PyObject **)((char *)self + (Py_ssize_t)c), Py_NewRef(v));
    return 0;
}

#define OBJ(field) (void *)offsetof(FlowObj, field)

static PyGetSetDef flow_getset[] = {
    {"state", (getter)flow_get_state, NULL, "FlowState", NULL},
    {"packets", (getter)flow_get_packets, NULL, "[sent by side 0, by side 1]", NULL},
    {"bytes", (getter)flow_get_bytes, NULL, "[sent by side 0, by side 1] (wire bytes)", NULL},
    {"fin_seen", (getter)flow_get_fin_seen, NULL, "[FIN from side 0, from side 1]", NULL},
    {"follow", (getter)flow_get_follow, (setter)flow_set_follow, "reassemble it", NULL},
    {"local_side", (getter)flow_get_local_side, (setter)flow_set_local_side, "0 or 1", NULL},
    {"user", (getter)flow_get_obj, (setter)flow_set_obj, "consumers' notes", OBJ(user)},
    {"_id", (getter)flow_get_obj, (setter)flow_set_obj, "Community ID, once made", OBJ(id_)},
    {"key", (getter)flow_get_obj, NULL, "canonical 5-tuple", OBJ(key)},
    {"addrs", (getter)flow_get_obj, NULL, "(side 0's, side 1's) packed address", OBJ(addrs)},
    {"ports", (getter)flow_get_obj, NULL, "(side 0's, side 1's) port", OBJ(ports)},
    {NULL},
};

static PyMemberDef flow_members[] = {
    {"proto", T_INT, offsetof(FlowObj, proto), READONLY, NULL},
    {"version", T_INT, offsetof(FlowObj, version), READONLY, NULL},
    {"first_ns", T_LONGLONG, offsetof(FlowObj, first_ns), READONLY, NULL},
    {"last_ns", T_LONGLONG, offsetof(FlowObj, last_ns), READONLY, NULL},
    {NULL},
};

static PyTypeObject FlowBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "providers.packets._cstage.FlowBase",
    .tp_basicsize = sizeof(FlowObj),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)flow_traverse,
    .tp_clear = (inquiry)flow_clear,
    .tp_dealloc = (destructor)flow_dealloc,
    .tp_getset = flow_getset,
    .tp_members = flow_members,
    .tp_doc = "A flow of a compiled FlowTable (made only by the table).",
};

typedef struct {
    int version;
    unsigned char net[16];
    int prefix;
} Net;

typedef struct {
    PyObject_HEAD
    PyObject *flows;      /* key -> FlowObj */
    PyTypeObject *flow_type;
    PyObject *states;     /* the FlowState members, by value */
    PyObject *on_end;     /* callable or None */
    FlowObj *head, *tail, *last;
    long long max_flows, timeouts[N_TIMEOUTS];
    long long created, evicted, expired, closed;
    int follow;
    Net *nets;
    Py_ssize_t n_nets;
} Table;

static PyObject *s_evicted, *s_closed, *s_expired, *s_end;

static void
lru_unlink(Table *t, FlowObj *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        t->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        t->tail = f->prev;
    f->prev = f->next = NULL;
}

static void
lru_append(Table *t, FlowObj *f)
{
    f->prev = t->tail, f->next = NULL;
    if (t->tail)
        t->tail->next = f;
    else
        t->head = f;
    t->tail = f;
}

/* Take f out of the table (dict and order); the caller holds its own reference. */
static int
table_remove(Table *t, FlowObj *f)
{
    if (t->last == f)
        t->last = NULL;
    lru_unlink(t, f);
    return PyDict_DelItem(t->flows, f->key);
}

static int
notify_end(Table *t, FlowObj *f, PyObject *reason)
{
    if (t->on_end == Py_None)
        return 0;
    PyObject *argv[2] = {(PyObject *)f, reason};
    PyObject *res = PyObject_Vectorcall(t->on_end, argv, 2, NULL);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

static int
in_net(const Net *n, const unsigned char *a, Py_ssize_t alen)
{
    if (alen != (n->version == 4 ? 4 : 16))
        return 0;
    int full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(a, n->net, (size_t)full) != 0)
        return 0;
    return rest == 0 || ((a[full] ^ n->net[full]) & (0xFF << (8 - rest)) & 0xFF) == 0;
}

static int
in_nets(Table *t, const unsigned char *a, Py_ssize_t alen)
{
    for (Py_ssize_t i = 0; i < t->n_nets; i++)
        if (in_net(&t->nets[i], a, alen))
            return 1;
    return 0;
}

/* A packet's fields, as account() is given them. */
typedef struct {
    int proto, version;
    PyObject *src, *dst, *sport_obj, *dport_obj;
    long sport, dport, icmp_id, flags;
    long long wire, ts;
} Pkt;

static FlowObj *
flow_create(Table *t, PyObject *key, const Pkt *p)
{
    if ((long long)PyDict_GET_SIZE(t->flows) >= t->max_flows && t->head != NULL) {
        FlowObj *old = t->head;
        Py_INCREF(old);
        int rc = table_remove(t, old);
        t->last = NULL;
        t->evicted++;
        if (rc == 0)
            rc = notify_end(t, old, s_evicted);
        Py_DECREF(old);
        if (rc < 0)
            return NULL;
    }
    int local_side = 0;
    if (t->n_nets) {
        const unsigned char *dst = (const unsigned char *)PyBytes_AS_STRING(p->dst);
        const unsigned char *src = (const unsigned char *)PyBytes_AS_STRING(p->src);
        if (in_nets(t, dst, PyBytes_GET_SIZE(p->dst)) && !in_nets(t, src, PyBytes_GET_SIZE(p->src)))
            local_side = 1;
    }
    FlowObj *f = (FlowObj *)t->flow_type->tp_alloc(t->flow_type, 0);
    if (f == NULL)
        return NULL;
    f->key = Py_NewRef(key);
    f->addrs = PyTuple_Pack(2, p->src, p->dst);
    f->ports = PyTuple_Pack(2, p->sport_obj, p->dport_obj);
    f->user = PyDict_New();
    f->id_ = Py_NewRef(Py_None);
    f->states = Py_NewRef(t->states);
    if (f->addrs == NULL || f->ports == NULL || f->user == NULL) {
        Py_DECREF(f);
        return NULL;
    }
    f->proto = p->proto, f->version = p->version, f->local_side = local_side;
    f->follow = t->follow, f->state = NEW;
    f->first_ns = f->last_ns = p->ts;
    f->alen[0] = PyBytes_GET_SIZE(p->src), f->alen[1] = PyBytes_GET_SIZE(p->dst);
    memcpy(f->a[0], PyBytes_AS_STRING(p->src), (size_t)(f->alen[0] > 16 ? 16 : f->alen[0]));
    memcpy(f->a[1], PyBytes_AS_STRING(p->dst), (size_t)(f->alen[1] > 16 ? 16 : f->alen[1]));
    f->port[0] = p->sport, f->port[1] = p->dport;
    if (PyDict_SetItem(t->flows, key, (PyObject *)f) < 0) {
        Py_DECREF(f);
        return NULL;
    }
    Py_DECREF(f);  /* the dict owns it */
    lru_append(t, f);
    t->created++;
    return f;
}

static int
same_addr(const FlowObj *f, int i, PyObject *a)
{
    return PyBytes_GET_SIZE(a) == f->alen[i] && f->alen[i] <= 16
           && memcmp(PyBytes_AS_STRING(a), f->a[i], (size_t)f->alen[i]) == 0;
}

/* Python's (bytes, int) <= (bytes, int). */
static int
endpoint_le(PyObject *a, long pa, PyObject *b, long pb)
{
    Py_ssize_t la = PyBytes_GET_SIZE(a), lb = PyBytes_GET_SIZE(b);
    int c = memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), (size_t)(la < lb ? la : lb));
    if (c == 0 && la != lb)
        c = la < lb ? -1 : 1;
    return c < 0 || (c == 0 && pa <= pb);
}

/* The flow of a packet by its canonical key (made if new, moved to the end of the
 * order); *side: who sent it. A borrowed reference (the table owns it) or NULL. */
static FlowObj *
lookup(Table *t, const Pkt *p, int *side)
{
    int icmp = p->icmp_id >= 0;
    long pa = icmp ? p->icmp_id : p->sport, pb = icmp ? p->icmp_id : p->dport;
    PyObject *oa = icmp ? PyLong_FromLong(pa) : Py_NewRef(p->sport_obj);
    PyObject *ob = icmp ? PyLong_FromLong(pb) : Py_NewRef(p->dport_obj);
    PyObject *proto = PyLong_FromLong(p->proto), *key = NULL;
    PyObject *ea = oa ? PyTuple_Pack(2, p->src, oa) : NULL;
    PyObject *eb = ob ? PyTuple_Pack(2, p->dst, ob) : NULL;
    if (ea && eb && proto)
        key = endpoint_le(p->src, pa, p->dst, pb) ? PyTuple_Pack(3, proto, ea, eb)
                                                  : PyTuple_Pack(3, proto, eb, ea);
    Py_XDECREF(oa);
    Py_XDECREF(ob);
    Py_XDECREF(ea);
    Py_XDECREF(eb);
    Py_XDECREF(proto);
    if (key == NULL)
        return NULL;
    FlowObj *f = (FlowObj *)PyDict_GetItemWithError(t->flows, key);
    if (f == NULL && PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    if (f != NULL && f->state == CLOSED && p->flags & TCP_SYN && !(p->flags & TCP_ACK)) {
        if (table_remove(t, f) < 0) {  /* its end was reported when it closed */
            Py_DECREF(key);
            return NULL;
        }
        f = NULL;
    }
    if (f == NULL)
        f = flow_create(t, key, p);
    else {
        lru_unlink(t, f);
        lru_append(t, f);
    }
    Py_DECREF(key);
    if (f == NULL)
        return NULL;
    if (icmp)
        *side = same_addr(f, 0, p->src) ? 0 : 1;
    else
        *side = same_addr(f, 0, p->src) && p->sport == f->port[0] ? 0 : 1;
    return f;
}

static int
flow_close(Table *t, FlowObj *f)
{
    f->state = CLOSED;
    t->closed++;
    return notify_end(t, f, s_closed);
}

/* The state machine: both sides heard -> established; FIN -> closing; RST or FIN from
 * both sides -> closed. */
static int
advance(Table *t, FlowObj *f, long flags, int side)
{
    if (f->state == CLOSED)
        return 0;
    if (f->proto == 6) {
        if (flags & TCP_RST)
            return flow_close(t, f);
        if (flags & TCP_FIN) {
            f->fin_seen[side] = 1;
            if (f->fin_seen[0] && f->fin_seen[1])
                return flow_close(t, f);
            f->state = CLOSING;
            return 0;
        }
    }
    if (f->state == NEW && f->packets[0] && f->packets[1])
        f->state = ESTABLISHED;
    return 0;
}

PyDoc_STRVAR(account_doc,
"account(proto, src, sport, dst, dport, icmp_id, flags, wire_len, ts_ns, version)\n"
"    -> (flow, side)\n\n"
"FlowTable.account for a packet given by its fields.");

static int
table_ready(Table *t)
{
    if (t->flows == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "FlowTable: not initialised");
        return 0;
    }
    return 1;
}

static PyObject *
table_account(Table *t, PyObject *const *argv, Py_ssize_t argc)
{
    if (!table_ready(t))
        return NULL;
    if (argc != 10 || !PyBytes_Check(argv[1]) || !PyBytes_Check(argv[3])
        || !PyLong_Check(argv[2]) || !PyLong_Check(argv[4])) {
        PyErr_SetString(PyExc_TypeError, "account(proto, bytes, int, bytes, int, icmp_id, "
                                         "flags, wire_len, ts_ns, version)");
        return NULL;
    }
    Pkt p = {.src = argv[1], .dst = argv[3], .sport_obj = argv[2], .dport_obj = argv[4]};
    p.proto = (int)PyLong_AsLong(argv[0]);
    p.sport = PyLong_AsLong(argv[2]);
    p.dport = PyLong_AsLong(argv[4]);
    p.icmp_id = PyLong_AsLong(argv[5]);
    p.flags = PyLong_AsLong(argv[6]);
    p.wire = PyLong_AsLongLong(argv[7]);
    p.ts = PyLong_AsLongLong(argv[8]);
    p.version = (int)PyLong_AsLong(argv[9]);
    if (PyErr_Occurred())
        return NULL;
    FlowObj *f = t->last;
    int side = -1;
    if (f != NULL && f->state != CLOSED && p.proto == f->proto && p.icmp_id < 0) {
        if (p.sport == f->port[0] && p.dport == f->port[1] && same_addr(f, 0, p.src)
            && same_addr(f, 1, p.dst))
            side = 0;
        else if (p.sport == f->port[1] && p.dport == f->port[0] && same_addr(f, 1, p.src)
                 && same_addr(f, 0, p.dst))
            side = 1;
    }
    if (side < 0) {
        if ((f = lookup(t, &p, &side)) == NULL)
            return NULL;
        t->last = f;
    }
    Py_INCREF(f);
    f->packets[side]++;
    f->bytes[side] += p.wire;
    f->last_ns = p.ts;
    if ((f->state != ESTABLISHED || p.flags & (TCP_FIN | TCP_RST))
        && advance(t, f, p.flags, side) < 0) {
        Py_DECREF(f);
        return NULL;
    }
    PyObject *res = Py_BuildValue("(Oi)", (PyObject *)f, side);
    Py_DECREF(f);
    return res;
}

static long long
timeout_of(Table *t, FlowObj *f)
{
    if (f->proto == 6)
        return t->timeouts[f->state == ESTABLISHED ? T_TCP : f->state == CLOSED ? T_CLOSED
                                                                               : T_HANDSHAKE];
    if (f->proto == 17)
        return t->timeouts[T_UDP];
    if (f->proto == 1 || f->proto == 58)
        return t->timeouts[T_ICMP];
    return t->timeouts[T_OTHER];
}

/* Take f out and tell on_end, unless something already took it out. */
static int
end_flow(Table *t, FlowObj *f, PyObject *reason, int notify)
{
    int present = PyDict_GetItemWithError(t->flows, f->key) == (PyObject *)f;
    if (!present)
        return PyErr_Occurred() ? -1 : 0;
    if (table_remove(t, f) < 0)
        return -1;
    t->last = NULL;
    return notify ? notify_end(t, f, reason) : 0;
}

PyDoc_STRVAR(expire_doc, "expire(now_ns) -> int\n\nFlowTable.expire.");

static PyObject *
table_expire(Table *t, PyObject *arg)
{
    if (!table_ready(t))
        return NULL;
    long long now = PyLong_AsLongLong(arg);
    if (now == -1 && PyErr_Occurred())
        return NULL;
    long long shortest = t->timeouts[0];
    for (int i = 1; i < N_TIMEOUTS; i++)
        if (t->timeouts[i] < shortest)
            shortest = t->timeouts[i];
    PyObject *gone = PyList_New(0);
    if (gone == NULL)
        return NULL;
    for (FlowObj *f = t->head; f != NULL; f = f->next) {  /* least recently seen first */
        long long idle = now - f->last_ns;
        if (idle <= shortest)
            break;
        if (idle > timeout_of(t, f) && PyList_Append(gone, (PyObject *)f) < 0) {
            Py_DECREF(gone);
            return NULL;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(gone);
    if (n)
        t->last = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        FlowObj *f = (FlowObj *)PyList_GET_ITEM(gone, i);
        int closed = f->state == CLOSED;
        if (!closed)
            t->expired++;
        if (end_flow(t, f, s_expired, !closed) < 0) {
            Py_DECREF(gone);
            return NULL;
        }
    }
    Py_DECREF(gone);
    return PyLong_FromSsize_t(n);
}

static PyObject *
table_list(Table *t)
{
    PyObject *l = PyList_New(0);
    for (FlowObj *f = t->head; l != NULL && f != NULL; f = f->next)
        if (PyList_Append(l, (PyObject *)f) < 0)
            Py_CLEAR(l);
    return l;
}

PyDoc_STRVAR(flush_doc, "flush()\n\nFlowTable.flush: end every open flow.");

static PyObject *
table_flush(Table *t, PyObject *unused)
{
    if (!table_ready(t))
        return NULL;
    t->last = NULL;
    PyObject *all = table_list(t);
    if (all == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all); i++) {
        FlowObj *f = (FlowObj *)PyList_GET_ITEM(all, i);
        if (end_flow(t, f, s_end, f->state != CLOSED) < 0) {
            Py_DECREF(all);
            return NULL;
        }
    }
    Py_DECREF(all);
    Py_RETURN_NONE;
}

static PyObject *
table_flows(Table *t, PyObject *unused)
{
    return table_ready(t) ? table_list(t) : NULL;
}

static PyObject *
table_stats(Table *t, PyObject *unused)
{
    return Py_BuildValue("{sLsLsLsL}", "closed", t->closed, "created", t->created, "evicted",
                         t->evicted, "expired", t->expired);
}

static Py_ssize_t
table_len(Table *t)
{
    return t->flows ? PyDict_GET_SIZE(t->flows) : 0;
}

static int
table_init(Table *t, PyObject *args, PyObject *kw)
{
    static char *names[] = {"flow_type", "states", "max_flows", "timeouts_ns", "nets", NULL};
    PyObject *flow_type, *states, *timeouts, *nets;
    long long max_flows;
    if (t->flows != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "FlowTable: already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!LO!O!:FlowTable", names, &flow_type,
                                     &PyTuple_Type, &states, &max_flows, &PyTuple_Type,
                                     &timeouts, &PyList_Type, &nets))
        return -1;
    if (!PyType_Check(flow_type)
        || !PyType_IsSubtype((PyTypeObject *)flow_type, &FlowBaseType)
        || PyTuple_GET_SIZE(states) != 4 || PyTuple_GET_SIZE(timeouts) != N_TIMEOUTS) {
        PyErr_SetString(PyExc_TypeError, "FlowTable(FlowBase subclass, 4 states, max_flows, "
                                         "6 timeouts, nets)");
        return -1;
    }
    for (int i = 0; i < N_TIMEOUTS; i++)
        if ((t->timeouts[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(timeouts, i))) == -1
            && PyErr_Occurred())
            return -1;
    Py_ssize_t n = PyList_GET_SIZE(nets);
    if (n && (t->nets = PyMem_Calloc((size_t)n, sizeof(Net))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int version, prefix;
        const char *net;
        Py_ssize_t len;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(nets, i), "iy#i", &version, &net, &len, &prefix))
            return -1;
        if (len != (version == 4 ? 4 : 16) || prefix < 0 || prefix > 8 * len) {
            PyErr_SetString(PyExc_ValueError, "FlowTable: bad network");
            return -1;
        }
        t->nets[i].version = version, t->nets[i].prefix = prefix;
        memcpy(t->nets[i].net, net, (size_t)len);
        t->n_nets = i + 1;
    }
    t->flow_type = (PyTypeObject *)Py_NewRef(flow_type);
    t->states = Py_NewRef(states);
    t->on_end = Py_NewRef(Py_None);
    t->max_flows = max_flows;
    t->follow = 1;
    return (t->flows = PyDict_New()) ? 0 : -1;
}

static int
table_traverse(Table *t, visitproc visit, void *arg)
{
    Py_VISIT(t->flows);
    Py_VISIT(t->flow_type);
    Py_VISIT(t->states);
    Py_VISIT(t->on_end);
    return 0;
}

static int
table_clear(Table *t)
{
    t->head = t->tail = t->last = NULL;
    Py_CLEAR(t->flows);
    Py_CLEAR(t->flow_type);
    Py_CLEAR(t->states);
    Py_CLEAR(t->on_end);
    return 0;
}

static void
table_dealloc(Table *t)
{
    PyObject_GC_UnTrack(t);
    table_clear(t);
    PyMem_Free(t->nets);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyObject *
table_get_on_end(Table *t, void *c)
{
    return Py_NewRef(t->on_end ? t->on_end : Py_None);
}

static int
table_set_on_end(Table *t, PyObject *v, void *c)
{
    if (v == NULL || (v != Py_None && !PyCallable_Check(v))) {
        PyErr_SetString(PyExc_TypeError, "on_end: a callable or None");
        return -1;
    }
    Py_XSETREF(t->on_end, Py_NewRef(v));
    return 0;
}

static PyObject *
table_get_follow(Table *t, void *c)
{
    return PyBool_FromLong(t->follow);
}

static int
table_set_follow(Table *t, PyObject *v, void *c)
{
    int b = v ? PyObject_IsTrue(v) : -1;
    if (b < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_AttributeError, "follow cannot be deleted");
        return -1;
    }
    t->follow = b;
    return 0;
}

static PyGetSetDef table_getset[] = {
    {"on_end", (getter)table_get_on_end, (setter)table_set_on_end, "on_end(flow, reason)", NULL},
    {"follow", (getter)table_get_follow, (setter)table_set_follow, "new flows' follow", NULL},
    {NULL},
};

static PyMethodDef table_methods[] = {
    {"account", (PyCFunction)(void (*)(void))table_account, METH_FASTCALL, account_doc},
    {"expire", (PyCFunction)table_expire, METH_O, expire_doc},
    {"flush", (PyCFunction)table_flush, METH_NOARGS, flush_doc},
    {"flows", (PyCFunction)table_flows, METH_NOARGS, "The flows, least recently seen first."},
    {"stats", (PyCFunction)table_stats, METH_NOARGS, "The counters, by FlowTableStats' names."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods table_as_sequence = {.sq_length = (lenfunc)table_len};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "providers.packets._cstage.FlowTable",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)table_init,
    .tp_traverse = (traverseproc)table_traverse,
    .tp_clear = (inquiry)table_clear,
    .tp_dealloc = (destructor)table_dealloc,
    .tp_methods = table_methods,
    .tp_getset = table_getset,
    .tp_as_sequence = &table_as_sequence,
    .tp_doc = "FlowTable(flow_type, states, max_flows, timeouts_ns, nets): the flow table "
              "with its state in C (the twin of packets._flows.FlowTable).",
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "providers.packets._cstage",
    "The compiled packet stage: a flow table and TCP reassembly that own their state.", -1, NULL,
};

PyMODINIT_FUNC
PyInit__cstage(void)
{
    s_fin = PyUnicode_InternFromString("fin");
    s_rst = PyUnicode_InternFromString("rst");
    s_close = PyUnicode_InternFromString("close");
    s_evicted = PyUnicode_InternFromString("evicted");
    s_closed = PyUnicode_InternFromString("closed");
    s_expired = PyUnicode_InternFromString("expired");
    s_end = PyUnicode_InternFromString("end");
    if (s_fin == NULL || s_rst == NULL || s_close == NULL || s_evicted == NULL
        || s_closed == NULL || s_expired == NULL || s_end == NULL
        || PyType_Ready(&PairType) < 0 || PyType_Ready(&ReassemblerType) < 0
        || PyType_Ready(&FlowBaseType) < 0 || PyType_Ready(&TableType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", VERSION) < 0
        || PyModule_AddObjectRef(m, "Reassembler", (PyObject *)&ReassemblerType) < 0
        || PyModule_AddObjectRef(m, "FlowBase", (PyObject *)&FlowBaseType) < 0
        || PyModule_AddObjectRef(m, "FlowTable", (PyObject *)&TableType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
