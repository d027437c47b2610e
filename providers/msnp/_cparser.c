/* Optional C accelerator of the MSNP stream parser's common path.
 *
 * scan_lines() is MsnpStreamParser._fast_lines in C: it parses the well-formed
 * command lines of one chunk (UTF-8, a known verb, a payload within the limit)
 * into Command objects, holds a command whose payload is still to come (through
 * the parser's own _await_payload, as the Python fast path does) and stops at the
 * first other line, which the Python general path then handles. Python stays the
 * reference: same splitting (str.split), same TrID and length rules, same fields.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define VERSION 1
#define MAX_DIGITS 18 /* longer numbers are never a valid TrID or length */
#define TOO_LARGE (1LL << 62)

static PyObject *command_type;  /* providers.msnp._command.Command */
static PyObject *fast_verbs;    /* verb -> (takes_trid, fewest args for a payload length) */
static PyObject *empty_bytes;
static PyObject *str_commands, *str_payload_bytes, *str_max_line, *str_max_payload,
    *str_offset_shift, *str_envelope, *str_stats, *str_await_payload;

/* The value of an all-ASCII-digit word of at most MAX_DIGITS characters; TOO_LARGE
 * for longer digit strings; -1 if the word is not all ASCII digits. */
static long long
digits_value(PyObject *word, Py_ssize_t *len)
{
    if (!PyUnicode_IS_ASCII(word))
        return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(word);
    const char *s = (const char *)PyUnicode_DATA(word);
    long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (c < '0' || c > '9')
            return -1;
        if (i < MAX_DIGITS)
            v = v * 10 + (c - '0');
    }
    *len = n;
    return n > MAX_DIGITS ? TOO_LARGE : v;
}

/* The TrID of a word (at most ten ASCII digits), or -1. */
static long long
trid_value(PyObject *word)
{
    Py_ssize_t n = 0;
    long long v = digits_value(word, &n);
    return (v >= 0 && n <= 10) ? v : -1;
}

/* The declared payload length of a word, as Python's _length: 0 if not digits. */
static long long
length_value(PyObject *word)
{
    Py_ssize_t n = 0;
    long long v = digits_value(word, &n);
    return v < 0 ? 0 : v;
}

/* The position of the next CRLF at or after pos, or -1. */
static Py_ssize_t
find_crlf(const char *buf, Py_ssize_t pos, Py_ssize_t size)
{
    while (pos + 1 < size) {
        const char *cr = memchr(buf + pos, '\r', (size_t)(size - 1 - pos));
        if (cr == NULL)
            return -1;
        pos = cr - buf;
        if (buf[pos + 1] == '\n')
            return pos;
        pos++;
    }
    return -1;
}

/* Add n to the integer attribute name of obj. */
static int
add_to(PyObject *obj, PyObject *name, long long n)
{
    PyObject *old = PyObject_GetAttr(obj, name);
    if (old == NULL)
        return -1;
    PyObject *inc = PyLong_FromLongLong(n);
    PyObject *sum = inc ? PyNumber_Add(old, inc) : NULL;
    Py_DECREF(old);
    Py_XDECREF(inc);
    if (sum == NULL)
        return -1;
    int rc = PyObject_SetAttr(obj, name, sum);
    Py_DECREF(sum);
    return rc;
}

/* Build the Command of one parsed line; a new reference or NULL. */
static PyObject *
make_command(PyObject *parts, PyObject *text, PyObject *trid, long long need,
             const char *buf, Py_ssize_t start, long long offset, Py_ssize_t size,
             PyObject *envelope)
{
    Py_ssize_t first = trid == Py_None ? 1 : 2;
    PyObject *args = PyList_GetSlice(parts, first, PyList_GET_SIZE(parts));
    PyObject *targs = args ? PyList_AsTuple(args) : NULL;
    Py_XDECREF(args);
    PyObject *payload = need ? PyBytes_FromStringAndSize(buf + start, (Py_ssize_t)need)
                             : Py_NewRef(empty_bytes);
    PyObject *nobj = PyLong_FromLongLong(need);
    PyObject *off = PyLong_FromLongLong(offset);
    PyObject *sz = PyLong_FromSsize_t(size);
    PyObject *cmd = NULL;
    if (targs && payload && nobj && off && sz) {
        PyObject *argv[9] = {PyList_GET_ITEM(parts, 0), trid, targs, nobj, payload, off, sz,
                             text, envelope};
        cmd = PyObject_Vectorcall(command_type, argv, 9, NULL);
    }
    Py_XDECREF(targs);
    Py_XDECREF(payload);
    Py_XDECREF(nobj);
    Py_XDECREF(off);
    Py_XDECREF(sz);
    return cmd;
}

/* The verb rule of a line's first word: 1 and the rule's fields, 0 if not a fast verb. */
static int
verb_rule(PyObject *parts, int *takes_trid, long long *minimum)
{
    if (PyList_GET_SIZE(parts) == 0)
        return 0;
    PyObject *rule = PyDict_GetItemWithError(fast_verbs, PyList_GET_ITEM(parts, 0));
    if (rule == NULL)
        return PyErr_Occurred() ? -1 : 0;
    *takes_trid = PyTuple_GET_ITEM(rule, 0) == Py_True;
    *minimum = PyLong_AsLongLong(PyTuple_GET_ITEM(rule, 1));
    return (*minimum == -1 && PyErr_Occurred()) ? -1 : 1;
}

/* What one scan needs besides the bytes. */
typedef struct {
    PyObject *parser, *data, *envelope, *out;
    const char *buf;
    Py_ssize_t size;
    long long base, shift, max_payload;
} Scan;

/* Hold a command until its payload is complete: parser._await_payload(pending, rest). */
static int
await_payload(Scan *sc, PyObject *parts, PyObject *text, PyObject *trid, long long need,
              Py_ssize_t pos, Py_ssize_t start)
{
    Py_ssize_t first = trid == Py_None ? 1 : 2;
    PyObject *args = PyList_GetSlice(parts, first, PyList_GET_SIZE(parts));
    PyObject *targs = args ? PyList_AsTuple(args) : NULL;
    Py_XDECREF(args);
    PyObject *pending = targs ? Py_BuildValue("(OOOOLnL)", PyList_GET_ITEM(parts, 0), trid,
                                              targs, text, sc->base + pos, start - pos, need)
                              : NULL;
    Py_XDECREF(targs);
    PyObject *rest = PyBytes_FromStringAndSize(sc->buf + start, sc->size - start);
    PyObject *res = NULL;
    if (pending && rest)
        res = PyObject_CallMethodObjArgs(sc->parser, str_await_payload, pending, rest, NULL);
    Py_XDECREF(pending);
    Py_XDECREF(rest);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* Parse the line [pos, eol): 1 if a Command was appended (*next: where the next line
 * starts), 2 if it waits for its payload, 0 to stop at this line, -1 on error. */
static int
scan_one(Scan *sc, Py_ssize_t pos, Py_ssize_t eol, Py_ssize_t *next, long long *payload_bytes)
{
    PyObject *text = PyUnicode_DecodeUTF8(sc->buf + pos, eol - pos, NULL);
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    PyObject *parts = PyUnicode_Split(text, NULL, -1);
    int takes_trid = 0, rc = 0;
    long long minimum = 0;
    int known = parts ? verb_rule(parts, &takes_trid, &minimum) : -1;
    if (known <= 0) {
        rc = known;
        goto done;
    }
    Py_ssize_t nargs = PyList_GET_SIZE(parts) - 1;
    PyObject *trid = Py_None;
    if (takes_trid && nargs) {
        long long t = trid_value(PyList_GET_ITEM(parts, 1));
        if (t >= 0 && (trid = PyLong_FromLongLong(t)) == NULL) {
            rc = -1;
            goto done;
        }
    }
    long long need = nargs >= minimum ? length_value(PyList_GET_ITEM(parts, nargs)) : 0;
    Py_ssize_t start = eol + 2;
    if (need > sc->max_payload)
        rc = 0;  /* an error: the general path */
    else if (start + need > sc->size)
        rc = await_payload(sc, parts, text, trid, need, pos, start) == 0 ? 2 : -1;
    else {
        PyObject *cmd = make_command(parts, text, trid, need, sc->buf, start, sc->shift + pos,
                                     start - pos + (Py_ssize_t)need, sc->envelope);
        rc = cmd && PyList_Append(sc->out, cmd) == 0 ? 1 : -1;
        Py_XDECREF(cmd);
        *next = start + (Py_ssize_t)need;
        *payload_bytes += need;
    }
    if (trid != Py_None)
        Py_DECREF(trid);
done:
    Py_XDECREF(parts);
    Py_DECREF(text);
    return rc;
}

/* The scan loop; the position it stopped at, -1 if a payload is awaited, -2 on error. */
static Py_ssize_t
scan(Scan *sc, Py_ssize_t pos, Py_ssize_t max_line, PyObject *stats)
{
    long long commands = 0, payload_bytes = 0;
    int rc = 1;
    while (pos >= 0 && pos < sc->size) {
        Py_ssize_t eol = find_crlf(sc->buf, pos, sc->size);
        if (eol <= pos || eol - pos > max_line)
            break;
        Py_ssize_t next = pos;
        rc = scan_one(sc, pos, eol, &next, &payload_bytes);
        if (rc != 1)
            break;
        commands++;
        pos = next;
    }
    if (rc < 0)
        return -2;
    if (commands && (add_to(stats, str_commands, commands) < 0
                     || add_to(stats, str_payload_bytes, payload_bytes) < 0))
        return -2;
    return rc == 2 ? -1 : pos;
}

/* parser.name as a C integer (-1 and an exception on error). */
static int
attr_ll(PyObject *obj, PyObject *name, long long *out)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

PyDoc_STRVAR(scan_lines_doc,
"scan_lines(parser, data, pos, base, out) -> int\n\n"
"MsnpStreamParser._fast_lines(data, pos, base, out) for bytes ``data``: append the\n"
"Commands of the well-formed lines from ``pos`` on to ``out`` and return where the\n"
"first other line starts, or -1 once a command waits for the rest of its payload.");

static PyObject *
scan_lines(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 5 || !PyBytes_CheckExact(argv[1]) || !PyList_CheckExact(argv[4])) {
        PyErr_SetString(PyExc_TypeError, "scan_lines(parser, bytes, pos, base, list)");
        return NULL;
    }
    if (command_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scan_lines: configure() was not called");
        return NULL;
    }
    Scan sc = {.parser = argv[0], .data = argv[1], .out = argv[4],
               .buf = PyBytes_AS_STRING(argv[1]), .size = PyBytes_GET_SIZE(argv[1])};
    Py_ssize_t pos = PyLong_AsSsize_t(argv[2]);
    long long max_line, shift;
    sc.base = PyLong_AsLongLong(argv[3]);
    if (PyErr_Occurred() || attr_ll(sc.parser, str_max_line, &max_line) < 0
        || attr_ll(sc.parser, str_max_payload, &sc.max_payload) < 0
        || attr_ll(sc.parser, str_offset_shift, &shift) < 0)
        return NULL;
    sc.shift = sc.base + shift;
    PyObject *stats = PyObject_GetAttr(sc.parser, str_stats);
    sc.envelope = PyObject_GetAttr(sc.parser, str_envelope);
    Py_ssize_t stop = stats && sc.envelope ? scan(&sc, pos, (Py_ssize_t)max_line, stats) : -2;
    Py_XDECREF(stats);
    Py_XDECREF(sc.envelope);
    return stop == -2 ? NULL : PyLong_FromSsize_t(stop);
}

PyDoc_STRVAR(configure_doc,
"configure(command_type, fast_verbs)\n\n"
"Set the Command class to build and the verb rules (verb -> (takes_trid, minimum)).");

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *cls, *verbs;
    if (!PyArg_ParseTuple(args, "OO!:configure", &cls, &PyDict_Type, &verbs))
        return NULL;
    Py_XSETREF(command_type, Py_NewRef(cls));
    Py_XSETREF(fast_verbs, Py_NewRef(verbs));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan_lines", (PyCFunction)(void (*)(void))scan_lines, METH_FASTCALL, scan_lines_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "providers.msnp._cparser",
    "C accelerator of the MSNP stream parser's common path.", -1, methods,
};

PyMODINIT_FUNC
PyInit__cparser(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    empty_bytes = PyBytes_FromStringAndSize(NULL, 0);
    str_commands = PyUnicode_InternFromString("commands");
    str_payload_bytes = PyUnicode_InternFromString("payload_bytes");
    str_max_line = PyUnicode_InternFromString("max_line");
    str_max_payload = PyUnicode_InternFromString("max_payload");
    str_offset_shift = PyUnicode_InternFromString("offset_shift");
    str_envelope = PyUnicode_InternFromString("envelope");
    str_stats = PyUnicode_InternFromString("stats");
    str_await_payload = PyUnicode_InternFromString("_await_payload");
    if (empty_bytes == NULL || str_commands == NULL || str_payload_bytes == NULL
        || str_max_line == NULL || str_max_payload == NULL || str_offset_shift == NULL
        || str_envelope == NULL || str_stats == NULL || str_await_payload == NULL
        || PyModule_AddIntConstant(m, "VERSION", VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
