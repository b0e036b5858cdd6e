/* xodiag._fastlane: Matcher: one regex searched over many strings (textsearch.contains).
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* ---- Matcher: one regex searched over many strings (pandas .str.contains, compiled) ------------ */
typedef struct {
    PyObject_HEAD
    Rx rx;
} Matcher;

static int matcher_init(Matcher *self, PyObject *args, PyObject *kw) {
    PyObject *spec;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &spec)) return -1;
    return rx_compile(&self->rx, spec, 0);
}

static void matcher_dealloc(Matcher *self) {
    rx_free(&self->rx);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* mask(values) -> bytes: per value 1 (the regex is found in it), 0 (not found), 2 (not plain ASCII text:
 * the caller decides with Python's re); values that are not str count as "" */
static PyObject *matcher_mask(Matcher *self, PyObject *values) {
    if (!self->rx.code) {
        PyErr_SetString(PyExc_RuntimeError, "Matcher is not initialised");
        return NULL;
    }
    /* a 1-D object ndarray is read in place through its buffer (no list of its items per search); any
     * other sequence through PySequence_Fast */
    Py_buffer view = {0};
    PyObject *seq = NULL, **items;
    Py_ssize_t n;
    if (PyObject_CheckBuffer(values) &&
        PyObject_GetBuffer(values, &view, PyBUF_FORMAT | PyBUF_ND | PyBUF_C_CONTIGUOUS) == 0 && view.format &&
        strcmp(view.format, "O") == 0 && view.itemsize == (Py_ssize_t)sizeof(PyObject *) && view.ndim == 1) {
        items = (PyObject **)view.buf;
        n = view.len / view.itemsize;
    } else {
        if (view.obj) PyBuffer_Release(&view);
        PyErr_Clear(); /* not an object buffer: read it as a sequence */
        if (!(seq = PySequence_Fast(values, "values must be a sequence"))) return NULL;
        items = PySequence_Fast_ITEMS(seq);
        n = PySequence_Fast_GET_SIZE(seq);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) goto fail;
    char *o = PyBytes_AS_STRING(out);
    int empty = -1; /* the answer for "" (computed once) */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = items[i];
        const char *t;
        size_t len;
        if (!PyUnicode_Check(v)) {
            if (empty < 0) {
                empty = rx_exec(&self->rx, "", 0, 0);
                if (empty < 0) goto fail;
                empty = empty > 0;
            }
            o[i] = (char)empty;
            continue;
        }
        if (!(t = plain_text(v, &len))) {
            o[i] = 2;
            continue;
        }
        int rc = rx_exec(&self->rx, t, len, 0);
        if (rc < 0) goto fail;
        o[i] = rc > 0;
    }
    Py_XDECREF(seq);
    if (view.obj) PyBuffer_Release(&view);
    return out;
fail:
    Py_XDECREF(seq);
    if (view.obj) PyBuffer_Release(&view);
    Py_XDECREF(out);
    return NULL;
}

static PyMethodDef matcher_methods[] = {
    {"mask", (PyCFunction)matcher_mask, METH_O,
     "mask(values) -> bytes: 1 found, 0 not found, 2 not plain ASCII (decide in Python); non-str counts as empty"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xodiag._fastlane.Matcher",
    .tp_basicsize = sizeof(Matcher),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Matcher((pattern, re_flags)): a Python regex searched with PCRE2 over plain ASCII strings.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)matcher_init,
    .tp_dealloc = (destructor)matcher_dealloc,
    .tp_methods = matcher_methods,
};
