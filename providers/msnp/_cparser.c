/* Optional C accelerator of the MSNP stream parser's common path.
 *
 * scan_lines() is MsnpStreamParser._fast_lines in C: it parses the well-formed
 * command lines of one chunk (UTF-8, a known verb, the payload complete in the
 * chunk) into Command objects and stops at the first other line, which the
 * Python general path then handles. That includes a command whose payload is
 * still to come: the general path holds it (the Python fast path would do the
 * same). Python stays the reference: same splitting (str.split), same TrID and
 * length rules, same Command fields.
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
static PyObject *str_commands, *str_payload_bytes;

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

/* Parse one line [pos, eol) whose payload may follow; 1 if a Command was appended
 * (*next: where the next line starts), 0 to stop at this line, -1 on error. */
static int
scan_one(const char *buf, Py_ssize_t size, Py_ssize_t pos, Py_ssize_t eol, long long shift,
         long long max_payload, PyObject *envelope, PyObject *out, Py_ssize_t *next,
         long long *payload_bytes)
{
    PyObject *text = PyUnicode_DecodeUTF8(buf + pos, eol - pos, NULL);
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
    if (need <= max_payload && start + need <= size) {
        PyObject *cmd = make_command(parts, text, trid, need, buf, start, shift + pos,
                                     start - pos + (Py_ssize_t)need, envelope);
        rc = cmd && PyList_Append(out, cmd) == 0 ? 1 : -1;
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

PyDoc_STRVAR(scan_lines_doc,
"scan_lines(data, pos, shift, max_line, max_payload, envelope, out, stats) -> int\n\n"
"Append the Commands of the well-formed lines of bytes ``data`` from ``pos`` on to\n"
"``out``; return where the first other line starts (MsnpStreamParser._fast_lines,\n"
"except that a command whose payload is incomplete is left to the general path).\n"
"``shift`` is added to positions to make the commands' stream offsets.");

static PyObject *
scan_lines(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 8 || !PyBytes_CheckExact(argv[0]) || !PyList_CheckExact(argv[6])) {
        PyErr_SetString(PyExc_TypeError,
                        "scan_lines(bytes, pos, shift, max_line, max_payload, envelope, list, stats)");
        return NULL;
    }
    if (command_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scan_lines: configure() was not called");
        return NULL;
    }
    const char *buf = PyBytes_AS_STRING(argv[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(argv[0]);
    Py_ssize_t pos = PyLong_AsSsize_t(argv[1]);
    long long shift = PyLong_AsLongLong(argv[2]);
    Py_ssize_t max_line = PyLong_AsSsize_t(argv[3]);
    long long max_payload = PyLong_AsLongLong(argv[4]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *envelope = argv[5], *out = argv[6], *stats = argv[7];
    long long commands = 0, payload_bytes = 0;
    int rc = 1;
    while (pos >= 0 && pos < size) {
        Py_ssize_t eol = find_crlf(buf, pos, size);
        if (eol <= pos || eol - pos > max_line)
            break;
        Py_ssize_t next = pos;
        rc = scan_one(buf, size, pos, eol, shift, max_payload, envelope, out, &next,
                      &payload_bytes);
        if (rc <= 0)
            break;
        commands++;
        pos = next;
    }
    if (rc < 0)
        return NULL;
    if (commands && (add_to(stats, str_commands, commands) < 0
                     || add_to(stats, str_payload_bytes, payload_bytes) < 0))
        return NULL;
    return PyLong_FromSsize_t(pos);
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
    if (empty_bytes == NULL || str_commands == NULL || str_payload_bytes == NULL
        || PyModule_AddIntConstant(m, "VERSION", VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
