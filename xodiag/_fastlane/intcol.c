/* IntColumn: a growable column of int64 values, some of whose cells may hold any other object.
 *
 * The EventBuilder keeps line, line_end, span and time_value in these when the compiled module is there
 * (events.py). The lane writes a row's line numbers and its epoch ns time as C integers, with no int object
 * made per row and none freed when the chunk is built; ints() copies them into the chunk's int64 arrays.
 * Python sees a plain mutable sequence: len, col[i] (negative too), col[i] = v, iteration and append.
 * An exact int in the int64 range is stored as a number; anything else (None, a str, a float, a larger
 * int) is kept as an object in that cell. Reading a cell gives back an equal value. */
typedef struct {
    PyObject_HEAD
    int64_t *v;
    PyObject **obj; /* NULL until a cell holds an object; then one entry per cell of the capacity (NULL: number) */
    Py_ssize_t n, cap;
} IntCol;

static PyTypeObject IntColType;

static int intcol_grow(IntCol *c, Py_ssize_t need) {
    if (need <= c->cap) return 0;
    Py_ssize_t cap = c->cap ? c->cap : 16;
    while (cap < need) {
        if (cap > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(int64_t)) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    int64_t *v = PyMem_Realloc(c->v, (size_t)cap * sizeof *v);
    if (!v) {
        PyErr_NoMemory();
        return -1;
    }
    c->v = v;
    if (c->obj) {
        PyObject **o = PyMem_Realloc(c->obj, (size_t)cap * sizeof *o);
        if (!o) {
            PyErr_NoMemory();
            return -1;
        }
        memset(o + c->cap, 0, (size_t)(cap - c->cap) * sizeof *o);
        c->obj = o;
    }
    c->cap = cap;
    return 0;
}

static inline int intcol_push(IntCol *c, int64_t x) {
    if (c->n == c->cap && intcol_grow(c, c->n + 1) < 0) return -1;
    c->v[c->n] = x;
    if (c->obj) c->obj[c->n] = NULL;
    c->n++;
    return 0;
}

/* a cell as a number when v is an exact int in range (1), else 0; -1 on error */
static int intcol_number(PyObject *v, int64_t *x) {
    if (!PyLong_CheckExact(v)) return 0;
    int overflow = 0;
    long long y = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) return 0;
    if (y == -1 && PyErr_Occurred()) return -1;
    *x = (int64_t)y;
    return 1;
}

/* cell i := v (a borrowed reference); i < c->n */
static int intcol_put(IntCol *c, Py_ssize_t i, PyObject *v) {
    int64_t x = 0;
    int num = intcol_number(v, &x);
    if (num < 0) return -1;
    if (!num && !c->obj) {
        if (!(c->obj = PyMem_Calloc((size_t)c->cap, sizeof *c->obj))) { /* (i < n <= cap) */
            PyErr_NoMemory();
            return -1;
        }
    }
    c->v[i] = x;
    if (c->obj) Py_XSETREF(c->obj[i], num ? NULL : Py_NewRef(v));
    return 0;
}

static int intcol_append_obj(IntCol *c, PyObject *v) { /* v borrowed */
    if (intcol_push(c, 0) < 0) return -1;
    if (intcol_put(c, c->n - 1, v) < 0) {
        c->n--;
        return -1;
    }
    return 0;
}

static PyObject *intcol_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"capacity", NULL};
    Py_ssize_t cap = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|n", kwlist, &cap)) return NULL;
    if (cap < 0) {
        PyErr_SetString(PyExc_ValueError, "capacity must be >= 0");
        return NULL;
    }
    IntCol *c = (IntCol *)type->tp_alloc(type, 0);
    if (c && cap && intcol_grow(c, cap) < 0) Py_CLEAR(c);
    return (PyObject *)c;
}

static int intcol_clear(IntCol *c) {
    if (c->obj)
        for (Py_ssize_t i = 0; i < c->n; i++) Py_CLEAR(c->obj[i]);
    return 0;
}

static int intcol_traverse(IntCol *c, visitproc visit, void *arg) {
    if (c->obj)
        for (Py_ssize_t i = 0; i < c->n; i++) Py_VISIT(c->obj[i]);
    return 0;
}

static void intcol_dealloc(IntCol *c) {
    PyObject_GC_UnTrack(c);
    intcol_clear(c);
    PyMem_Free(c->obj);
    PyMem_Free(c->v);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static Py_ssize_t intcol_len(IntCol *c) { return c->n; }

static PyObject *intcol_item(IntCol *c, Py_ssize_t i) {
    if (i < 0 || i >= c->n) {
        PyErr_SetString(PyExc_IndexError, "IntColumn index out of range");
        return NULL;
    }
    if (c->obj && c->obj[i]) return Py_NewRef(c->obj[i]);
    return PyLong_FromLongLong(c->v[i]);
}

static int intcol_ass_item(IntCol *c, Py_ssize_t i, PyObject *v) {
    if (i < 0 || i >= c->n) {
        PyErr_SetString(PyExc_IndexError, "IntColumn assignment index out of range");
        return -1;
    }
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "IntColumn cells cannot be deleted");
        return -1;
    }
    return intcol_put(c, i, v);
}

static PyObject *intcol_append(IntCol *c, PyObject *v) {
    return intcol_append_obj(c, v) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *intcol_repr(IntCol *c) {
    PyObject *items = PySequence_List((PyObject *)c);
    if (!items) return NULL;
    PyObject *r = PyUnicode_FromFormat("IntColumn(%R)", items);
    Py_DECREF(items);
    return r;
}

/* == and != with another IntColumn or a list: equal lengths and equal cells */
static PyObject *intcol_richcompare(IntCol *c, PyObject *other, int op) {
    if ((op != Py_EQ && op != Py_NE) || !(PyList_Check(other) || PyObject_TypeCheck(other, &IntColType)))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = c->n;
    int eq = PyObject_Length(other) == n;
    for (Py_ssize_t i = 0; eq && i < n; i++) {
        PyObject *a = intcol_item(c, i), *b = a ? PySequence_GetItem(other, i) : NULL;
        int r = b ? PyObject_RichCompareBool(a, b, Py_EQ) : -1;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (r < 0) return NULL;
        eq = r && c->n == n && PyObject_Length(other) == n; /* (a comparison may change either) */
    }
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PySequenceMethods intcol_seq = {
    .sq_length = (lenfunc)intcol_len,
    .sq_item = (ssizeargfunc)intcol_item,
    .sq_ass_item = (ssizeobjargproc)intcol_ass_item,
};

static PyMethodDef intcol_methods[] = {
    {"append", (PyCFunction)intcol_append, METH_O, "append(value)"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject IntColType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xodiag._fastlane.IntColumn",
    .tp_basicsize = sizeof(IntCol),
    .tp_dealloc = (destructor)intcol_dealloc,
    .tp_repr = (reprfunc)intcol_repr,
    .tp_as_sequence = &intcol_seq,
    .tp_richcompare = (richcmpfunc)intcol_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)intcol_traverse,
    .tp_clear = (inquiry)intcol_clear,
    .tp_doc = "IntColumn(capacity=0): a column of int64 cells (other values kept as objects); a mutable sequence",
    .tp_methods = intcol_methods,
    .tp_new = intcol_new,
};
