/* xodiag._fastlane: move(), reserve() and the module definition.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* move(out, values, order=None): out[i] = values[order[i]] (or values[i]), and values is left empty.
 * out is a 1-D object ndarray as long as values (np.empty(n, dtype=object), or a row of a C-ordered 2-D
 * object block); order, an int64 ndarray, must be a permutation of range(n). The references move from the
 * list to the array: no reference count changes per cell, and emptying the list costs nothing. */
static PyObject *mod_move(PyObject *self, PyObject *args) {
    PyObject *out, *values, *order = Py_None;
    if (!PyArg_ParseTuple(args, "OO!|O", &out, &PyList_Type, &values, &order)) return NULL;
    Py_buffer ob, xb = {0};
    /* both buffers first: getting one may run Python code (__buffer__) that changes values */
    if (PyObject_GetBuffer(out, &ob, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return NULL;
    PyObject *result = NULL;
    unsigned char *seen = NULL;
    if (order != Py_None && PyObject_GetBuffer(order, &xb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) goto done;
    Py_ssize_t n = PyList_GET_SIZE(values); /* from here on no Python code runs until the items moved */
    if (!ob.format || strcmp(ob.format, "O") != 0 || ob.itemsize != (Py_ssize_t)sizeof(PyObject *) ||
        ob.len / ob.itemsize != n) {
        PyErr_SetString(PyExc_ValueError, "out must be an object array as long as values");
        goto done;
    }
    const int64_t *idx = NULL;
    if (order != Py_None) {
        if (!xb.format || xb.itemsize != 8 || xb.len / 8 != n || (strcmp(xb.format, "l") != 0 && strcmp(xb.format, "q") != 0)) {
            PyErr_SetString(PyExc_ValueError, "order must be an int64 array as long as values");
            goto done;
        }
        idx = (const int64_t *)xb.buf;
        seen = PyMem_Calloc((size_t)n + 1, 1); /* each item moves once: a repeated index would share it */
        if (!seen) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (idx[i] < 0 || idx[i] >= n || seen[idx[i]]) {
                PyErr_SetString(PyExc_ValueError, "order must be a permutation of range(len(values))");
                goto done;
            }
            seen[idx[i]] = 1;
        }
    }
    PyObject **src = ((PyListObject *)values)->ob_item;
    PyObject **dst = (PyObject **)ob.buf;
    PyObject **old = PyMem_Malloc((size_t)n * sizeof(PyObject *) + 1);
    if (!old) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        old[i] = dst[i];
        dst[i] = src[idx ? idx[i] : i];
    }
    Py_SET_SIZE(values, 0); /* its items now belong to out */
    for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(old[i]); /* last: a finaliser may run */
    PyMem_Free(old);
    result = Py_NewRef(out);
done:
    PyMem_Free(seen);
    PyBuffer_Release(&ob);
    if (xb.obj) PyBuffer_Release(&xb);
    return result;
}

/* split_lines(text): text.split("\n"), the pieces found with memchr instead of a loop per character.
 * Only for ASCII text, where every piece is ASCII too; other text goes to str.split itself (its pieces'
 * kinds depend on their own characters). */
static PyObject *mod_split_lines(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "split_lines takes a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) return PyObject_CallMethod(text, "split", "s", "\n");
    const char *s = (const char *)PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), pieces = 1;
    for (const char *p = s, *end = s + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) pieces++;
    PyObject *out = PyList_New(pieces);
    if (!out) return NULL;
    const char *p = s, *end = s + n;
    for (Py_ssize_t k = 0; k < pieces; k++) {
        const char *nl = k + 1 < pieces ? memchr(p, '\n', (size_t)(end - p)) : end;
        PyObject *piece = astr(p, nl - p);
        if (!piece) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k, piece);
        p = nl + 1;
    }
    return out;
}

/* a writable C-contiguous buffer of n items of one size and one of the given formats */
static int int_buffer(PyObject *obj, Py_buffer *b, Py_ssize_t n, Py_ssize_t size, const char *f1, const char *f2,
                      const char *what) {
    if (PyObject_GetBuffer(obj, b, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (!b->format || b->itemsize != size || b->len / size != n || (strcmp(b->format, f1) != 0 && strcmp(b->format, f2) != 0)) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_ValueError, "%s", what);
        return -1;
    }
    return 0;
}

/* ints(out, values, order=None, missing=None): out[i] = values[order[i]] (or values[i]) for a list of int;
 * out is an int64 array as long as values. With missing (a bool array as long), None is allowed: out
 * gets 0 and missing True there. The list is left as it is. */
static PyObject *mod_ints(PyObject *self, PyObject *args) {
    PyObject *out, *values, *order = Py_None, *missing = Py_None;
    if (!PyArg_ParseTuple(args, "OO!|OO", &out, &PyList_Type, &values, &order, &missing)) return NULL;
    PyObject *snap = PyList_GetSlice(values, 0, PyList_GET_SIZE(values)); /* buffers may run Python code */
    if (!snap) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(snap);
    Py_buffer ob = {0}, xb = {0}, mb = {0};
    PyObject *result = NULL;
    if (int_buffer(out, &ob, n, 8, "l", "q", "out must be an int64 array as long as values") < 0) goto done;
    if (order != Py_None &&
        int_buffer(order, &xb, n, 8, "l", "q", "order must be an int64 array as long as values") < 0) goto done;
    if (missing != Py_None && int_buffer(missing, &mb, n, 1, "?", "?", "missing must be a bool array as long as values") < 0)
        goto done;
    const int64_t *idx = xb.obj ? (const int64_t *)xb.buf : NULL;
    int64_t *dst = (int64_t *)ob.buf;
    char *miss = mb.obj ? (char *)mb.buf : NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t k = idx ? idx[i] : i;
        if (k < 0 || k >= n) {
            PyErr_SetString(PyExc_ValueError, "order holds an index out of range");
            goto done;
        }
        PyObject *v = PyList_GET_ITEM(snap, k);
        if (miss) miss[i] = v == Py_None;
        if (miss && v == Py_None) {
            dst[i] = 0;
            continue;
        }
        if (!PyLong_Check(v)) {
            PyErr_Format(PyExc_TypeError, "values[%zd] is %.80s, not int", (Py_ssize_t)k, Py_TYPE(v)->tp_name);
            goto done;
        }
        long long x = PyLong_AsLongLong(v);
        if (x == -1 && PyErr_Occurred()) goto done;
        dst[i] = (int64_t)x;
    }
    result = Py_NewRef(Py_None);
done:
    if (ob.obj) PyBuffer_Release(&ob);
    if (xb.obj) PyBuffer_Release(&xb);
    if (mb.obj) PyBuffer_Release(&mb);
    Py_DECREF(snap);
    return result;
}

/* reserve(list, n): room for n items in an empty list, so appends never reallocate and copy it */
static PyObject *mod_reserve(PyObject *self, PyObject *args) {
    PyObject *list;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "O!n", &PyList_Type, &list, &n)) return NULL;
    PyListObject *l = (PyListObject *)list;
    if (Py_SIZE(l) == 0 && n > l->allocated && n < PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(PyObject *)) {
        PyObject **items = PyMem_Realloc(l->ob_item, (size_t)n * sizeof(PyObject *));
        if (!items) return PyErr_NoMemory();
        l->ob_item = items;
        l->allocated = n;
    }
    Py_RETURN_NONE;
}

static PyMethodDef mod_methods[] = {
    {"reserve", mod_reserve, METH_VARARGS, "reserve(list, n): room for n items in an empty list"},
    {"iso_ns", mod_iso_ns, METH_VARARGS, "iso_ns(text, compact=False): epoch ns of an ISO time, or None"},
    {"jsonl", mod_jsonl, METH_VARARGS, "jsonl(columns, keys, end, other, time_column=-1): rows as JSON lines (UTF-8 bytes)"},
    {"ints", mod_ints, METH_VARARGS,
     "ints(out, values, order=None, missing=None): out[i] = values[order[i]] for a list of int (None -> missing)"},
    {"split_lines", mod_split_lines, METH_O, "split_lines(text): text.split('\\n'), faster on ASCII text"},
    {"move", mod_move, METH_VARARGS,
     "move(out, values, order=None): out[i] = values[order[i]], moving the references; values ends empty"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "xodiag._fastlane",
                                    "Compiled fast lane of xodiag's line framer.", -1, mod_methods};

PyMODINIT_FUNC PyInit__fastlane(void) {
    if (load_pcre2() < 0) return NULL;
    if (PyType_Ready(&LaneType) < 0 || PyType_Ready(&FactsType) < 0 || PyType_Ready(&MatcherType) < 0 ||
        PyType_Ready(&PreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Lane", (PyObject *)&LaneType) < 0 ||
        PyModule_AddObjectRef(m, "Facts", (PyObject *)&FactsType) < 0 ||
        PyModule_AddObjectRef(m, "Matcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
