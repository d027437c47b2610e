/* Attribute access by slot offset, for the providers' C accelerators that read and
 * write the attributes of Python objects on hot paths (include after Python.h). */
#ifndef PROVIDERS_SLOTS_H
#define PROVIDERS_SLOTS_H

#include "structmember.h"

/* For __slots__ classes (and msgspec Structs) a member descriptor gives
 * the offset, so each access site remembers (type, offset) and, while the type is
 * the same, an access is a load instead of a generic getattr. Anything else (no
 * slot, an unset slot, a type with its own __getattribute__ or __setattr__) takes
 * PyObject_GetAttr / PyObject_SetAttr. SITE is a fresh cache per expansion. */
typedef struct {
    PyTypeObject *type;  /* strong reference */
    Py_ssize_t offset;   /* -1: no plain object slot */
    int readonly;
} Site;

#define SITE ({ static Site site_; &site_; })

static inline void
site_resolve(Site *c, PyTypeObject *tp, PyObject *name)
{
    Py_ssize_t offset = -1;
    int readonly = 1;
    PyObject *d = _PyType_Lookup(tp, name);  /* borrowed */
    if (tp->tp_getattro == PyObject_GenericGetAttr && d != NULL
        && Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type == T_OBJECT_EX)
            offset = m->offset, readonly = (m->flags & READONLY) != 0
                                           || tp->tp_setattro != PyObject_GenericSetAttr;
    }
    Py_INCREF(tp);
    Py_XSETREF(c->type, tp);
    c->offset = offset, c->readonly = readonly;
}

/* obj.name, a new reference (NULL and an exception on error). */
static inline PyObject *
site_get(Site *c, PyObject *obj, PyObject *name)
{
    if (Py_TYPE(obj) != c->type)
        site_resolve(c, Py_TYPE(obj), name);
    if (c->offset >= 0) {
        PyObject *v = *(PyObject **)((char *)obj + c->offset);
        if (v != NULL)
            return Py_NewRef(v);
    }
    return PyObject_GetAttr(obj, name);
}

/* obj.name = value; 0, or -1 on error. */
static inline int
site_set(Site *c, PyObject *obj, PyObject *name, PyObject *value)
{
    if (Py_TYPE(obj) != c->type)
        site_resolve(c, Py_TYPE(obj), name);
    if (c->offset < 0 || c->readonly)
        return PyObject_SetAttr(obj, name, value);
    PyObject **p = (PyObject **)((char *)obj + c->offset);
    PyObject *old = *p;
    *p = Py_NewRef(value);
    Py_XDECREF(old);
    return 0;
}

#define fast_get(obj, name) site_get(SITE, (obj), (name))
#define fast_set(obj, name, value) site_set(SITE, (obj), (name), (value))

/* obj.name as a C integer; -1 with an exception set on error. */
static inline int
get_ll_(Site *c, PyObject *obj, PyObject *name, long long *out)
{
    PyObject *v = site_get(c, obj, name);
    if (v == NULL)
        return -1;
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static inline int
set_ll_(Site *c, PyObject *obj, PyObject *name, long long value)
{
    PyObject *v = PyLong_FromLongLong(value);
    int rc = v ? site_set(c, obj, name, v) : -1;
    Py_XDECREF(v);
    return rc;
}

/* obj.name += n */
static inline int
add_attr_(Site *c, PyObject *obj, PyObject *name, long long n)
{
    long long v;
    return get_ll_(c, obj, name, &v) < 0 ? -1 : set_ll_(c, obj, name, v + n);
}

/* obj.sub.name += n */
static inline int
add_sub_(Site *c, Site *d, PyObject *obj, PyObject *sub, PyObject *name, long long n)
{
    PyObject *o = site_get(c, obj, sub);
    int rc = o ? add_attr_(d, o, name, n) : -1;
    Py_XDECREF(o);
    return rc;
}

#define get_ll(obj, name, out) get_ll_(SITE, (obj), (name), (out))
#define set_ll(obj, name, value) set_ll_(SITE, (obj), (name), (value))
#define add_attr(obj, name, n) add_attr_(SITE, (obj), (name), (n))
#define add_sub(obj, sub, name, n) add_sub_(SITE, SITE, (obj), (sub), (name), (n))

/* Is obj.name the object ``value``? 1, 0, or -1 on error. */
static inline int
attr_is_(Site *c, PyObject *obj, PyObject *name, PyObject *value)
{
    PyObject *v = site_get(c, obj, name);
    if (v == NULL)
        return -1;
    int is = v == value;
    Py_DECREF(v);
    return is;
}

/* Is obj.name true? 1, 0, or -1 on error. */
static inline int
attr_true_(Site *c, PyObject *obj, PyObject *name)
{
    PyObject *v = site_get(c, obj, name);
    if (v == NULL)
        return -1;
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t;
}

#define attr_is(obj, name, value) attr_is_(SITE, (obj), (name), (value))
#define attr_true(obj, name) attr_true_(SITE, (obj), (name))

#endif
