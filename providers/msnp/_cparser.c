/* Optional C accelerator of the MSNP stream parser's common path.
 *
 * scan_lines() is MsnpStreamParser._fast_lines in C: it parses the well-formed
 * command lines of one chunk (UTF-8, a known verb, a payload within the limit)
 * into Command objects, returns the header of a command whose payload is still to
 * come (the caller holds it, as the Python fast path does) and stops at the first
 * other line, which the Python general path then handles. On a stream not yet synced
 * it also takes the first such line, which is what syncs it (_line). Python stays the
 * reference: same splitting (str.split), same TrID and length rules, same fields.
 *
 * It is a pure function: the parser's state goes in as arguments and comes back in
 * the result; it reads and writes no attribute of any Python object.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define VERSION 4
#define MAX_DIGITS 18 /* longer numbers are never a valid TrID or length */
#define TOO_LARGE (1LL << 62)

static PyObject *command_type;  /* providers.msnp._command.Command */
static PyObject *fast_verbs;    /* verb -> (takes_trid, fewest args for a payload length,
                                 *          fewest and most args of shapes without a TrID) */
static PyObject *empty_bytes;

/* The value of an all-digit word of bytes as _trid (at most ten digits) or _length
 * (at most 18 digits, TOO_LARGE beyond) would give it; -1 if not all digits. */
static long long
digits_bytes(const char *w, Py_ssize_t n, Py_ssize_t max_digits)
{
    long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9')
            return -1;
        if (i < MAX_DIGITS)
            v = v * 10 + (w[i] - '0');
    }
    return n > max_digits ? (max_digits == MAX_DIGITS ? TOO_LARGE : -1) : v;
}

/* A declared payload length, as Python's _length: 0 if not all digits. */
static long long
length_bytes(const char *w, Py_ssize_t n)
{
    long long v = digits_bytes(w, n, MAX_DIGITS);
    return v < 0 ? 0 : v;
}

/* The TrID of a str word (at most ten ASCII digits), or -1. */
static long long
trid_value(PyObject *word)
{
    return PyUnicode_IS_ASCII(word)
        ? digits_bytes(PyUnicode_DATA(word), PyUnicode_GET_LENGTH(word), 10) : -1;
}

/* The declared payload length of a str word, as Python's _length. */
static long long
length_value(PyObject *word)
{
    return PyUnicode_IS_ASCII(word)
        ? length_bytes(PyUnicode_DATA(word), PyUnicode_GET_LENGTH(word)) : 0;
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

/* One command line, parsed: what the Command is made of (all new references). */
typedef struct {
    PyObject *verb, *trid, *args, *text;
    long long need;
} Line;

static void
line_clear(Line *ln)
{
    Py_CLEAR(ln->verb);
    Py_CLEAR(ln->trid);
    Py_CLEAR(ln->args);
    Py_CLEAR(ln->text);
}

/* verb -> rule, for the ASCII path: the verbs of fast_verbs by their bytes, so that a
 * line's verb is found without making a str, and the Command shares the dict's. */
#define VERB_TABLE 512
#define VERB_MAX 8
static struct {
    char word[VERB_MAX];
    Py_ssize_t len;
    PyObject *verb;  /* the key of fast_verbs (strong reference); NULL: empty */
    int takes_trid;
    long long minimum;
    Py_ssize_t no_trid_low, no_trid_high;  /* argument counts of shapes without a TrID */
} verb_table[VERB_TABLE];

static size_t
verb_hash(const char *w, Py_ssize_t n)
{
    size_t h = (size_t)n * 2654435761u;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)w[i]) * 16777619u;
    return h % VERB_TABLE;
}

/* The rule of a fast verb given as bytes; its table entry or -1. */
static int
verb_lookup(const char *w, Py_ssize_t n)
{
    if (n > VERB_MAX)
        return -1;
    for (size_t h = verb_hash(w, n), i = 0; i < VERB_TABLE; i++, h = (h + 1) % VERB_TABLE) {
        if (verb_table[h].verb == NULL)
            return -1;
        if (verb_table[h].len == n && memcmp(verb_table[h].word, w, (size_t)n) == 0)
            return (int)h;
    }
    return -1;
}

/* Fill the table from fast_verbs (ASCII keys of at most VERB_MAX bytes; the others are
 * only found by the generic path, as before). */
static int
verb_table_fill(void)
{
    for (int i = 0; i < VERB_TABLE; i++) {
        Py_CLEAR(verb_table[i].verb);
        verb_table[i].len = 0;
    }
    PyObject *key, *rule;
    Py_ssize_t it = 0, filled = 0;
    while (PyDict_Next(fast_verbs, &it, &key, &rule)) {
        if (!PyUnicode_Check(key) || !PyUnicode_IS_ASCII(key) || !PyTuple_Check(rule)
            || PyTuple_GET_SIZE(rule) != 4 || PyUnicode_GET_LENGTH(key) > VERB_MAX)
            continue;
        if (++filled > VERB_TABLE / 2) {
            PyErr_SetString(PyExc_ValueError, "configure: too many verbs");
            return -1;
        }
        const char *w = (const char *)PyUnicode_DATA(key);
        Py_ssize_t n = PyUnicode_GET_LENGTH(key);
        size_t h = verb_hash(w, n);
        while (verb_table[h].verb != NULL)
            h = (h + 1) % VERB_TABLE;
        long long minimum = PyLong_AsLongLong(PyTuple_GET_ITEM(rule, 1));
        Py_ssize_t low = PyLong_AsSsize_t(PyTuple_GET_ITEM(rule, 2));
        Py_ssize_t high = PyLong_AsSsize_t(PyTuple_GET_ITEM(rule, 3));
        if (PyErr_Occurred())
            return -1;
        verb_table[h].no_trid_low = low;
        verb_table[h].no_trid_high = high;
        memcpy(verb_table[h].word, w, (size_t)n);
        verb_table[h].len = n;
        verb_table[h].verb = Py_NewRef(key);
        verb_table[h].takes_trid = PyTuple_GET_ITEM(rule, 0) == Py_True;
        verb_table[h].minimum = minimum;
    }
    return 0;
}

/* An ASCII str of n bytes (a new reference). */
static PyObject *
ascii_str(const char *s, Py_ssize_t n)
{
    PyObject *u = PyUnicode_New(n, 127);
    if (u != NULL)
        memcpy(PyUnicode_DATA(u), s, (size_t)n);
    return u;
}

/* str.split()'s separators among ASCII characters. */
static int
ascii_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

#define MAX_WORDS 32

/* An ASCII line of at most MAX_WORDS words, split as str.split() does: 1 and *ln
 * filled, 0 if not a fast verb, 2 if the line needs the generic path, -1 on error. */
static int
parse_ascii(const char *s, Py_ssize_t n, Line *ln)
{
    Py_ssize_t start[MAX_WORDS], len[MAX_WORDS], words = 0;
    for (Py_ssize_t i = 0; i < n;) {
        if ((unsigned char)s[i] >= 0x80)
            return 2;
        if (ascii_space((unsigned char)s[i])) {
            i++;
            continue;
        }
        if (words == MAX_WORDS)
            return 2;
        start[words] = i;
        while (i < n && !ascii_space((unsigned char)s[i]) && (unsigned char)s[i] < 0x80)
            i++;
        if (i < n && (unsigned char)s[i] >= 0x80)
            return 2;
        len[words] = i - start[words];
        words++;
    }
    int v = words ? verb_lookup(s + start[0], len[0]) : -1;
    if (v < 0)
        return 0;
    Py_ssize_t nargs = words - 1, first = 1;
    ln->trid = Py_NewRef(Py_None);
    if (verb_table[v].takes_trid && nargs
        && !(nargs >= verb_table[v].no_trid_low && nargs <= verb_table[v].no_trid_high)) {
        long long t = digits_bytes(s + start[1], len[1], 10);
        if (t >= 0) {
            Py_SETREF(ln->trid, PyLong_FromLongLong(t));
            if (ln->trid == NULL)
                return -1;
            first = 2;
        }
    }
    ln->need = nargs >= verb_table[v].minimum ? length_bytes(s + start[nargs], len[nargs]) : 0;
    ln->verb = Py_NewRef(verb_table[v].verb);
    if ((ln->text = ascii_str(s, n)) == NULL || (ln->args = PyTuple_New(words - first)) == NULL)
        return -1;
    for (Py_ssize_t w = first; w < words; w++) {
        PyObject *word = ascii_str(s + start[w], len[w]);
        if (word == NULL)
            return -1;
        PyTuple_SET_ITEM(ln->args, w - first, word);
    }
    return 1;
}

/* Any UTF-8 line: decoded and split by Python itself. 1, 0 (not valid UTF-8 or not a
 * fast verb), or -1 on error. */
static int
parse_generic(const char *s, Py_ssize_t n, Line *ln)
{
    PyObject *text = PyUnicode_DecodeUTF8(s, n, NULL);
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    ln->text = text;
    PyObject *parts = PyUnicode_Split(text, NULL, -1);
    if (parts == NULL)
        return -1;
    int rc = 0;
    PyObject *rule = PyList_GET_SIZE(parts)
                     ? PyDict_GetItemWithError(fast_verbs, PyList_GET_ITEM(parts, 0)) : NULL;
    if (rule == NULL) {
        rc = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    if (!PyTuple_Check(rule) || PyTuple_GET_SIZE(rule) != 4) {
        rc = 0;  /* not a rule this code knows: the generic path */
        goto done;
    }
    long long minimum = PyLong_AsLongLong(PyTuple_GET_ITEM(rule, 1));
    Py_ssize_t low = PyLong_AsSsize_t(PyTuple_GET_ITEM(rule, 2));
    Py_ssize_t high = PyLong_AsSsize_t(PyTuple_GET_ITEM(rule, 3));
    if (PyErr_Occurred()) {
        rc = -1;
        goto done;
    }
    Py_ssize_t nargs = PyList_GET_SIZE(parts) - 1, first = 1;
    ln->trid = Py_NewRef(Py_None);
    if (PyTuple_GET_ITEM(rule, 0) == Py_True && nargs && !(nargs >= low && nargs <= high)) {
        long long t = trid_value(PyList_GET_ITEM(parts, 1));
        if (t >= 0) {
            Py_SETREF(ln->trid, PyLong_FromLongLong(t));
            if (ln->trid == NULL) {
                rc = -1;
                goto done;
            }
            first = 2;
        }
    }
    ln->need = nargs >= minimum ? length_value(PyList_GET_ITEM(parts, nargs)) : 0;
    ln->verb = Py_NewRef(PyList_GET_ITEM(parts, 0));
    PyObject *args = PyList_GetSlice(parts, first, PyList_GET_SIZE(parts));
    ln->args = args ? PyList_AsTuple(args) : NULL;
    Py_XDECREF(args);
    rc = ln->args ? 1 : -1;
done:
    Py_DECREF(parts);
    return rc;
}

/* Build the Command of one parsed line; a new reference or NULL. */
static PyObject *
make_command(Line *ln, const char *buf, Py_ssize_t start, long long offset, Py_ssize_t size,
             PyObject *envelope)
{
    PyObject *payload = ln->need ? PyBytes_FromStringAndSize(buf + start, (Py_ssize_t)ln->need)
                                 : Py_NewRef(empty_bytes);
    PyObject *nobj = PyLong_FromLongLong(ln->need);
    PyObject *off = PyLong_FromLongLong(offset);
    PyObject *sz = PyLong_FromSsize_t(size);
    PyObject *cmd = NULL;
    if (payload && nobj && off && sz) {
        PyObject *argv[9] = {ln->verb, ln->trid, ln->args, nobj, payload, off, sz, ln->text,
                             envelope};
        cmd = PyObject_Vectorcall(command_type, argv, 9, NULL);
    }
    Py_XDECREF(payload);
    Py_XDECREF(nobj);
    Py_XDECREF(off);
    Py_XDECREF(sz);
    return cmd;
}

/* What one scan needs besides the bytes, and what it found. */
typedef struct {
    PyObject *envelope, *out;
    PyObject *pending;  /* the header of a command awaiting its payload (new reference) */
    const char *buf;
    Py_ssize_t size;
    long long base, shift, max_payload;
    int synced;  /* the parser's _synced; a command line of a known verb sets it */
} Scan;

/* Hold a command until its payload is complete: its header, as the parser keeps it. */
static int
await_payload(Scan *sc, Line *ln, Py_ssize_t pos, Py_ssize_t start)
{
    sc->pending = Py_BuildValue("(OOOOLnL)", ln->verb, ln->trid, ln->args, ln->text,
                                sc->base + pos, start - pos, ln->need);
    return sc->pending ? 0 : -1;
}

/* Parse the line [pos, eol): 1 if a Command was appended (*next: where the next line
 * starts), 2 if it waits for its payload, 0 to stop at this line, -1 on error. */
static int
scan_one(Scan *sc, Py_ssize_t pos, Py_ssize_t eol, Py_ssize_t *next, long long *payload_bytes)
{
    Line ln = {NULL, NULL, NULL, NULL, 0};
    int rc = parse_ascii(sc->buf + pos, eol - pos, &ln);
    if (rc == 2) {
        line_clear(&ln);
        rc = parse_generic(sc->buf + pos, eol - pos, &ln);
    }
    if (rc == 1 && ln.need > sc->max_payload)
        rc = 0;  /* an error: the general path */
    if (rc == 1)  /* the first command syncs the stream: what _line does when unsynced */
        sc->synced = 1;
    if (rc == 1) {
        Py_ssize_t start = eol + 2;
        if (start + ln.need > sc->size) {
            rc = await_payload(sc, &ln, pos, start) == 0 ? 2 : -1;
            *next = start;
        }
        else {
            PyObject *cmd = make_command(&ln, sc->buf, start, sc->shift + pos,
                                         start - pos + (Py_ssize_t)ln.need, sc->envelope);
            rc = cmd && PyList_Append(sc->out, cmd) == 0 ? 1 : -1;
            Py_XDECREF(cmd);
            *next = start + (Py_ssize_t)ln.need;
            *payload_bytes += ln.need;
        }
    }
    line_clear(&ln);
    return rc;
}

/* The scan loop: the position it stopped at (the payload's start if one is awaited),
 * or -1 on error; *commands and *payload_bytes count what it appended. */
static Py_ssize_t
scan(Scan *sc, Py_ssize_t pos, Py_ssize_t max_line, long long *commands,
     long long *payload_bytes)
{
    while (pos >= 0 && pos < sc->size) {
        Py_ssize_t eol = find_crlf(sc->buf, pos, sc->size);
        if (eol <= pos || eol - pos > max_line)
            break;
        Py_ssize_t next = pos;
        int rc = scan_one(sc, pos, eol, &next, payload_bytes);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        pos = next;
        if (rc == 2)
            break;
        ++*commands;
    }
    return pos;
}

PyDoc_STRVAR(scan_lines_doc,
"scan_lines(data, pos, base, synced, max_line, max_payload, shift, envelope, out)\n"
"    -> (stop, commands, payload_bytes, synced, pending)\n\n"
"MsnpStreamParser._fast_lines(data, pos, base, out) for bytes ``data`` of a parser in\n"
"the given state (``shift``: added to the offsets of the Commands, ``base`` included):\n"
"append the Commands of the well-formed lines from ``pos`` on to ``out``; ``stop`` is\n"
"where the first other line starts or, when ``pending`` is a command's header\n"
"(verb, trid, args, line, offset, head, need), where its payload starts. ``commands``\n"
"and ``payload_bytes`` count what was appended; ``synced`` is the new sync flag.");

static PyObject *
scan_lines(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 9 || !PyBytes_CheckExact(argv[0]) || !PyList_CheckExact(argv[8])) {
        PyErr_SetString(PyExc_TypeError, "scan_lines(bytes, pos, base, synced, max_line, "
                                         "max_payload, shift, envelope, list)");
        return NULL;
    }
    if (command_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scan_lines: configure() was not called");
        return NULL;
    }
    Scan sc = {.envelope = argv[7], .out = argv[8], .buf = PyBytes_AS_STRING(argv[0]),
               .size = PyBytes_GET_SIZE(argv[0])};
    Py_ssize_t pos = PyLong_AsSsize_t(argv[1]);
    sc.base = PyLong_AsLongLong(argv[2]);
    sc.synced = PyObject_IsTrue(argv[3]);
    long long max_line = PyLong_AsLongLong(argv[4]);
    sc.max_payload = PyLong_AsLongLong(argv[5]);
    sc.shift = PyLong_AsLongLong(argv[6]);
    if (PyErr_Occurred() || sc.synced < 0)
        return NULL;
    if (pos < 0 || pos > sc.size) {
        PyErr_SetString(PyExc_ValueError, "scan_lines: pos out of range");
        return NULL;
    }
    long long commands = 0, payload_bytes = 0;
    Py_ssize_t stop = scan(&sc, pos, (Py_ssize_t)max_line, &commands, &payload_bytes);
    if (stop < 0) {
        Py_XDECREF(sc.pending);
        return NULL;
    }
    PyObject *res = PyTuple_New(5);
    if (res == NULL) {
        Py_XDECREF(sc.pending);
        return NULL;
    }
    PyTuple_SET_ITEM(res, 0, PyLong_FromSsize_t(stop));
    PyTuple_SET_ITEM(res, 1, PyLong_FromLongLong(commands));
    PyTuple_SET_ITEM(res, 2, PyLong_FromLongLong(payload_bytes));
    PyTuple_SET_ITEM(res, 3, Py_NewRef(sc.synced ? Py_True : Py_False));
    PyTuple_SET_ITEM(res, 4, sc.pending ? sc.pending : Py_NewRef(Py_None));
    for (int i = 0; i < 3; i++)
        if (PyTuple_GET_ITEM(res, i) == NULL) {
            Py_DECREF(res);
            return NULL;
        }
    return res;
}

PyDoc_STRVAR(configure_doc,
"configure(command_type, fast_verbs)\n\n"
"Set the Command class to build and the verb rules (verb -> (takes_trid, minimum,\n"
"no_trid_low, no_trid_high): providers.msnp._verbs.VERB_RULES).");

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *cls, *verbs;
    if (!PyArg_ParseTuple(args, "OO!:configure", &cls, &PyDict_Type, &verbs))
        return NULL;
    Py_XSETREF(command_type, Py_NewRef(cls));
    Py_XSETREF(fast_verbs, Py_NewRef(verbs));
    if (verb_table_fill() < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(arg_list_doc,
"arg_list(args)\n\n"
"A new list of the strings of the tuple ``args`` (a Command's arguments), for an event\n"
"field, left out of the garbage collector's walks: it holds only strings, so it is in\n"
"no reference cycle, and traced events wait in session buffers across many collections\n"
"(each such list made every collection longer). Anything but a tuple of strings gives\n"
"an ordinary list; list(args) in pure Python.");

static PyObject *
arg_list(PyObject *module, PyObject *args)
{
    if (!PyTuple_CheckExact(args))
        return PySequence_List(args);  /* (anything else: an ordinary list) */
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(args, i)))
            return PySequence_List(args);
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyList_SET_ITEM(list, i, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    PyObject_GC_UnTrack(list);
    return list;
}

static PyMethodDef methods[] = {
    {"scan_lines", (PyCFunction)(void (*)(void))scan_lines, METH_FASTCALL, scan_lines_doc},
    {"arg_list", arg_list, METH_O, arg_list_doc},
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
    if (empty_bytes == NULL
        || PyModule_AddIntConstant(m, "VERSION", VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
