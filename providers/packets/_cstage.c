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

#define VERSION 2

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

struct Stage;

typedef struct {
    PyObject_HEAD
    PyObject *on_data, *on_gap, *on_end;
    PyObject *streams;  /* key -> Pair */
    struct Stage *stage;  /* set while a Stage drives it: the callbacks go to the stage */
    long long max_stream, max_total;
    long long stats[N_STATS];
} Reassembler;

static PyObject *s_fin, *s_rst, *s_close;

/* The stage's ends of the reassembler's three callbacks (defined with the Stage). */
static int stage_data(struct Stage *s, PyObject *key, int side, PyObject *bytes);
static int stage_gap(struct Stage *s, PyObject *key, int side, long long n);
static int stage_end(struct Stage *s, PyObject *key, int side, PyObject *reason);

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
    if (self->stage != NULL)
        return stage_data(self->stage, key, side, bytes);
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
        if ((self->stage != NULL ? stage_gap(self->stage, key, side, gap)
             : call3(self->on_gap, key, side, PyLong_FromLongLong(gap))) < 0)
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
    if (self->stage != NULL)
        return stage_end(self->stage, key, side, reason);
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

/* feed() for C callers: data[0:avail] of the n bytes the segment declares. */
static int
reasm_feed(Reassembler *self, PyObject *key, int side, uint32_t seq, int flags,
           const char *data, Py_ssize_t avail, long long n)
{
    PyObject *pair = PyDict_GetItemWithError(self->streams, key);
    if (pair == NULL) {
        if (PyErr_Occurred() || (pair = PyType_GenericAlloc(&PairType, 0)) == NULL)
            return -1;
        int rc = PyDict_SetItem(self->streams, key, pair);
        Py_DECREF(pair);
        if (rc < 0)
            return -1;
    }
    Py_INCREF(pair);  /* alive while callbacks run, even if they close the flow */
    Stream *st = &((Pair *)pair)->side[side];
    int rc = 0;
    if (st->ended)
        goto done;
    if (n && !(flags & SPECIAL) && !st->count && st->has_base
        && seq == (uint32_t)((unsigned long long)st->base + (unsigned long long)st->next)) {
        /* the common case: the next data in order, nothing parked, no SYN, FIN or RST */
        if (avail) {
            PyObject *chunk = PyBytes_FromStringAndSize(data, avail);
            rc = chunk ? deliver(self, key, side, st, chunk) : -1;
            Py_XDECREF(chunk);
        }
    }
    else
        rc = feed_slow(self, key, side, st, seq, flags, data, avail, n);
    if (rc == 0 && st->has_fin && st->next >= st->fin_at && !st->ended)
        rc = finish(self, key, side, st, s_fin);
done:
    Py_DECREF(pair);
    return rc;
}

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
    if (reasm_feed(self, key, (int)side, (uint32_t)seq, (int)flags, data, avail, n) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(close_doc,
"close(key)\n\nThe flow ended: flush both directions (gaps reported) and forget them.");

/* close() for C callers: 0, or -1 on error. */
static int
reasm_close(Reassembler *self, PyObject *key)
{
    PyObject *pair = PyDict_GetItemWithError(self->streams, key);
    if (pair == NULL)
        return PyErr_Occurred() ? -1 : 0;
    Py_INCREF(pair);
    if (PyDict_DelItem(self->streams, key) < 0) {
        Py_DECREF(pair);
        return -1;
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
    return rc;
}

static PyObject *
reassembler_close(Reassembler *self, PyObject *key)
{
    if (!ready(self) || reasm_close(self, key) < 0)
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
/* One direction's framing while the stream consumer lends it to a Stage: the state
 * of the consumer's parser (sync flag, stream offset, a line cut by the chunk's end,
 * a command awaiting the rest of its payload, limits), what was framed since, and
 * ``resume``, the consumer's callable that takes the state back. Without ``hold``
 * (the loan's sixth item false) the stage keeps nothing between chunks: a chunk that
 * ends in a cut line or a payload to come is handed back with it, so that the
 * consumer's parser holds (and accounts for) those bytes itself. With ``charge`` (the
 * loan's seventh item, a callable: a shared budget's ``adjust``) the stage holds them
 * and charges them itself: at each chunk's end, ``charge(delta)`` hears how much more
 * (or less) it holds than it charged; a false answer (the growth overdraws the budget)
 * hands the state back at once, saying so, for the consumer's parser to drop it. */
typedef struct {
    PyObject *resume;   /* NULL: the consumer parses this direction itself */
    PyObject *rest;     /* bytes of a line cut by a chunk's end, or NULL */
    PyObject *pending;  /* the header of a command awaiting its payload, or NULL */
    PyObject *payload;  /* bytearray: that payload so far (with pending) */
    PyObject *limits[2];  /* max_line, max_payload as the loan gave them */
    PyObject *charge;   /* the budget's adjust(delta) -> bool, or NULL */
    int synced, hold, charging;  /* charging: the loan had a seventh item */
    long long base, max_line, max_payload;
    long long nbytes, commands, payload_bytes;
    long long charged;  /* bytes held as last charged */
} Framing;

typedef struct FlowObj {
    PyObject_HEAD
    PyObject *key, *addrs, *ports, *user, *id_, *states;
    Framing fr[2];
    int settled;  /* the Stage's consumer needs only the count of its later packets */
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
    for (int i = 0; i < 2; i++) {
        Py_VISIT(self->fr[i].limits[0]);
        Py_VISIT(self->fr[i].limits[1]);
        Py_VISIT(self->fr[i].resume);
        Py_VISIT(self->fr[i].charge);
        Py_VISIT(self->fr[i].rest);
        Py_VISIT(self->fr[i].pending);
        Py_VISIT(self->fr[i].payload);
    }
    return 0;
}

static int
flow_clear(FlowObj *self)
{
    for (int i = 0; i < 2; i++) {
        Py_CLEAR(self->fr[i].limits[0]);
        Py_CLEAR(self->fr[i].limits[1]);
        Py_CLEAR(self->fr[i].resume);
        Py_CLEAR(self->fr[i].charge);
        Py_CLEAR(self->fr[i].rest);
        Py_CLEAR(self->fr[i].pending);
        Py_CLEAR(self->fr[i].payload);
    }
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
    struct Stage *stage;  /* set while a Stage drives it: ended flows go to the stage */
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

static int stage_ended(struct Stage *s, FlowObj *f, PyObject *reason);

static int
notify_end(Table *t, FlowObj *f, PyObject *reason)
{
    if (t->stage != NULL)
        return stage_ended(t->stage, f, reason);
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

/* A packet's fields, as account() is given them. The objects may be NULL when the raw
 * addresses (sa, da; alen bytes each) are given: pkt_objects makes them when needed. */
typedef struct {
    int proto, version;
    PyObject *src, *dst, *sport_obj, *dport_obj;
    const unsigned char *sa, *da;
    Py_ssize_t alen;
    long sport, dport, icmp_id, flags;
    long long wire, ts;
} Pkt;

/* Fill in the objects of a packet given raw (new references in own[4], NULL for
 * those given); 0, or -1 on error. */
static int
pkt_objects(Pkt *p, PyObject **own)
{
    own[0] = own[1] = own[2] = own[3] = NULL;
    if (p->src != NULL)
        return 0;
    p->src = own[0] = PyBytes_FromStringAndSize((const char *)p->sa, p->alen);
    p->dst = own[1] = PyBytes_FromStringAndSize((const char *)p->da, p->alen);
    p->sport_obj = own[2] = PyLong_FromLong(p->sport);
    p->dport_obj = own[3] = PyLong_FromLong(p->dport);
    return own[0] && own[1] && own[2] && own[3] ? 0 : -1;
}

static void
pkt_release(PyObject **own)
{
    for (int i = 0; i < 4; i++)
        Py_XDECREF(own[i]);
}

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

/* Is side i's address the ``n`` bytes at ``a``? */
static int
same_raw(const FlowObj *f, int i, const unsigned char *a, Py_ssize_t n)
{
    return n == f->alen[i] && n <= 16 && memcmp(a, f->a[i], (size_t)n) == 0;
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

static FlowObj *account_pkt(Table *t, const Pkt *pp, int *sidep);

/* The raw addresses of a packet given by objects (the shorter length when they
 * differ: such a packet never matches a flow by its raw bytes). */
static void
pkt_raw(Pkt *p)
{
    p->sa = (const unsigned char *)PyBytes_AS_STRING(p->src);
    p->da = (const unsigned char *)PyBytes_AS_STRING(p->dst);
    p->alen = PyBytes_GET_SIZE(p->src);
    if (PyBytes_GET_SIZE(p->dst) != p->alen)
        p->alen = -1;
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
    pkt_raw(&p);
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
    int side;
    FlowObj *f = account_pkt(t, &p, &side);
    if (f == NULL)
        return NULL;
    PyObject *res = Py_BuildValue("(Oi)", (PyObject *)f, side);
    Py_DECREF(f);
    return res;
}

/* account() for C callers: the packet's flow (a new reference) and *side, or NULL. */
static FlowObj *
account_pkt(Table *t, const Pkt *pp, int *sidep)
{
    Pkt p = *pp;
    FlowObj *f = t->last;
    int side = -1;
    if (f != NULL && f->state != CLOSED && p.proto == f->proto && p.icmp_id < 0) {
        if (p.sport == f->port[0] && p.dport == f->port[1] && same_raw(f, 0, p.sa, p.alen)
            && same_raw(f, 1, p.da, p.alen))
            side = 0;
        else if (p.sport == f->port[1] && p.dport == f->port[0]
                 && same_raw(f, 1, p.sa, p.alen) && same_raw(f, 0, p.da, p.alen))
            side = 1;
    }
    if (side < 0) {
        PyObject *own[4];
        f = pkt_objects(&p, own) == 0 ? lookup(t, &p, &side) : NULL;
        pkt_release(own);
        if (f == NULL)
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
    *sidep = side;
    return f;
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

static Py_ssize_t table_expire_c(Table *t, long long now);

static PyObject *
table_expire(Table *t, PyObject *arg)
{
    if (!table_ready(t))
        return NULL;
    long long now = PyLong_AsLongLong(arg);
    if (now == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = table_expire_c(t, now);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

/* expire() for C callers: how many flows left, or -1 on error. */
static Py_ssize_t
table_expire_c(Table *t, long long now)
{
    long long shortest = t->timeouts[0];
    for (int i = 1; i < N_TIMEOUTS; i++)
        if (t->timeouts[i] < shortest)
            shortest = t->timeouts[i];
    PyObject *gone = PyList_New(0);
    if (gone == NULL)
        return -1;
    for (FlowObj *f = t->head; f != NULL; f = f->next) {  /* least recently seen first */
        long long idle = now - f->last_ns;
        if (idle <= shortest)
            break;
        if (idle > timeout_of(t, f) && PyList_Append(gone, (PyObject *)f) < 0) {
            Py_DECREF(gone);
            return -1;
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
            return -1;
        }
    }
    Py_DECREF(gone);
    return n;
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

/* flush() for C callers: 0, or -1 on error. */
static int
table_flush_c(Table *t)
{
    t->last = NULL;
    PyObject *all = table_list(t);
    if (all == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all); i++) {
        FlowObj *f = (FlowObj *)PyList_GET_ITEM(all, i);
        if (end_flow(t, f, s_end, f->state != CLOSED) < 0) {
            Py_DECREF(all);
            return -1;
        }
    }
    Py_DECREF(all);
    return 0;
}

static PyObject *
table_flush(Table *t, PyObject *unused)
{
    if (!table_ready(t) || table_flush_c(t) < 0)
        return NULL;
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

/* == the stage: frames -> decode -> flow table -> reassembly -> framing ================ */

#include "_bytes.h"
#include "packets/_frame.h"

#define NMASKS 16          /* the decoder's fast-path masks are all below this */
#define SIGNAL_EVERY 4096  /* frames between two checks for Ctrl-C */
#define DONE_EVERY (16 << 20)  /* bytes between two calls of run_pcap's ``done`` */
#define BATCH_MAX 1024     /* framed chunks held before they go to the consumer */
#define SECOND 1000000000LL

/* The packet stage of one stream consumer (see the Python side, packets/_stage.py). It
 * owns a FlowTable and a Reassembler (whose callbacks it takes over while it lives)
 * and talks to the consumer only through the callables it was made with. */
typedef struct Stage {
    PyObject_HEAD
    Table *table;
    Reassembler *reasm;
    PyObject *packet_type;  /* the Packet class, built through its constructor */
    PyObject *directions;   /* (Direction.OUT, Direction.IN) */
    PyObject *on_packet, *count_packets, *on_data, *on_gap, *on_end, *on_flow_end,
        *on_framed, *scan, *complete;
    PyObject *lend;   /* lend(flow, side) -> a loan or None, asked first; NULL: none */
    PyObject *ended;  /* [(flow, reason)] ended by the packet in progress */
    PyObject *batch;  /* [(flow, side, ts_ns, nbytes, items)] framed, not yet delivered */
    long long counted, next_expire;
    unsigned long long masks[NMASKS], tcp_bytes;  /* the fast decode's counters */
} Stage;

/* fn(*argv) for its side effects; 0, or -1 on error. */
static int
call_n(PyObject *fn, PyObject *const *argv, Py_ssize_t n)
{
    PyObject *res = PyObject_Vectorcall(fn, argv, (size_t)n, NULL);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* Give the consumer what it is owed so far: counted packets, framed chunks. */
static int
flush(Stage *s)
{
    if (s->counted) {
        PyObject *n = PyLong_FromLongLong(s->counted);
        s->counted = 0;
        int rc = n ? call_n(s->count_packets, &n, 1) : -1;
        Py_XDECREF(n);
        if (rc < 0)
            return -1;
    }
    if (PyList_GET_SIZE(s->batch)) {
        PyObject *batch = s->batch;
        if ((s->batch = PyList_New(0)) == NULL) {
            s->batch = batch;
            return -1;
        }
        int rc = call_n(s->on_framed, &batch, 1);
        Py_DECREF(batch);
        return rc;
    }
    return 0;
}

/* The consumer takes one direction's framing back: resume(synced, base, rest, pending,
 * payload, nbytes, commands, payload_bytes, leftover, ts_ns[, charged, overdrawn]) -> a
 * new loan or None, where ``leftover`` (bytes or None) is what its parser must still
 * read; a loan with ``charge`` also hears what the stage had charged for the state
 * and whether that last charge overdrew the budget. With ``relend``, a new loan is
 * taken. */
static int take_loan(FlowObj *f, int side, PyObject *token);

static int
hand_back(Stage *s, FlowObj *f, int side, PyObject *leftover, int relend, int overdrawn)
{
    Framing *fr = &f->fr[side];
    if (fr->resume == NULL)
        return 0;
    PyObject *resume = fr->resume, *rest = fr->rest, *pending = fr->pending,
             *payload = fr->payload;
    fr->resume = fr->rest = fr->pending = fr->payload = NULL;
    Py_CLEAR(fr->charge);
    Py_ssize_t argc = fr->charging ? 12 : 10;
    PyObject *argv[12] = {
        PyBool_FromLong(fr->synced), PyLong_FromLongLong(fr->base),
        rest ? rest : Py_None, pending ? pending : Py_None,
        payload ? PyBytes_FromObject(payload) : Py_NewRef(Py_None),
        PyLong_FromLongLong(fr->nbytes), PyLong_FromLongLong(fr->commands),
        PyLong_FromLongLong(fr->payload_bytes), leftover ? leftover : Py_None,
        PyLong_FromLongLong(f->last_ns), PyLong_FromLongLong(fr->charged),
        PyBool_FromLong(overdrawn)};
    fr->charged = 0;
    PyObject *token = NULL;
    if (argv[1] && argv[4] && argv[5] && argv[6] && argv[7] && argv[9] && argv[10])
        token = PyObject_Vectorcall(resume, argv, argc, NULL);
    int rc = token == NULL ? -1 : relend ? take_loan(f, side, token) : 0;
    Py_XDECREF(token);
    for (int i = 0; i < 12; i++)
        if (i != 2 && i != 3 && i != 8)
            Py_XDECREF(argv[i]);
    Py_XDECREF(rest);
    Py_XDECREF(pending);
    Py_XDECREF(payload);
    Py_DECREF(resume);
    return rc;
}

/* A charging loan's chunk is done: charge the change in what the stage holds. 1 when
 * the budget refused the growth (the state must go back to the consumer), 0, or -1. */
static int
charge_held(Framing *fr)
{
    long long held = (fr->rest ? PyBytes_GET_SIZE(fr->rest) : 0)
                     + (fr->payload ? PyByteArray_GET_SIZE(fr->payload) : 0);
    long long delta = held - fr->charged;
    if (fr->charge == NULL || delta == 0)
        return 0;
    PyObject *arg = PyLong_FromLongLong(delta);
    PyObject *res = arg ? PyObject_Vectorcall(fr->charge, &arg, 1, NULL) : NULL;
    Py_XDECREF(arg);
    if (res == NULL)
        return -1;
    int ok = PyObject_IsTrue(res);
    Py_DECREF(res);
    fr->charged = held;
    return ok < 0 ? -1 : !ok;
}

/* The consumer's loan, (synced, base, max_line, max_payload, resume[, hold[, charge]]),
 * or None. */
static int
take_loan(FlowObj *f, int side, PyObject *token)
{
    if (token == Py_None)
        return 0;
    Py_ssize_t items = PyTuple_CheckExact(token) ? PyTuple_GET_SIZE(token) : 0;
    PyObject *charge = items == 7 ? PyTuple_GET_ITEM(token, 6) : Py_None;
    if (items < 5 || items > 7 || !PyCallable_Check(PyTuple_GET_ITEM(token, 4))
        || (charge != Py_None && !PyCallable_Check(charge))) {
        PyErr_SetString(PyExc_TypeError, "a loan is None or (synced, base, max_line, "
                                         "max_payload, resume[, hold[, charge]])");
        return -1;
    }
    Framing *fr = &f->fr[side];
    int hold = items >= 6 ? PyObject_IsTrue(PyTuple_GET_ITEM(token, 5)) : 1;
    if (hold < 0)
        return -1;
    int synced = PyObject_IsTrue(PyTuple_GET_ITEM(token, 0));
    long long base = PyLong_AsLongLong(PyTuple_GET_ITEM(token, 1));
    long long max_line = PyLong_AsLongLong(PyTuple_GET_ITEM(token, 2));
    long long max_payload = PyLong_AsLongLong(PyTuple_GET_ITEM(token, 3));
    if (synced < 0 || PyErr_Occurred())
        return -1;
    Py_XSETREF(fr->resume, Py_NewRef(PyTuple_GET_ITEM(token, 4)));
    Py_XSETREF(fr->limits[0], Py_NewRef(PyTuple_GET_ITEM(token, 2)));
    Py_XSETREF(fr->limits[1], Py_NewRef(PyTuple_GET_ITEM(token, 3)));
    Py_CLEAR(fr->rest);
    Py_CLEAR(fr->pending);
    Py_CLEAR(fr->payload);
    Py_XSETREF(fr->charge, charge == Py_None ? NULL : Py_NewRef(charge));
    fr->charging = items == 7, fr->charged = 0;
    fr->synced = synced, fr->hold = hold, fr->base = base, fr->max_line = max_line;
    fr->max_payload = max_payload, fr->nbytes = fr->commands = fr->payload_bytes = 0;
    return 0;
}

static int frame_data(Stage *s, FlowObj *f, int side, PyObject *bytes);

/* Bytes of a direction not lent: the consumer's ``lend(flow, side)`` is asked first (it
 * has no side effects, so the batch need not go out before): with a loan the stage
 * frames the chunk itself (a stream's first chunk need not be parsed in Python). Else
 * they go to the consumer's own parser: on_data(flow, side, data) -> a loan or None. */
static int
raw_data(Stage *s, FlowObj *f, int side, PyObject *bytes)
{
    PyObject *sideobj = PyLong_FromLong(side);
    if (sideobj == NULL)
        return -1;
    PyObject *argv[3] = {(PyObject *)f, sideobj, bytes};
    if (s->lend != NULL) {
        PyObject *loan = PyObject_Vectorcall(s->lend, argv, 2, NULL);
        int rc = loan == NULL ? -1 : take_loan(f, side, loan);
        Py_XDECREF(loan);
        if (rc < 0 || f->fr[side].resume != NULL) {
            Py_DECREF(sideobj);
            return rc < 0 ? -1 : frame_data(s, f, side, bytes);
        }
    }
    if (flush(s) < 0) {
        Py_DECREF(sideobj);
        return -1;
    }
    PyObject *token = PyObject_Vectorcall(s->on_data, argv, 3, NULL);
    Py_DECREF(sideobj);
    if (token == NULL)
        return -1;
    int rc = take_loan(f, side, token);
    Py_DECREF(token);
    return rc;
}

/* The payload of the awaited command grows by ``bytes``: the data after it once it is
 * whole (a new reference; the Command made by ``complete`` is in ``out``), an empty
 * bytes object while it is not, or NULL on error. (MsnpStreamParser._feed_payload.) */
static PyObject *
grow_payload(Stage *s, Framing *fr, PyObject *bytes, PyObject *out)
{
    Py_ssize_t have = PyByteArray_GET_SIZE(fr->payload), n = PyBytes_GET_SIZE(bytes);
    if (PyByteArray_Resize(fr->payload, have + n) < 0)
        return NULL;
    memcpy(PyByteArray_AS_STRING(fr->payload) + have, PyBytes_AS_STRING(bytes), (size_t)n);
    long long need = PyLong_AsLongLong(PyTuple_GET_ITEM(fr->pending, 6));
    long long offset = PyLong_AsLongLong(PyTuple_GET_ITEM(fr->pending, 4));
    long long head = PyLong_AsLongLong(PyTuple_GET_ITEM(fr->pending, 5));
    if (PyErr_Occurred())
        return NULL;
    Py_ssize_t size = PyByteArray_GET_SIZE(fr->payload);
    if (size < need)
        return PyBytes_FromStringAndSize(NULL, 0);
    const char *buf = PyByteArray_AS_STRING(fr->payload);
    PyObject *body = PyBytes_FromStringAndSize(buf, (Py_ssize_t)need);
    PyObject *after = PyBytes_FromStringAndSize(buf + need, size - (Py_ssize_t)need);
    PyObject *argv[2] = {fr->pending, body};
    PyObject *cmd = body && after ? PyObject_Vectorcall(s->complete, argv, 2, NULL) : NULL;
    Py_XDECREF(body);
    if (cmd == NULL || PyList_Append(out, cmd) < 0) {
        Py_XDECREF(cmd);
        Py_XDECREF(after);
        return NULL;
    }
    Py_DECREF(cmd);
    fr->commands++, fr->payload_bytes += need;
    fr->base = offset + head + need;
    Py_CLEAR(fr->pending);
    Py_CLEAR(fr->payload);
    return after;
}

/* Is there a CRLF in buf[pos:size]? */
static int
has_crlf(const char *buf, Py_ssize_t pos, Py_ssize_t size)
{
    while (pos + 1 < size) {
        const char *cr = memchr(buf + pos, '\r', (size_t)(size - 1 - pos));
        if (cr == NULL)
            return 0;
        pos = cr - buf;
        if (buf[pos + 1] == '\n')
            return 1;
        pos++;
    }
    return 0;
}

/* Scan ``data`` (the stream from fr->base on) into ``out`` as the parser's _feed_lines
 * would: *leftover is what the scan does not take (a new reference), or NULL. */
static int
scan_lines(Stage *s, Framing *fr, PyObject *data, PyObject *out, PyObject **leftover)
{
    PyObject *pos = PyLong_FromLong(0), *base = PyLong_FromLongLong(fr->base), *res = NULL;
    int rc = -1;
    *leftover = NULL;
    if (pos && base) {
        PyObject *argv[9] = {data, pos, base, fr->synced ? Py_True : Py_False, fr->limits[0],
                             fr->limits[1], base, Py_None, out};
        res = PyObject_Vectorcall(s->scan, argv, 9, NULL);
    }
    Py_XDECREF(pos);
    Py_XDECREF(base);
    if (res == NULL)
        return -1;
    if (!PyTuple_CheckExact(res) || PyTuple_GET_SIZE(res) != 5) {
        PyErr_SetString(PyExc_TypeError, "stage: the scan returns a 5-tuple");
        goto done;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    Py_ssize_t stop = PyLong_AsSsize_t(PyTuple_GET_ITEM(res, 0));
    long long commands = PyLong_AsLongLong(PyTuple_GET_ITEM(res, 1));
    long long payload_bytes = PyLong_AsLongLong(PyTuple_GET_ITEM(res, 2));
    int synced = PyObject_IsTrue(PyTuple_GET_ITEM(res, 3));
    PyObject *pending = PyTuple_GET_ITEM(res, 4);
    if (PyErr_Occurred() || synced < 0)
        goto done;
    if (stop < 0 || stop > size
        || (pending != Py_None && (!PyTuple_Check(pending) || PyTuple_GET_SIZE(pending) < 7
                                   || PyTuple_GET_SIZE(pending) > 8))) {
        PyErr_SetString(PyExc_ValueError, "stage: unexpected scan result");
        goto done;
    }
    const char *buf = PyBytes_AS_STRING(data);
    fr->synced = synced, fr->commands += commands, fr->payload_bytes += payload_bytes;
    if (pending != Py_None) {  /* _await_payload */
        fr->pending = Py_NewRef(pending);
        fr->payload = PyByteArray_FromStringAndSize(buf + stop, size - stop);
        rc = fr->payload ? 0 : -1;
    }
    else if (stop == size) {
        fr->base += size;
        rc = 0;
    }
    else if (!has_crlf(buf, stop, size) && size - stop <= fr->max_line) {  /* _keep_tail */
        fr->rest = PyBytes_FromStringAndSize(buf + stop, size - stop);
        fr->base += stop;
        rc = fr->rest ? 0 : -1;
    }
    else {  /* a line the scan does not take: the parser's general path */
        *leftover = PyBytes_FromStringAndSize(buf + stop, size - stop);
        fr->base += stop;
        rc = *leftover ? 0 : -1;
    }
done:
    Py_DECREF(res);
    return rc;
}

/* One framed chunk for the batch: (flow, side, ts_ns, nbytes, items). */
static int
batch_add(Stage *s, FlowObj *f, int side, Py_ssize_t n, PyObject *items)
{
    PyObject *item = PyTuple_New(5);
    if (item == NULL)
        return -1;
    PyTuple_SET_ITEM(item, 0, Py_NewRef((PyObject *)f));
    PyTuple_SET_ITEM(item, 1, PyLong_FromLong(side));
    PyTuple_SET_ITEM(item, 2, PyLong_FromLongLong(f->last_ns));
    PyTuple_SET_ITEM(item, 3, PyLong_FromSsize_t(n));
    PyTuple_SET_ITEM(item, 4, Py_NewRef(items));
    int rc = PyTuple_GET_ITEM(item, 2) && PyTuple_GET_ITEM(item, 3)
             ? PyList_Append(s->batch, item) : -1;
    Py_DECREF(item);
    return rc;
}

/* Frame a chunk of a lent direction as the consumer's parser would (feed): complete an
 * awaited payload, join a cut line, scan the lines with the consumer's scan. The
 * chunk's items go to the batch; what the scan does not take goes back to the
 * consumer's parser with the state (hand_back), which may lend it again. */
static int
frame_data(Stage *s, FlowObj *f, int side, PyObject *bytes)
{
    Framing *fr = &f->fr[side];
    Py_ssize_t n = PyBytes_GET_SIZE(bytes);
    PyObject *out = PyList_New(0), *data = Py_NewRef(bytes), *leftover = NULL;
    int rc = -1;
    if (out == NULL)
        goto done;
    fr->nbytes += n;
    if (fr->pending != NULL) {
        Py_SETREF(data, grow_payload(s, fr, data, out));
        if (data == NULL)
            goto done;
    }
    else if (fr->rest != NULL) {
        Py_ssize_t kept = PyBytes_GET_SIZE(fr->rest);
        if (!memchr(PyBytes_AS_STRING(data), '\n', (size_t)n) && kept + n <= fr->max_line) {
            PyBytes_Concat(&fr->rest, data);  /* still no line end */
            if (fr->rest == NULL)
                goto done;
            Py_CLEAR(data);
        }
        else {
            PyObject *joined = fr->rest;
            fr->rest = NULL;
            PyBytes_Concat(&joined, data);
            Py_SETREF(data, joined);
            if (data == NULL)
                goto done;
        }
    }
    if (data != NULL && PyBytes_GET_SIZE(data) && fr->pending == NULL
        && scan_lines(s, fr, data, out, &leftover) < 0)
        goto done;
    if (batch_add(s, f, side, n, out) < 0)
        goto done;
    int overdrawn = 0;
    if (leftover != NULL)  /* (the consumer's parser charges what it then holds) */
        rc = flush(s) == 0 ? hand_back(s, f, side, leftover, 1, 0) : -1;
    else if (!fr->hold && (fr->rest != NULL || fr->pending != NULL))
        rc = flush(s) == 0 ? hand_back(s, f, side, NULL, 1, 0) : -1;
    else if ((overdrawn = charge_held(fr)) != 0)
        rc = overdrawn > 0 && flush(s) == 0 ? hand_back(s, f, side, NULL, 1, 1) : -1;
    else
        rc = PyList_GET_SIZE(s->batch) >= BATCH_MAX ? flush(s) : 0;
done:
    Py_XDECREF(leftover);
    Py_XDECREF(data);
    Py_XDECREF(out);
    return rc;
}

static int
stage_data(Stage *s, PyObject *key, int side, PyObject *bytes)
{
    FlowObj *f = (FlowObj *)key;
    return f->fr[side].resume != NULL ? frame_data(s, f, side, bytes)
                                      : raw_data(s, f, side, bytes);
}

static int
stage_gap(Stage *s, PyObject *key, int side, long long n)
{
    FlowObj *f = (FlowObj *)key;
    if (flush(s) < 0 || hand_back(s, f, side, NULL, 0, 0) < 0)
        return -1;
    PyObject *sideobj = PyLong_FromLong(side), *nobj = PyLong_FromLongLong(n);
    PyObject *argv[3] = {key, sideobj, nobj};
    int rc = sideobj && nobj ? call_n(s->on_gap, argv, 3) : -1;
    Py_XDECREF(sideobj);
    Py_XDECREF(nobj);
    return rc;
}

static int
stage_end(Stage *s, PyObject *key, int side, PyObject *reason)
{
    FlowObj *f = (FlowObj *)key;
    if (flush(s) < 0 || hand_back(s, f, side, NULL, 0, 0) < 0)
        return -1;
    PyObject *sideobj = PyLong_FromLong(side);
    PyObject *argv[3] = {key, sideobj, reason};
    int rc = sideobj ? call_n(s->on_end, argv, 3) : -1;
    Py_XDECREF(sideobj);
    return rc;
}

static int
stage_ended(Stage *s, FlowObj *f, PyObject *reason)
{
    PyObject *item = PyTuple_Pack(2, (PyObject *)f, reason);
    int rc = item ? PyList_Append(s->ended, item) : -1;
    Py_XDECREF(item);
    return rc;
}

/* Is ``f`` ended by the packet in progress (its streams not closed yet)? */
static int
ending(Stage *s, FlowObj *f)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(s->ended); i++)
        if (PyTuple_GET_ITEM(PyList_GET_ITEM(s->ended, i), 0) == (PyObject *)f)
            return 1;
    return 0;
}

/* End the flows the last packet ended: streams flushed, then the consumer told. */
static int
finish_ended(Stage *s)
{
    PyObject *ended = s->ended;
    if ((s->ended = PyList_New(0)) == NULL) {
        s->ended = ended;
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(ended); i++) {
        PyObject *item = PyList_GET_ITEM(ended, i);
        FlowObj *f = (FlowObj *)PyTuple_GET_ITEM(item, 0);
        rc = reasm_close(s->reasm, (PyObject *)f) == 0 && flush(s) == 0
             && hand_back(s, f, 0, NULL, 0, 0) == 0 && hand_back(s, f, 1, NULL, 0, 0) == 0
             ? call_n(s->on_flow_end, &PyTuple_GET_ITEM(item, 0), 2) : -1;
    }
    Py_DECREF(ended);
    return rc;
}

/* What a packet carries besides what the flow table is told. */
typedef struct {
    PyObject *pkt;        /* the Packet, if the caller has one (else built when needed) */
    PyObject *data;       /* the frame's bytes object, if any */
    const char *frame;    /* its bytes */
    Py_ssize_t size;
    uint32_t seq, ack;
    int frag, mask;
    long long off, plen, seglen;
} Extra;

/* A Packet for the consumer, made by its constructor (Packet(ts_ns, data, ...)). */
static PyObject *
make_packet(Stage *s, const Pkt *given, Extra *x)
{
    if (x->pkt != NULL)
        return Py_NewRef(x->pkt);
    Pkt copy = *given, *p = &copy;
    PyObject *own[4];
    if (pkt_objects(p, own) < 0) {
        pkt_release(own);
        return NULL;
    }
    PyObject *data = x->data ? Py_NewRef(x->data)
                             : PyBytes_FromStringAndSize(x->frame, x->size);
    PyObject *argv[16] = {
        PyLong_FromLongLong(p->ts), data, PyLong_FromLongLong(p->wire),
        PyLong_FromLong(p->version), Py_NewRef(p->src), Py_NewRef(p->dst),
        PyLong_FromLong(p->proto), Py_NewRef(x->frag ? Py_True : Py_False),
        Py_NewRef(p->sport_obj), Py_NewRef(p->dport_obj),
        PyLong_FromUnsignedLong(x->seq), PyLong_FromUnsignedLong(x->ack),
        PyLong_FromLong(p->flags), PyLong_FromLongLong(x->off), PyLong_FromLongLong(x->plen),
        PyLong_FromLongLong(x->seglen),
    };
    PyObject *pkt = NULL;
    int complete = 1;
    for (int i = 0; i < 16; i++)
        complete &= argv[i] != NULL;
    if (complete)
        pkt = PyObject_Vectorcall(s->packet_type, argv, 16, NULL);
    for (int i = 0; i < 16; i++)
        Py_XDECREF(argv[i]);
    pkt_release(own);
    return pkt;
}

/* Pipeline.packet for one decoded packet: flow table, consumer, streams, flow ends and,
 * once per second of packet time, idle timeouts. */
static int
stage_packet(Stage *s, const Pkt *p, Extra *x)
{
    int side;
    FlowObj *f = account_pkt(s->table, p, &side);
    if (f == NULL)
        return -1;
    int rc = -1;
    if (!f->settled) {
        PyObject *pkt = flush(s) == 0 ? make_packet(s, p, x) : NULL;
        if (pkt == NULL)
            goto done;
        PyObject *argv[3] = {pkt, (PyObject *)f,
                             PyTuple_GET_ITEM(s->directions, side == f->local_side ? 0 : 1)};
        PyObject *res = PyObject_Vectorcall(s->on_packet, argv, 3, NULL);
        Py_DECREF(pkt);
        if (res == NULL)
            goto done;
        f->settled = res == Py_True;
        Py_DECREF(res);
    }
    else
        s->counted++;
    if (f->follow && p->proto == 6 && !x->frag && (f->state != CLOSED || ending(s, f))) {
        Py_ssize_t avail = 0;
        const char *data = x->frame;
        if (x->off >= 0 && x->off < x->size) {
            data += x->off;
            avail = x->size - (Py_ssize_t)x->off;
        }
        if ((long long)avail > x->plen)
            avail = (Py_ssize_t)x->plen;
        if (reasm_feed(s->reasm, (PyObject *)f, side, x->seq, (int)p->flags, data, avail,
                       x->plen) < 0
            || (!f->follow && reasm_close(s->reasm, (PyObject *)f) < 0))
            goto done;
    }
    if (PyList_GET_SIZE(s->ended) && finish_ended(s) < 0)
        goto done;
    if (p->ts >= s->next_expire) {
        s->next_expire = p->ts + SECOND;
        if (table_expire_c(s->table, p->ts) < 0
            || (PyList_GET_SIZE(s->ended) && finish_ended(s) < 0))
            goto done;
    }
    rc = 0;
done:
    Py_DECREF(f);
    return rc;
}

/* A frame the decoder's C fast path takes (Ethernet + option-less IPv4 or plain IPv6 +
 * TCP/UDP): 1 when done, 0 for the slow path, -1 on error. */
static int
fast_frame(Stage *s, long long linktype, long long ts, const unsigned char *d, Py_ssize_t n,
           long long wire, PyObject *data)
{
    Fast f;
    if (wire < n)
        wire = n;
    if (linktype != 1 || n < 54 || !fast_parse(d, n, wire, &f))
        return 0;
    s->masks[f.mask]++;
    if (f.proto == 6)
        s->tcp_bytes += (unsigned long long)f.seglen;
    Pkt p = {.proto = f.proto, .version = f.version, .sport = (long)f.sport,
             .dport = (long)f.dport, .icmp_id = -1, .flags = (long)f.flags, .wire = wire,
             .ts = ts};
    p.sa = f.src, p.da = f.src + f.alen, p.alen = f.alen;
    Extra x = {.data = data, .frame = (const char *)d, .size = n, .seq = (uint32_t)f.seq,
               .ack = (uint32_t)f.ack, .off = f.off, .plen = f.plen, .seglen = f.seglen};
    return stage_packet(s, &p, &x) < 0 ? -1 : 1;
}

/* One frame: the fast path here, or slow(linktype, ts_ns, data, wire_len). */
static int
one_frame(Stage *s, long long linktype, long long ts, const unsigned char *d, Py_ssize_t n,
          long long wire, PyObject *data, PyObject *slow, PyObject *const *objs)
{
    int r = fast_frame(s, linktype, ts, d, n, wire, data);
    if (r != 0)
        return r < 0 ? -1 : 0;
    PyObject *own[4] = {NULL, NULL, NULL, NULL};
    PyObject *argv[4];
    if (objs != NULL)
        memcpy(argv, objs, sizeof(argv));
    else {
        own[0] = PyLong_FromLongLong(linktype), own[1] = PyLong_FromLongLong(ts);
        own[2] = PyBytes_FromStringAndSize((const char *)d, n);
        own[3] = PyLong_FromLongLong(wire);
        memcpy(argv, own, sizeof(argv));
    }
    int rc = argv[0] && argv[1] && argv[2] && argv[3] ? call_n(slow, argv, 4) : -1;
    for (int i = 0; i < 4; i++)
        Py_XDECREF(own[i]);
    return rc;
}

/* The end of a run: what was framed goes out even when a frame raised (the Python
 * pipeline handles every packet before the error); NULL with the error, or None. */
static PyObject *
run_end(Stage *s, int failed)
{
    if (!failed)
        return flush(s) < 0 ? NULL : Py_NewRef(Py_None);
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (flush(s) < 0) {  /* (the consumer's error wins: it is the later one) */
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return NULL;
    }
    PyErr_Restore(type, value, tb);
    return NULL;
}

static int
stage_ready(Stage *s)
{
    if (s->table == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Stage: not initialised");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(stage_packet_doc,
"packet(pkt, proto, src, sport, dst, dport, icmp_id, flags, wire_len, ts_ns, version,\n"
"       frag, seq, data, payload_off, payload_len)\n\n"
"One packet the Python decoder made (the slow path's frames): as the fast path's.");

static PyObject *
stage_packet_py(Stage *s, PyObject *const *argv, Py_ssize_t argc)
{
    if (!stage_ready(s))
        return NULL;
    if (argc != 16 || !PyBytes_Check(argv[2]) || !PyBytes_Check(argv[4])
        || !PyLong_Check(argv[3]) || !PyLong_Check(argv[5]) || !PyBytes_Check(argv[13])) {
        PyErr_SetString(PyExc_TypeError, "packet(pkt, proto, bytes, int, bytes, int, icmp_id, "
                                         "flags, wire_len, ts_ns, version, frag, seq, bytes, "
                                         "payload_off, payload_len)");
        return NULL;
    }
    Pkt p = {.src = argv[2], .dst = argv[4], .sport_obj = argv[3], .dport_obj = argv[5]};
    pkt_raw(&p);
    p.proto = (int)PyLong_AsLong(argv[1]);
    p.sport = PyLong_AsLong(argv[3]);
    p.dport = PyLong_AsLong(argv[5]);
    p.icmp_id = PyLong_AsLong(argv[6]);
    p.flags = PyLong_AsLong(argv[7]);
    p.wire = PyLong_AsLongLong(argv[8]);
    p.ts = PyLong_AsLongLong(argv[9]);
    p.version = (int)PyLong_AsLong(argv[10]);
    Extra x = {.pkt = argv[0], .data = argv[13], .frame = PyBytes_AS_STRING(argv[13]),
               .size = PyBytes_GET_SIZE(argv[13])};
    x.frag = PyObject_IsTrue(argv[11]);
    x.seq = (uint32_t)PyLong_AsUnsignedLongLongMask(argv[12]);
    x.off = PyLong_AsLongLong(argv[14]);
    x.plen = PyLong_AsLongLong(argv[15]);
    if (PyErr_Occurred() || x.frag < 0)
        return NULL;
    if (x.plen < 0 || x.off < 0) {
        PyErr_SetString(PyExc_ValueError, "packet: payload_off and payload_len not negative");
        return NULL;
    }
    if (stage_packet(s, &p, &x) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(stage_run_doc,
"run(frames, slow)\n\n"
"Every frame (linktype, ts_ns, data, wire_len, ...) of the iterable, in order: those the\n"
"C decoder takes here, the others to slow(linktype, ts_ns, data, wire_len).");

static PyObject *
stage_run(Stage *s, PyObject *args)
{
    PyObject *frames, *slow;
    if (!stage_ready(s) || !PyArg_ParseTuple(args, "OO:run", &frames, &slow))
        return NULL;
    PyObject *it = PyObject_GetIter(frames), *t;
    if (it == NULL)
        return NULL;
    for (unsigned long count = 1; (t = PyIter_Next(it)) != NULL; count++) {
        int rc = -1;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 4)
            PyErr_SetString(PyExc_TypeError, "a frame is (linktype, ts_ns, data, wire_len, ...)");
        else {
            PyObject *const *objs = &PyTuple_GET_ITEM(t, 0);
            long long lt = -1, ts = 0, wire = 0;
            if (PyLong_CheckExact(objs[0]) && PyLong_CheckExact(objs[1])
                && PyBytes_CheckExact(objs[2]) && PyLong_CheckExact(objs[3])) {
                lt = PyLong_AsLongLong(objs[0]), ts = PyLong_AsLongLong(objs[1]);
                wire = PyLong_AsLongLong(objs[3]);
                if (PyErr_Occurred()) {
                    PyErr_Clear();  /* out of range: the slow path copes */
                    lt = -1;
                }
            }
            if (lt == 1)
                rc = one_frame(s, lt, ts, (const unsigned char *)PyBytes_AS_STRING(objs[2]),
                               PyBytes_GET_SIZE(objs[2]), wire, objs[2], slow, objs);
            else
                rc = call_n(slow, objs, 4);
        }
        Py_DECREF(t);
        if (rc < 0 || (count % SIGNAL_EVERY == 0 && PyErr_CheckSignals() < 0))
            break;
    }
    Py_DECREF(it);
    return run_end(s, PyErr_Occurred() != NULL);
}

PyDoc_STRVAR(stage_run_pcap_doc,
"run_pcap(image, big_endian, mult, linktype, max_frame, slow, error, done=None)\n\n"
"Like run() over the records of a classic pcap file's bytes (e.g. an mmap) whose header\n"
"says ``big_endian``, ``mult`` and ``linktype`` (providers.packets.classic_pcap_header),\n"
"with the Python reader's errors (``error``: its exception class; ``max_frame``: its\n"
"bound). ``done(offset)`` is called every 16 MB with how far it got.");

static int
pcap_walk(Stage *s, const unsigned char *buf, Py_ssize_t size, int big, long long mult,
          long long linktype, long long max_frame, PyObject *slow, PyObject *error,
          PyObject *done)
{
    Py_ssize_t reported = 0, pos = 24;
    unsigned long count = 0;
    while (pos < size) {
        if (size - pos < 16) {
            PyErr_Format(error, "file ends inside a record (%zd/16 bytes)", size - pos);
            return -1;
        }
        PcapRecord r;
        int whole = pcap_record(buf + pos, size - pos - 16, big, (unsigned long long)mult,
                                (unsigned long long)max_frame, &r);
        if (whole < 0) {
            PyErr_Format(error, "corrupt pcap record: captured length %u", r.caplen);
            return -1;
        }
        pos += 16;
        if (!whole) {
            PyErr_Format(error, "file ends inside a record (%zd/%u bytes)", size - pos, r.caplen);
            return -1;
        }
        if (one_frame(s, linktype, (long long)r.ts, buf + pos, r.caplen, r.wire, NULL, slow,
                      NULL) < 0
            || (++count % SIGNAL_EVERY == 0 && PyErr_CheckSignals() < 0))
            return -1;
        pos += r.caplen;
        if (done != Py_None && pos - reported >= DONE_EVERY) {
            if (flush(s) < 0)
                return -1;
            PyObject *res = PyObject_CallFunction(done, "n", pos);
            if (res == NULL)
                return -1;
            Py_DECREF(res);
            reported = pos;
        }
    }
    return 0;
}

static PyObject *
stage_run_pcap(Stage *s, PyObject *args)
{
    PyObject *image, *slow, *error, *done = Py_None;
    int big;
    long long mult, linktype, max_frame;
    Py_buffer view;
    if (!stage_ready(s)
        || !PyArg_ParseTuple(args, "OpLLLOO|O:run_pcap", &image, &big, &mult, &linktype,
                             &max_frame, &slow, &error, &done))
        return NULL;
    if (mult < 0 || mult > 1000000000 || max_frame < 0) {
        PyErr_SetString(PyExc_ValueError, "run_pcap: mult or max_frame out of range");
        return NULL;
    }
    if (PyObject_GetBuffer(image, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int rc = pcap_walk(s, view.buf, view.len, big, mult, linktype, max_frame, slow, error, done);
    PyBuffer_Release(&view);
    return run_end(s, rc < 0);
}

static PyObject *
stage_end_flows(Stage *s, PyObject *unused)
{
    if (!stage_ready(s) || table_flush_c(s->table) < 0 || finish_ended(s) < 0
        || flush(s) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
stage_flush_py(Stage *s, PyObject *unused)
{
    if (!stage_ready(s) || flush(s) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
stage_counts(Stage *s, PyObject *unused)
{
    PyObject *masks = PyDict_New();
    for (int m = 0; masks != NULL && m < NMASKS; m++) {
        if (!s->masks[m])
            continue;
        PyObject *k = PyLong_FromLong(m), *v = PyLong_FromUnsignedLongLong(s->masks[m]);
        if (k == NULL || v == NULL || PyDict_SetItem(masks, k, v) < 0)
            Py_CLEAR(masks);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return masks ? Py_BuildValue("(NK)", masks, s->tcp_bytes) : NULL;
}

static int
stage_init(Stage *s, PyObject *args, PyObject *kw)
{
    static char *names[] = {"table", "reassembler", "packet_type", "directions", "on_packet",
                            "count_packets", "on_data", "on_gap", "on_end", "on_flow_end",
                            "on_framed", "scan", "complete", "lend", NULL};
    PyObject *a[14] = {NULL};
    if (s->table != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Stage: already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!OO!OOOOOOOOO|O:Stage", names, &TableType,
                                     &a[0], &ReassemblerType, &a[1], &a[2], &PyTuple_Type,
                                     &a[3], &a[4], &a[5], &a[6], &a[7], &a[8], &a[9], &a[10],
                                     &a[11], &a[12], &a[13]))
        return -1;
    Table *t = (Table *)a[0];
    Reassembler *r = (Reassembler *)a[1];
    if (PyTuple_GET_SIZE(a[3]) != 2 || !t->flows || !r->streams || t->stage || r->stage) {
        PyErr_SetString(PyExc_ValueError, "Stage: an initialised table and reassembler no "
                                          "other stage drives, and (OUT, IN)");
        return -1;
    }
    if (a[13] == Py_None)
        a[13] = NULL;
    for (int i = 2; i < 14; i++)
        if (i != 3 && a[i] != NULL && !PyCallable_Check(a[i])) {
            PyErr_Format(PyExc_TypeError, "Stage: %s must be callable", names[i]);
            return -1;
        }
    if ((s->ended = PyList_New(0)) == NULL || (s->batch = PyList_New(0)) == NULL)
        return -1;
    PyObject **fields[13] = {(PyObject **)&s->table, (PyObject **)&s->reasm, &s->packet_type,
                             &s->directions, &s->on_packet, &s->count_packets, &s->on_data,
                             &s->on_gap, &s->on_end, &s->on_flow_end, &s->on_framed, &s->scan,
                             &s->complete};
    for (int i = 0; i < 13; i++)
        *fields[i] = Py_NewRef(a[i]);
    s->lend = Py_XNewRef(a[13]);
    t->stage = s, r->stage = s;
    return 0;
}

static int
stage_traverse(Stage *s, visitproc visit, void *arg)
{
    Py_VISIT(s->table);
    Py_VISIT(s->reasm);
    Py_VISIT(s->packet_type);
    Py_VISIT(s->directions);
    Py_VISIT(s->on_packet);
    Py_VISIT(s->count_packets);
    Py_VISIT(s->on_data);
    Py_VISIT(s->on_gap);
    Py_VISIT(s->on_end);
    Py_VISIT(s->on_flow_end);
    Py_VISIT(s->lend);
    Py_VISIT(s->on_framed);
    Py_VISIT(s->scan);
    Py_VISIT(s->complete);
    Py_VISIT(s->ended);
    Py_VISIT(s->batch);
    return 0;
}

static int
stage_clear(Stage *s)
{
    if (s->table != NULL)
        s->table->stage = NULL;
    if (s->reasm != NULL)
        s->reasm->stage = NULL;
    Py_CLEAR(s->table);
    Py_CLEAR(s->reasm);
    Py_CLEAR(s->packet_type);
    Py_CLEAR(s->directions);
    Py_CLEAR(s->on_packet);
    Py_CLEAR(s->count_packets);
    Py_CLEAR(s->on_data);
    Py_CLEAR(s->on_gap);
    Py_CLEAR(s->on_end);
    Py_CLEAR(s->on_flow_end);
    Py_CLEAR(s->lend);
    Py_CLEAR(s->on_framed);
    Py_CLEAR(s->scan);
    Py_CLEAR(s->complete);
    Py_CLEAR(s->ended);
    Py_CLEAR(s->batch);
    return 0;
}

static void
stage_dealloc(Stage *s)
{
    PyObject_GC_UnTrack(s);
    stage_clear(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef stage_methods[] = {
    {"run", (PyCFunction)stage_run, METH_VARARGS, stage_run_doc},
    {"run_pcap", (PyCFunction)stage_run_pcap, METH_VARARGS, stage_run_pcap_doc},
    {"packet", (PyCFunction)(void (*)(void))stage_packet_py, METH_FASTCALL, stage_packet_doc},
    {"end_flows", (PyCFunction)stage_end_flows, METH_NOARGS,
     "End every open flow (streams flushed, consumer told)."},
    {"flush", (PyCFunction)stage_flush_py, METH_NOARGS,
     "Give the consumer the packets counted and the chunks framed so far."},
    {"counts", (PyCFunction)stage_counts, METH_NOARGS,
     "counts() -> ({mask: frames}, tcp.len sum) of the frames decoded here."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StageType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "providers.packets._cstage.Stage",
    .tp_basicsize = sizeof(Stage),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)stage_init,
    .tp_traverse = (traverseproc)stage_traverse,
    .tp_clear = (inquiry)stage_clear,
    .tp_dealloc = (destructor)stage_dealloc,
    .tp_methods = stage_methods,
    .tp_doc = "Stage(table, reassembler, packet_type, directions, on_packet, count_packets, "
              "on_data, on_gap, on_end, on_flow_end, on_framed, scan, complete[, lend]): the "
              "compiled "
              "packet "
              "stage of one stream consumer (see providers/packets/_stage.py).",
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
        || PyType_Ready(&FlowBaseType) < 0 || PyType_Ready(&TableType) < 0
        || PyType_Ready(&StageType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", VERSION) < 0
        || PyModule_AddObjectRef(m, "Reassembler", (PyObject *)&ReassemblerType) < 0
        || PyModule_AddObjectRef(m, "FlowBase", (PyObject *)&FlowBaseType) < 0
        || PyModule_AddObjectRef(m, "FlowTable", (PyObject *)&TableType) < 0
        || PyModule_AddObjectRef(m, "Stage", (PyObject *)&StageType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
