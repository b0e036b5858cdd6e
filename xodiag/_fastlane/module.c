/* xodiag._fastlane: move_rows(), mask_ids(), split_lines(), ints(), reserve(), keep_freed_memory() and the module
 * definition.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* order (a buffer already got) checked as an int64 permutation of range(n): its items, or NULL with an
 * error set. Each item must move once: a repeated index would share it. */
static const int64_t *order_items(Py_buffer *xb, Py_ssize_t n) {
    if (!xb->format || xb->itemsize != 8 || xb->len / 8 != n || (strcmp(xb->format, "l") != 0 && strcmp(xb->format, "q") != 0)) {
        PyErr_SetString(PyExc_ValueError, "order must be an int64 array as long as values");
        return NULL;
    }
    const int64_t *idx = (const int64_t *)xb->buf;
    unsigned char *seen = PyMem_Calloc((size_t)n + 1, 1);
    if (!seen) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= n || seen[idx[i]]) {
            PyMem_Free(seen);
            PyErr_SetString(PyExc_ValueError, "order must be a permutation of range(len(values))");
            return NULL;
        }
        seen[idx[i]] = 1;
    }
    PyMem_Free(seen);
    return idx;
}

/* The n cells of a block's row before they are written: NULL when they are all None (a fresh np.empty
 * block), their None references then given back by release_cells at once; else a copy (*old) to release
 * after the move (a finaliser may run). 0, or -1 (no memory). */
static int keep_cells(PyObject **dst, Py_ssize_t n, PyObject ***old) {
    int all_none = 1;
    for (Py_ssize_t i = 0; i < n; i++) all_none &= dst[i] == Py_None;
    *old = NULL;
    if (all_none) return 0;
    if (!(*old = PyMem_Malloc((size_t)n * sizeof(PyObject *) + 1))) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(*old, dst, (size_t)n * sizeof(PyObject *));
    return 0;
}

static void release_cells(PyObject **old, Py_ssize_t n) {
    if (old) {
        for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(old[i]);
        PyMem_Free(old);
    } else {
#if PY_VERSION_HEX < 0x030C0000
        Py_SET_REFCNT(Py_None, Py_REFCNT(Py_None) - n); /* n Py_DECREF(None): None is never freed */
#endif /* (from 3.12 None is immortal: its count does not move) */
    }
}

/* dst[i] = values[idx[i]] (or values[i]) for the n cells of a list, the list left empty. 0, or -1 with
 * nothing moved (no memory). */
static int move_cells(PyObject **dst, PyObject *values, const int64_t *idx, Py_ssize_t n) {
    PyObject **src = ((PyListObject *)values)->ob_item;
    PyObject **old;
    if (keep_cells(dst, n, &old) < 0) return -1;
    if (idx)
        for (Py_ssize_t i = 0; i < n; i++) dst[i] = src[idx[i]];
    else
        memcpy(dst, src, (size_t)n * sizeof(PyObject *));
    Py_SET_SIZE(values, 0); /* its items now belong to the array */
    release_cells(old, n);
    return 0;
}

/* the same for a SparseColumn: every cell gets the default, then each stored cell goes to its place
 * (inv[row], the inverse of the order, or row itself); the column is left empty */
static int move_sparse(PyObject **dst, SparseCol *c, const int64_t *inv, Py_ssize_t n) {
    PyObject **old;
    if (keep_cells(dst, n, &old) < 0) return -1;
    PyObject *d = c->dflt;
    for (Py_ssize_t i = 0; i < n; i++) dst[i] = d;
    Py_SET_REFCNT(d, Py_REFCNT(d) + (n - c->k)); /* the cells left at the default (immortal: no change) */
    for (Py_ssize_t s = 0; s < c->k; s++) dst[inv ? inv[c->at[s]] : c->at[s]] = c->val[s]; /* moved */
    c->k = c->n = 0;
    release_cells(old, n);
    return 0;
}

/* move_rows(block, columns, order=None): block[j, i] = columns[j][order[i]] (or columns[j][i]) for each row
 * j of a C-ordered 2-D object ndarray (np.empty((k, n), dtype=object)) whose columns[j] is a list or a
 * SparseColumn (None: the row is left as it is), and each column is left empty. order, an int64 ndarray, must be a permutation
 * of range(n); it is checked once for all rows. The references move from the lists to the array: no
 * reference count changes per cell, and emptying a list costs nothing. Everything is
 * checked before anything moves: the lists must be as long as the block's rows and distinct (only running
 * out of memory can stop it half way, some rows moved). */
static PyObject *mod_move_rows(PyObject *self, PyObject *args) {
    PyObject *block, *columns, *order = Py_None;
    if (!PyArg_ParseTuple(args, "OO!|O", &block, &PyList_Type, &columns, &order)) return NULL;
    Py_buffer ob, xb = {0};
    if (PyObject_GetBuffer(block, &ob, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_ND | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    PyObject *result = NULL;
    int64_t *inv = NULL;
    int any_sparse = 0;
    if (order != Py_None && PyObject_GetBuffer(order, &xb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) goto done;
    if (!ob.format || strcmp(ob.format, "O") != 0 || ob.itemsize != (Py_ssize_t)sizeof(PyObject *) || ob.ndim != 2 ||
        ob.shape[0] != PyList_GET_SIZE(columns)) {
        PyErr_SetString(PyExc_ValueError, "block must be a 2-D object array with a row per column");
        goto done;
    }
    Py_ssize_t k = ob.shape[0], n = ob.shape[1];
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *col = PyList_GET_ITEM(columns, j);
        if (col == Py_None) continue;
        int sparse = PyObject_TypeCheck(col, &SparseColType);
        any_sparse |= sparse;
        if (sparse ? ((SparseCol *)col)->n != n : !PyList_Check(col) || PyList_GET_SIZE(col) != n) {
            PyErr_SetString(PyExc_ValueError,
                            "each column must be None, a list or a SparseColumn as long as the block's rows");
            goto done;
        }
        for (Py_ssize_t m = 0; m < j; m++)
            if (PyList_GET_ITEM(columns, m) == col) {
                PyErr_SetString(PyExc_ValueError, "a list is given for two rows");
                goto done;
            }
    }
    const int64_t *idx = NULL;
    if (order != Py_None && !(idx = order_items(&xb, n))) goto done;
    if (idx && any_sparse) { /* where each row goes */
        if (!(inv = PyMem_Malloc((size_t)n * sizeof *inv + 1))) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) inv[idx[i]] = i;
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *col = PyList_GET_ITEM(columns, j);
        PyObject **dst = (PyObject **)ob.buf + j * n;
        if (col == Py_None) continue;
        if ((PyObject_TypeCheck(col, &SparseColType) ? move_sparse(dst, (SparseCol *)col, inv, n)
                                                      : move_cells(dst, col, idx, n)) < 0)
            goto done;
    }
    result = Py_NewRef(block);
done:
    PyMem_Free(inv);
    PyBuffer_Release(&ob);
    if (xb.obj) PyBuffer_Release(&xb);
    return result;
}

/* mask_ids(text): parse.inspect.mask in C for ASCII text (None otherwise): each UUID (the leftmost
 * first, not overlapping, as re.sub finds them) becomes "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", then each
 * digit 1-9 becomes 0. */
static int hex_run(const char *s, int n) {
    for (int i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
    }
    return 1;
}

static int is_uuid(const char *s) {
    return s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex_run(s, 8) && hex_run(s + 9, 4) &&
           hex_run(s + 14, 4) && hex_run(s + 19, 4) && hex_run(s + 24, 12);
}

static PyObject *mod_mask_ids(PyObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "mask_ids takes a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    const char *s = (const char *)PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyUnicode_New(n, 127);
    if (!out) return NULL;
    char *d = (char *)PyUnicode_DATA(out);
    memcpy(d, s, (size_t)n);
    Py_ssize_t cur = 0; /* no match may start before cur */
    while (n - cur >= 36) {
        const char *dash = memchr(s + cur + 8, '-', (size_t)(n - cur - 8));
        if (!dash) break;
        Py_ssize_t i = dash - s - 8; /* the only start whose first '-' is this one */
        if (i + 36 <= n && is_uuid(s + i)) {
            memcpy(d + i, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", 36);
            cur = i + 36;
        } else {
            cur = i + 1;
        }
    }
    for (Py_ssize_t k = 0; k < n; k++)
        if (d[k] >= '1' && d[k] <= '9') d[k] = '0';
    return out;
}

/* a + b as an ASCII str (both ASCII) */
static PyObject *astr2(const char *a, Py_ssize_t an, const char *b, Py_ssize_t bn) {
    PyObject *o = PyUnicode_New(an + bn, 127);
    if (o) {
        memcpy(PyUnicode_DATA(o), a, (size_t)an);
        memcpy((char *)PyUnicode_DATA(o) + an, b, (size_t)bn);
    }
    return o;
}

/* split_lines(text, carry): the lines of carry + text as a tuple, and the text after its last newline
 * (the next carry): ((carry + text).split("\n")[:-1], (carry + text).split("\n")[-1]). The pieces are
 * found with memchr. Only for ASCII text and carry, where every piece is ASCII too; otherwise None (the
 * caller splits with str.split, whose pieces' kinds depend on their own characters). */
static PyObject *mod_split_lines(PyObject *self, PyObject *args) {
    PyObject *text, *carry;
    if (!PyArg_ParseTuple(args, "UU", &text, &carry)) return NULL;
    if (!PyUnicode_IS_ASCII(text) || !PyUnicode_IS_ASCII(carry)) Py_RETURN_NONE;
    const char *s = (const char *)PyUnicode_DATA(text), *end = s + PyUnicode_GET_LENGTH(text);
    const char *c = (const char *)PyUnicode_DATA(carry);
    Py_ssize_t cn = PyUnicode_GET_LENGTH(carry), lines = 0, cap = 8192;
    const char **nls = PyMem_Malloc((size_t)cap * sizeof *nls); /* each newline, found in one pass */
    for (const char *p = s; nls && (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
        if (lines == cap) {
            const char **grown = PyMem_Realloc(nls, (size_t)(2 * cap) * sizeof *nls);
            if (!grown) PyMem_Free(nls);
            nls = grown;
            cap *= 2;
        }
        if (nls) nls[lines++] = p;
    }
    if (!nls) return PyErr_NoMemory();
    PyObject *out = PyTuple_New(lines);
    if (!out) {
        PyMem_Free(nls);
        return NULL;
    }
    const char *p = s;
    for (Py_ssize_t k = 0; k < lines; k++) {
        PyObject *piece = astr2(k == 0 ? c : "", k == 0 ? cn : 0, p, nls[k] - p); /* the carry's line goes on */
        if (!piece) {
            PyMem_Free(nls);
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, k, piece);
        p = nls[k] + 1;
    }
    PyMem_Free(nls);
    PyObject *rest = astr2(lines ? "" : c, lines ? 0 : cn, p, end - p); /* no newline: the carry grows */
    if (!rest) {
        Py_DECREF(out);
        return NULL;
    }
    return Py_BuildValue("(NN)", out, rest);
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

/* ints(out, values, order=None, missing=None): out[i] = values[order[i]] (or values[i]) for a list or an
 * IntColumn of int; out is an int64 array as long as values. With missing (a bool array as long), None is
 * allowed: out gets 0 and missing True there. values is left as it is. */
static PyObject *mod_ints(PyObject *self, PyObject *args) {
    PyObject *out, *values, *order = Py_None, *missing = Py_None;
    if (!PyArg_ParseTuple(args, "OO|OO", &out, &values, &order, &missing)) return NULL;
    int col = PyObject_TypeCheck(values, &IntColType);
    if (!col && !PyList_Check(values)) {
        PyErr_Format(PyExc_TypeError, "values must be a list or an IntColumn, not %.80s", Py_TYPE(values)->tp_name);
        return NULL;
    }
    /* a list is copied first (buffers may run Python code); a column is read after the buffers are held */
    PyObject *snap = col ? Py_NewRef(values) : PyList_GetSlice(values, 0, PyList_GET_SIZE(values));
    if (!snap) return NULL;
    IntCol *c = col ? (IntCol *)snap : NULL;
    Py_ssize_t n = col ? c->n : PyList_GET_SIZE(snap);
    Py_buffer ob = {0}, xb = {0}, mb = {0};
    PyObject *result = NULL;
    if (int_buffer(out, &ob, n, 8, "l", "q", "out must be an int64 array as long as values") < 0) goto done;
    if (order != Py_None &&
        int_buffer(order, &xb, n, 8, "l", "q", "order must be an int64 array as long as values") < 0) goto done;
    if (missing != Py_None && int_buffer(missing, &mb, n, 1, "?", "?", "missing must be a bool array as long as values") < 0)
        goto done;
    if (col && c->n != n) {
        PyErr_SetString(PyExc_RuntimeError, "values changed size");
        goto done;
    }
    const int64_t *idx = xb.obj ? (const int64_t *)xb.buf : NULL;
    int64_t *dst = (int64_t *)ob.buf;
    char *miss = mb.obj ? (char *)mb.buf : NULL;
    if (col && !c->obj && !idx) { /* numbers only, in order */
        if (n) memcpy(dst, c->v, (size_t)n * sizeof *dst);
        if (miss && n) memset(miss, 0, (size_t)n);
        result = Py_NewRef(Py_None);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t k = idx ? idx[i] : i;
        if (k < 0 || k >= n) {
            PyErr_SetString(PyExc_ValueError, "order holds an index out of range");
            goto done;
        }
        PyObject *v = col ? (c->obj ? c->obj[k] : NULL) : PyList_GET_ITEM(snap, k);
        if (!v) { /* a column's number */
            if (miss) miss[i] = 0;
            dst[i] = c->v[k];
            continue;
        }
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

/* keep_freed_memory(): glibc's malloc keeps freed memory for reuse instead of handing it back to the
 * system at once. By default each block of 128 KiB or more is mmapped and unmapped on its own (only after
 * a first free does the threshold move up), and the heap top is trimmed once 128 KiB are free; the parse
 * frees a chunk's blocks (2 MiB of object cells, 1 MiB read buffers) a hundred times per million lines,
 * so the next chunk page-faults the same memory in again. Blocks under 32 MiB now come from the heap, and
 * it is trimmed only past 256 MiB free. For the xodiag process (console.py), not for library callers.
 * True when glibc took both settings; False elsewhere (another libc: nothing changes). */
static PyObject *mod_keep_freed_memory(PyObject *self, PyObject *noargs) {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    int ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
    ok = mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1 && ok;
    return PyBool_FromLong(ok);
#else
    Py_RETURN_FALSE;
#endif
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
    {"keep_freed_memory", mod_keep_freed_memory, METH_NOARGS,
     "keep_freed_memory(): glibc malloc keeps freed blocks under 32 MiB for reuse (True if it took the settings)"},
    {"iso_ns", mod_iso_ns, METH_VARARGS, "iso_ns(text, compact=False): epoch ns of an ISO time, or None"},
    {"jsonl", mod_jsonl, METH_VARARGS, "jsonl(columns, keys, end, other, time_column=-1): rows as JSON lines (UTF-8 bytes)"},
    {"ints", mod_ints, METH_VARARGS,
     "ints(out, values, order=None, missing=None): out[i] = values[order[i]] for a list or IntColumn of int "
     "(None -> missing)"},
    {"mask_ids", mod_mask_ids, METH_O, "mask_ids(text): parse.inspect.mask for ASCII text, else None"},
    {"split_lines", mod_split_lines, METH_VARARGS,
     "split_lines(text, carry) -> (lines, next carry) for ASCII text and carry, else None"},
    {"move_rows", mod_move_rows, METH_VARARGS,
     "move_rows(block, columns, order=None): block[j, i] = columns[j][order[i]], moving the references; the "
     "lists and SparseColumns end empty (None: row j is left)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "xodiag._fastlane",
                                    "Compiled fast lane of xodiag's line framer.", -1, mod_methods};

PyMODINIT_FUNC PyInit__fastlane(void) {
    if (load_pcre2() < 0) return NULL;
    if (PyType_Ready(&LaneType) < 0 || PyType_Ready(&FactsType) < 0 || PyType_Ready(&MatcherType) < 0 ||
        PyType_Ready(&PreType) < 0 || PyType_Ready(&IntColType) < 0 ||
        PyType_Ready(&SparseColType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Lane", (PyObject *)&LaneType) < 0 ||
        PyModule_AddObjectRef(m, "Facts", (PyObject *)&FactsType) < 0 ||
        PyModule_AddObjectRef(m, "Matcher", (PyObject *)&MatcherType) < 0 ||
        PyModule_AddObjectRef(m, "IntColumn", (PyObject *)&IntColType) < 0 ||
        PyModule_AddObjectRef(m, "SparseColumn", (PyObject *)&SparseColType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
