/* Optional accelerator of the packet decoder's hot path (providers/packets/_decode.py).
 *
 * The Python decoder is the reference; this module gives the same Packets and counters
 * several times faster for the common frames, because it does not unpack with struct.
 *
 * DecoderBase: the C base of the accelerated Decoder. decode() handles exactly what
 * the Python _fast handles (Ethernet + option-less IPv4 or plain IPv6 + TCP/UDP, all
 * consistent) and hands every other frame to the Python method _general; calls with
 * keywords or argument types other than exact int/bytes go to _py_decode (the Python
 * decode). The fast path counts in C fields; _counts() merges them with the Python
 * histogram (_masks) and tcp.len sum (_tcp_bytes) that the general path keeps.
 *
 * configure(Packet): the class decode() builds, through its constructor (the 16 fields in
 * Packet.__init__'s order); the module reads and writes no attribute of it.
 *
 * pcap_records(...): the records of a classic pcap file that lie whole in a read
 * buffer, as the tuples providers/packets/_pcap.py's _pcap_frames yields (that
 * generator stays the reference and handles records across buffers and corrupt ones).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"

#include "_bytes.h"
#include "packets/_frame.h"

#define CDECODE_VERSION 3
#define NFIELDS 16
#define NMASKS 16 /* the fast path's masks are all below this */

static PyObject *packet_type;  /* NULL until configure() */
static PyObject *str_general, *str_py_decode, *empty_tuple, *zero;

static PyObject *configure(PyObject *mod, PyObject *cls) {
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes the Packet class");
        return NULL;
    }
    Py_XSETREF(packet_type, Py_NewRef(cls));
    Py_RETURN_NONE;
}

/* The Packet of a frame fast_parse took, made by its constructor (new reference, NULL
 * on error); `wire` is stolen. */
static PyObject *fast_packet(const Fast *f, PyObject *data, PyObject *wire, PyObject *ts) {
    PyObject *vals[NFIELDS] = {
        Py_NewRef(ts), Py_NewRef(data), wire,
        PyLong_FromLong(f->version),
        PyBytes_FromStringAndSize((const char *)f->src, f->alen),
        PyBytes_FromStringAndSize((const char *)f->src + f->alen, f->alen),
        PyLong_FromLong(f->proto), Py_NewRef(Py_False),
        PyLong_FromUnsignedLong(f->sport), PyLong_FromUnsignedLong(f->dport),
        PyLong_FromUnsignedLong(f->seq), PyLong_FromUnsignedLong(f->ack),
        PyLong_FromUnsignedLong(f->flags), PyLong_FromLongLong(f->off),
        PyLong_FromLongLong(f->plen), PyLong_FromLongLong(f->seglen),
    };
    PyObject *p = NULL;
    int complete = 1;
    for (int i = 0; i < NFIELDS; i++) complete &= vals[i] != NULL;
    if (complete) p = PyObject_Vectorcall(packet_type, vals, NFIELDS, NULL);
    for (int i = 0; i < NFIELDS; i++) Py_XDECREF(vals[i]);
    return p;
}

/* -- DecoderBase ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    int m;                   /* _m: the mask of the frame decoded last */
    PyObject *masks;         /* _masks: the general path's {mask: frames} */
    PyObject *tcp_bytes;     /* _tcp_bytes: the general path's sum of tcp.len */
    unsigned long long fast_tcp;  /* the fast path's sum (< 2^16 per frame) */
    unsigned long long fast_counts[NMASKS];
} DecoderBase;

/* self.<name>(*args, **kwnames) for a Python method of the subclass. */
static PyObject *call_method(PyObject *self, PyObject *name, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *meth = PyObject_GetAttr(self, name);
    if (meth == NULL) return NULL;
    PyObject *r = PyObject_Vectorcall(meth, args, nargs, kwnames);
    Py_DECREF(meth);
    return r;
}

/* The exact int `o` as a long long; 0 (not an exact int, or out of range) -> use Python. */
static int exact_ll(PyObject *o, long long *v) {
    int overflow;
    if (!PyLong_CheckExact(o)) return 0;
    *v = PyLong_AsLongLongAndOverflow(o, &overflow);
    return !overflow;
}

/* decode(linktype, data, wire_len=0, ts_ns=0): Python's Decoder.decode. */
static PyObject *decoder_decode(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames) {
    DecoderBase *self = (DecoderBase *)op;
    PyObject *wire_arg = nargs > 2 ? args[2] : zero;
    long long linktype, wire;
    if (kwnames != NULL || nargs < 2 || nargs > 4 || packet_type == NULL
        || !PyBytes_CheckExact(args[1]) || !exact_ll(args[0], &linktype)
        || !exact_ll(wire_arg, &wire))
        return call_method(op, str_py_decode, args, nargs, kwnames);
    PyObject *data = args[1], *ts = nargs > 3 ? args[3] : zero;
    long long n = PyBytes_GET_SIZE(data);
    PyObject *wire_obj = wire < n ? PyLong_FromLongLong(n) : Py_NewRef(wire_arg);
    if (wire_obj == NULL) return NULL;
    wire = wire < n ? n : wire;
    Fast f;
    if (linktype == 1 && n >= 54
        && fast_parse((const unsigned char *)PyBytes_AS_STRING(data), n, wire, &f)) {
        PyObject *pkt = fast_packet(&f, data, wire_obj, ts);  /* takes wire_obj */
        if (pkt != NULL) {
            self->m = f.mask;
            self->fast_counts[f.mask]++;
            if (f.proto == 6) self->fast_tcp += (unsigned long long)f.seglen;
        }
        return pkt;
    }
    PyObject *stack[5] = {op, args[0], data, wire_obj, ts};
    PyObject *r = PyObject_VectorcallMethod(str_general, stack, 5, NULL);
    Py_DECREF(wire_obj);
    return r;
}

/* masks[mask] += count (a new key if absent); -1 on error. */
static int add_count(PyObject *masks, int mask, unsigned long long count) {
    PyObject *key = PyLong_FromLong(mask);
    PyObject *add = PyLong_FromUnsignedLongLong(count);
    PyObject *old = key && add ? PyDict_GetItemWithError(masks, key) : NULL;
    PyObject *sum = old ? PyNumber_Add(old, add) : PyErr_Occurred() ? NULL : Py_XNewRef(add);
    int rc = sum ? PyDict_SetItem(masks, key, sum) : -1;
    Py_XDECREF(key); Py_XDECREF(add); Py_XDECREF(sum);
    return rc;
}

/* _counts() -> ({mask: frames}, tcp.len sum): both paths' counters together. */
static PyObject *decoder_counts(PyObject *op, PyObject *unused) {
    DecoderBase *self = (DecoderBase *)op;
    if (!PyDict_Check(self->masks)) {
        PyErr_SetString(PyExc_TypeError, "_masks must be a dict");
        return NULL;
    }
    PyObject *masks = PyDict_Copy(self->masks);
    for (int m = 0; masks != NULL && m < NMASKS; m++)
        if (self->fast_counts[m] && add_count(masks, m, self->fast_counts[m]) < 0)
            Py_CLEAR(masks);
    PyObject *add = PyLong_FromUnsignedLongLong(self->fast_tcp);
    PyObject *tcp = add ? PyNumber_Add(self->tcp_bytes, add) : NULL;
    Py_XDECREF(add);
    if (masks == NULL || tcp == NULL) {
        Py_XDECREF(masks); Py_XDECREF(tcp);
        return NULL;
    }
    return Py_BuildValue("(NN)", masks, tcp);
}

static PyObject *decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Decoder", kwlist)) return NULL;
    DecoderBase *self = (DecoderBase *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->masks = PyDict_New();
    self->tcp_bytes = Py_NewRef(zero);
    if (self->masks == NULL) Py_CLEAR(self);
    return (PyObject *)self;
}

static int decoder_traverse(DecoderBase *self, visitproc visit, void *arg) {
    Py_VISIT(self->masks);
    Py_VISIT(self->tcp_bytes);
    return 0;
}

static int decoder_clear(DecoderBase *self) {
    Py_CLEAR(self->masks);
    Py_CLEAR(self->tcp_bytes);
    return 0;
}

static void decoder_dealloc(DecoderBase *self) {
    PyObject_GC_UnTrack(self);
    decoder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef decoder_members[] = {
    {"_m", T_INT, offsetof(DecoderBase, m), 0, "mask of the frame decoded last"},
    {"_masks", T_OBJECT_EX, offsetof(DecoderBase, masks), 0, "general path: {mask: frames}"},
    {"_tcp_bytes", T_OBJECT_EX, offsetof(DecoderBase, tcp_bytes), 0,
     "general path: sum of tcp.len"},
    {NULL},
};

static PyMethodDef decoder_methods[] = {
    {"decode", (PyCFunction)(void (*)(void))decoder_decode, METH_FASTCALL | METH_KEYWORDS,
     "decode(linktype, data, wire_len=0, ts_ns=0) -> Packet | None (see the Python decode)"},
    {"_counts", decoder_counts, METH_NOARGS,
     "_counts() -> ({mask: frames}, tcp.len sum) of both paths"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DecoderBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "providers.packets._cdecode.DecoderBase",
    .tp_doc = "C base of the accelerated Decoder: the fast path and its counters",
    .tp_basicsize = sizeof(DecoderBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = decoder_new,
    .tp_dealloc = (destructor)decoder_dealloc,
    .tp_traverse = (traverseproc)decoder_traverse,
    .tp_clear = (inquiry)decoder_clear,
    .tp_free = PyObject_GC_Del,
    .tp_members = decoder_members,
    .tp_methods = decoder_methods,
};

/* -- classic pcap records ------------------------------------------------------------ */

/* The frame tuple (linktype, ts_ns, data, wire_len, 0) of record `r` whose data is at `p`. */
static PyObject *pcap_frame(const unsigned char *p, const PcapRecord *r, PyObject *linktype) {
    PyObject *items[5] = {
        Py_NewRef(linktype), PyLong_FromUnsignedLongLong(r->ts),
        PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)r->caplen),
        PyLong_FromUnsignedLong(r->wire), Py_NewRef(zero),
    };
    PyObject *t = items[1] && items[2] && items[3] ? PyTuple_New(5) : NULL;
    for (int i = 0; i < 5; i++) {
        if (t != NULL) PyTuple_SET_ITEM(t, i, items[i]);
        else Py_XDECREF(items[i]);
    }
    return t;
}

/* pcap_records(buf, pos, big_endian, mult, linktype, max_frame, limit) -> (frames, pos):
 * up to `limit` frame tuples of the whole records from buf[pos:], and the position after
 * them. Stops before a record cut by the buffer's end or longer than max_frame. */
static PyObject *pcap_records(PyObject *mod, PyObject *args) {
    PyObject *bytes, *linktype;
    Py_ssize_t pos, mult, max_frame, limit;
    int big;
    if (!PyArg_ParseTuple(args, "SnpnOnn:pcap_records", &bytes, &pos, &big, &mult, &linktype,
                          &max_frame, &limit))
        return NULL;
    if (pos < 0 || mult < 0 || mult > 1000000000 || max_frame < 0) {
        PyErr_SetString(PyExc_ValueError, "pcap_records: pos, mult or max_frame out of range");
        return NULL;
    }
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(bytes);
    Py_ssize_t size = PyBytes_GET_SIZE(bytes);
    PyObject *frames = PyList_New(0);
    PcapRecord r;
    while (frames != NULL && PyList_GET_SIZE(frames) < limit && pos <= size - 16
           && pcap_record(buf + pos, size - pos - 16, big, (unsigned long long)mult,
                          (unsigned long long)max_frame, &r) == 1) {
        PyObject *t = pcap_frame(buf + pos + 16, &r, linktype);
        if (t == NULL || PyList_Append(frames, t) < 0) Py_CLEAR(frames);
        Py_XDECREF(t);
        pos += 16 + (Py_ssize_t)r.caplen;
    }
    return frames == NULL ? NULL : Py_BuildValue("(Nn)", frames, pos);
}

/* -- module --------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"configure", configure, METH_O, "configure(Packet): the class decode() builds"},
    {"pcap_records", pcap_records, METH_VARARGS,
     "pcap_records(buf, pos, big_endian, mult, linktype, max_frame, limit) -> (frames, pos)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "providers.packets._cdecode",
    "Optional C fast path of the packet decoder (providers.packets._decode is the reference).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__cdecode(void) {
    if (PyType_Ready(&DecoderBaseType) < 0) return NULL;
    str_general = PyUnicode_InternFromString("_general");
    str_py_decode = PyUnicode_InternFromString("_py_decode");
    empty_tuple = PyTuple_New(0);
    zero = PyLong_FromLong(0);
    if (str_general == NULL || str_py_decode == NULL || empty_tuple == NULL || zero == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", CDECODE_VERSION) < 0
        || PyModule_AddObjectRef(m, "DecoderBase", (PyObject *)&DecoderBaseType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
