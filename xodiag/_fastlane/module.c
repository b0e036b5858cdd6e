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
