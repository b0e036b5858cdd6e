/* The EventBuilder's compiled columns (events.py uses them when the compiled module is there). Python sees
 * each as a plain mutable sequence: len, col[i] (negative too), col[i] = v, iteration, append, and == with a
 * list or another column. The lane writes them in C; move_rows() and ints() empty them into a chunk's
 * arrays.
 *
 * IntColumn: line, line_end, span and time_value. A growable column of int64 values, some of whose cells
 * may hold any other object. The lane writes a row's line numbers and its epoch ns time as C integers,
 * with no int object made per row and none freed when the chunk is built. An exact int in the int64 range
 * is stored as a number; anything else (None, a str, a float, a larger int) is kept as an object in that
 * cell. Reading a cell gives back an equal value.
 *
 * SparseColumn: context, the error fields, frames and the id lists, whose cells nearly all hold one value
 * (None, or the shared empty list). Only the other cells are stored, with their row: a row that holds the
 * default costs a counter, and move_rows() fills the block's row with the default and puts the others in
 * place. */
typedef struct {
    PyObject_HEAD
    int64_t *v;
    PyObject **obj; /* NULL until a cell holds an object; then one entry per cell of the capacity (NULL: number) */
    Py_ssize_t n, cap;
} IntCol;

static PyTypeObject IntColType, SparseColType;

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

/* == and != between a column and a list or another column: equal lengths and equal cells */
static PyObject *column_richcompare(PyObject *a, PyObject *b, int op) {
    if ((op != Py_EQ && op != Py_NE) ||
        !(PyList_Check(b) || PyObject_TypeCheck(b, &IntColType) || PyObject_TypeCheck(b, &SparseColType)))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PySequence_Length(a);
    if (n < 0) return NULL;
    int eq = PySequence_Length(b) == n;
    for (Py_ssize_t i = 0; eq && i < n; i++) {
        PyObject *x = PySequence_GetItem(a, i), *y = x ? PySequence_GetItem(b, i) : NULL;
        int r = y ? PyObject_RichCompareBool(x, y, Py_EQ) : -1;
        Py_XDECREF(x);
        Py_XDECREF(y);
        if (r < 0) return NULL;
        eq = r && PySequence_Length(a) == n && PySequence_Length(b) == n; /* (a comparison may change either) */
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
    .tp_richcompare = (richcmpfunc)column_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)intcol_traverse,
    .tp_clear = (inquiry)intcol_clear,
    .tp_doc = "IntColumn(capacity=0): a column of int64 cells (other values kept as objects); a mutable sequence",
    .tp_methods = intcol_methods,
    .tp_new = intcol_new,
};

/* ---- SparseColumn ------------------------------------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    PyObject *dflt;     /* owned: the value of every cell not stored below */
    Py_ssize_t n;       /* cells */
    Py_ssize_t k, cap;  /* cells stored (those that hold another value), and room for them */
    Py_ssize_t *at;     /* their indexes, ascending */
    PyObject **val;     /* their values (owned) */
} SparseCol;

static int sparse_grow(SparseCol *c, Py_ssize_t need) {
    if (need <= c->cap) return 0;
    Py_ssize_t cap = c->cap ? c->cap : 64;
    while (cap < need) {
        if (cap > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)sizeof(PyObject *)) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    Py_ssize_t *at = PyMem_Realloc(c->at, (size_t)cap * sizeof *at);
    if (!at) {
        PyErr_NoMemory();
        return -1;
    }
    c->at = at;
    PyObject **val = PyMem_Realloc(c->val, (size_t)cap * sizeof *val);
    if (!val) {
        PyErr_NoMemory();
        return -1;
    }
    c->val = val;
    c->cap = cap;
    return 0;
}

/* where cell i is stored (1, *pos its place), or where it would go (0) */
static int sparse_find(const SparseCol *c, Py_ssize_t i, Py_ssize_t *pos) {
    Py_ssize_t lo = 0, hi = c->k;
    if (hi && c->at[hi - 1] < i) lo = hi; /* (appends: past the last one) */
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (c->at[mid] < i) lo = mid + 1;
        else hi = mid;
    }
    *pos = lo;
    return lo < c->k && c->at[lo] == i;
}

/* a new last cell holding v (a new reference, consumed; NULL: the default). 0, or -1 (the cell is not added) */
static inline int sparse_push(SparseCol *c, PyObject *v) {
    if (v && v != c->dflt) {
        if (c->k == c->cap && sparse_grow(c, c->k + 1) < 0) {
            Py_DECREF(v);
            return -1;
        }
        c->at[c->k] = c->n;
        c->val[c->k++] = v;
    } else {
        Py_XDECREF(v);
    }
    c->n++;
    return 0;
}

/* cell i := v (borrowed); i < c->n */
static int sparse_put(SparseCol *c, Py_ssize_t i, PyObject *v) {
    Py_ssize_t pos;
    int found = sparse_find(c, i, &pos);
    if (found && v != c->dflt) {
        Py_SETREF(c->val[pos], Py_NewRef(v));
    } else if (found) {
        PyObject *old = c->val[pos];
        memmove(c->at + pos, c->at + pos + 1, (size_t)(c->k - pos - 1) * sizeof *c->at);
        memmove(c->val + pos, c->val + pos + 1, (size_t)(c->k - pos - 1) * sizeof *c->val);
        c->k--;
        Py_DECREF(old);
    } else if (v != c->dflt) {
        if (sparse_grow(c, c->k + 1) < 0) return -1;
        memmove(c->at + pos + 1, c->at + pos, (size_t)(c->k - pos) * sizeof *c->at);
        memmove(c->val + pos + 1, c->val + pos, (size_t)(c->k - pos) * sizeof *c->val);
        c->at[pos] = i;
        c->val[pos] = Py_NewRef(v);
        c->k++;
    }
    return 0;
}

static PyObject *sparse_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"default", "capacity", NULL};
    PyObject *dflt;
    Py_ssize_t cap = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n", kwlist, &dflt, &cap)) return NULL;
    if (cap < 0) {
        PyErr_SetString(PyExc_ValueError, "capacity must be >= 0");
        return NULL;
    }
    SparseCol *c = (SparseCol *)type->tp_alloc(type, 0);
    if (!c) return NULL;
    c->dflt = Py_NewRef(dflt);
    if (cap && sparse_grow(c, cap) < 0) Py_CLEAR(c);
    return (PyObject *)c;
}

static int sparse_clear(SparseCol *c) {
    Py_ssize_t k = c->k;
    c->k = c->n = 0;
    for (Py_ssize_t s = 0; s < k; s++) Py_CLEAR(c->val[s]);
    Py_CLEAR(c->dflt);
    return 0;
}

static int sparse_traverse(SparseCol *c, visitproc visit, void *arg) {
    Py_VISIT(c->dflt);
    for (Py_ssize_t s = 0; s < c->k; s++) Py_VISIT(c->val[s]);
    return 0;
}

static void sparse_dealloc(SparseCol *c) {
    PyObject_GC_UnTrack(c);
    sparse_clear(c);
    PyMem_Free(c->at);
    PyMem_Free(c->val);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static Py_ssize_t sparse_len(SparseCol *c) { return c->n; }

static PyObject *sparse_item(SparseCol *c, Py_ssize_t i) {
    if (i < 0 || i >= c->n) {
        PyErr_SetString(PyExc_IndexError, "SparseColumn index out of range");
        return NULL;
    }
    Py_ssize_t pos;
    return Py_NewRef(sparse_find(c, i, &pos) ? c->val[pos] : c->dflt);
}

static int sparse_ass_item(SparseCol *c, Py_ssize_t i, PyObject *v) {
    if (i < 0 || i >= c->n) {
        PyErr_SetString(PyExc_IndexError, "SparseColumn assignment index out of range");
        return -1;
    }
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "SparseColumn cells cannot be deleted");
        return -1;
    }
    return sparse_put(c, i, v);
}

static PyObject *sparse_append(SparseCol *c, PyObject *v) {
    return sparse_push(c, Py_NewRef(v)) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *sparse_repr(SparseCol *c) {
    PyObject *items = PySequence_List((PyObject *)c);
    if (!items) return NULL;
    PyObject *r = PyUnicode_FromFormat("SparseColumn(%R, default=%R)", items, c->dflt);
    Py_DECREF(items);
    return r;
}

static PySequenceMethods sparse_seq = {
    .sq_length = (lenfunc)sparse_len,
    .sq_item = (ssizeargfunc)sparse_item,
    .sq_ass_item = (ssizeobjargproc)sparse_ass_item,
};

static PyMethodDef sparse_methods[] = {
    {"append", (PyCFunction)sparse_append, METH_O, "append(value)"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject SparseColType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xodiag._fastlane.SparseColumn",
    .tp_basicsize = sizeof(SparseCol),
    .tp_dealloc = (destructor)sparse_dealloc,
    .tp_repr = (reprfunc)sparse_repr,
    .tp_as_sequence = &sparse_seq,
    .tp_richcompare = (richcmpfunc)column_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)sparse_traverse,
    .tp_clear = (inquiry)sparse_clear,
    .tp_doc = "SparseColumn(default, capacity=0): a column whose cells nearly all hold default (the same object); "
              "only the others are stored; a mutable sequence",
    .tp_methods = sparse_methods,
    .tp_new = sparse_new,
};
