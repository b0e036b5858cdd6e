/* xodiag._fastlane: jsonl(): event table rows as JSON lines, column by column.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own.
 *
 * The Python writer (xodiag/render/jsonl.py) is the reference; tests compare both. A cell is written
 * here when it is None, a str, a bool, an int that fits 64 bits, or a list of str; any other cell (a
 * frames list of dicts, a float, a str that is not valid UTF-8 such as a lone surrogate) is handed to
 * the Python callback `other`, which returns its JSON text. Strings are escaped as json.dumps does with
 * ensure_ascii=False: quote, backslash and control characters are escaped, other text is kept. */

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static int buf_grow(Buf *b, size_t more) {
    if (b->n + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + more) {
        if (cap > SIZE_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *p = PyMem_Realloc(b->p, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const char *s, size_t n) {
    if (buf_grow(b, n) < 0) return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

/* which bytes need an escape in a JSON string: control characters, quote and backslash */
static const unsigned char JSON_ESCAPE[256] = {[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1};

/* any byte below 0x20, '"' or '\\' among eight (exact as a yes/no answer) */
static inline int word_needs_escape(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), s = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((s - ones) & ~s)) & highs ? 1 : 0;
}

static int put_json_text(Buf *b, const char *s, size_t n) {
    if (buf_grow(b, n * 6 + 2) < 0) return -1; /* the worst case: every byte as \u00XX */
    char *d = b->p + b->n;
    *d++ = '"';
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!word_needs_escape(x)) {
                memcpy(d, &x, 8);
                d += 8;
                i += 8;
                continue;
            }
        }
        size_t stop = i + 8 < n ? i + 8 : n;
        for (; i < stop; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!JSON_ESCAPE[c]) {
                *d++ = (char)c;
                continue;
            }
            *d++ = '\\';
            switch (c) {
            case '"': *d++ = '"'; break;
            case '\\': *d++ = '\\'; break;
            case '\n': *d++ = 'n'; break;
            case '\r': *d++ = 'r'; break;
            case '\t': *d++ = 't'; break;
            case '\b': *d++ = 'b'; break;
            case '\f': *d++ = 'f'; break;
            default:
                *d++ = 'u';
                *d++ = '0';
                *d++ = '0';
                *d++ = "0123456789abcdef"[c >> 4];
                *d++ = "0123456789abcdef"[c & 15];
            }
        }
    }
    *d++ = '"';
    b->n = (size_t)(d - b->p);
    return 0;
}

/* a signed 64-bit integer in decimal */
static int put_int(Buf *b, long long x) {
    char num[24], *e = num + sizeof num, *p = e;
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (x < 0) *--p = '-';
    return buf_put(b, p, (size_t)(e - p));
}

/* 1: written; 0: not a str this can write (the caller asks Python); -1: error */
static int put_json_str(Buf *b, PyObject *s) {
    Py_ssize_t n;
    const char *u;
    if (PyUnicode_IS_ASCII(s)) {
        u = (const char *)PyUnicode_DATA(s);
        n = PyUnicode_GET_LENGTH(s);
    } else {
        u = PyUnicode_AsUTF8AndSize(s, &n);
        if (!u) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
            PyErr_Clear(); /* a lone surrogate: Python escapes it */
            return 0;
        }
    }
    return put_json_text(b, u, (size_t)n) < 0 ? -1 : 1;
}

/* epoch nanoseconds (UTC) as "YYYY-MM-DDTHH:MM:SS.mmmZ", milliseconds floored (numpy's datetime64[ms]
 * cast); every int64 is a year between 1677 and 2262, so four digits always do */
static int put_iso_ms(Buf *b, int64_t ns) {
    int64_t ms = ns / 1000000 - (ns % 1000000 < 0);
    int64_t secs = ms / 1000 - (ms % 1000 < 0), msr = ms - secs * 1000;
    int64_t days = secs / 86400 - (secs % 86400 < 0), sod = secs - days * 86400;
    /* civil_from_days (proleptic Gregorian), the inverse of days_from_civil in isotime.c */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    int64_t parts[] = {y, m, d, sod / 3600, sod / 60 % 60, sod % 60, msr};
    static const int width[] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[] = "--T::.Z";
    char text[32], *p = text;
    *p++ = '"';
    for (int i = 0; i < 7; i++) {
        for (int k = width[i] - 1; k >= 0; k--) p[k] = (char)('0' + parts[i] % 10), parts[i] /= 10;
        p += width[i];
        *p++ = after[i];
    }
    *p++ = '"';
    return buf_put(b, text, (size_t)(p - text));
}

static int put_other(Buf *b, PyObject *other, PyObject *v) {
    PyObject *text = PyObject_CallOneArg(other, v);
    if (!text) return -1;
    Py_ssize_t n;
    const char *u = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    int rc = u ? buf_put(b, u, (size_t)n) : -1;
    if (!u && !PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "other() must return JSON text (str)");
    Py_DECREF(text);
    return rc;
}

static int put_cell(Buf *b, PyObject *other, PyObject *v) {
    if (v == Py_None) return buf_put(b, "null", 4);
    if (PyUnicode_CheckExact(v)) {
        int rc = put_json_str(b, v);
        return rc != 0 ? (rc < 0 ? -1 : 0) : put_other(b, other, v);
    }
    if (PyBool_Check(v)) return v == Py_True ? buf_put(b, "true", 4) : buf_put(b, "false", 5);
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred()) return -1;
        if (overflow) return put_other(b, other, v);
        return put_int(b, x);
    }
    if (PyList_CheckExact(v)) {
        Py_ssize_t n = PyList_GET_SIZE(v);
        for (Py_ssize_t i = 0; i < n; i++)
            if (!PyUnicode_CheckExact(PyList_GET_ITEM(v, i))) return put_other(b, other, v);
        size_t mark = b->n;
        if (buf_put(b, "[", 1) < 0) return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i && buf_put(b, ",", 1) < 0) return -1;
            int rc = put_json_str(b, PyList_GET_ITEM(v, i));
            if (rc < 0) return -1;
            if (rc == 0) { /* an item Python must escape: the whole list goes to Python */
                b->n = mark;
                return put_other(b, other, v);
            }
        }
        return buf_put(b, "]", 1);
    }
    return put_other(b, other, v);
}

/* a time cell: epoch ns, or NaT (the int64 minimum) / None as null; anything else as any cell */
static int put_time(Buf *b, PyObject *other, PyObject *v) {
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long ns = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (ns == -1 && PyErr_Occurred()) return -1;
        if (!overflow) return ns == INT64_MIN ? buf_put(b, "null", 4) : put_iso_ms(b, (int64_t)ns);
    }
    return put_cell(b, other, v);
}

/* jsonl(columns, keys, end, other, time_column=-1) -> bytes (UTF-8)
 * columns: sequences of cells, all as long as the first; keys: one str per column, written before its
 * cell ('{"time":', ',"line":', ...); end: written after each row ('}\n'); other(cell) -> JSON text.
 * The cells of columns[time_column] are epoch nanoseconds (int; the int64 minimum, numpy's NaT, is null) */
static PyObject *mod_jsonl(PyObject *self, PyObject *args) {
    PyObject *columns, *keys, *end, *other;
    Py_ssize_t time_column = -1;
    if (!PyArg_ParseTuple(args, "O!O!UO|n", &PyList_Type, &columns, &PyList_Type, &keys, &end, &other,
                          &time_column))
        return NULL;
    /* snapshots: reading a column (its __iter__) may run Python code that changes either list */
    PyObject *cols_t = PyList_AsTuple(columns), *keys_t = cols_t ? PyList_AsTuple(keys) : NULL;
    if (!keys_t) {
        Py_XDECREF(cols_t);
        return NULL;
    }
    Py_ssize_t k = PyTuple_GET_SIZE(cols_t);
    PyObject *result = NULL;
    PyObject **seqs = NULL;
    const char **kt = NULL;
    Py_ssize_t *kn = NULL;
    Buf b = {0};
    if (PyTuple_GET_SIZE(keys_t) != k || !PyCallable_Check(other)) {
        PyErr_SetString(PyExc_ValueError, "one key per column, and a callable other");
        goto done;
    }
    seqs = PyMem_Calloc((size_t)k + 1, sizeof(PyObject *));
    kt = PyMem_Calloc((size_t)k + 1, sizeof(char *)); /* into the keys, which keys_t holds */
    kn = PyMem_Calloc((size_t)k + 1, sizeof(Py_ssize_t));
    if (!seqs || !kt || !kn) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t rows = -1;
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *key = PyTuple_GET_ITEM(keys_t, j);
        if (!PyUnicode_Check(key) || !(kt[j] = PyUnicode_AsUTF8AndSize(key, &kn[j]))) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "keys must be str");
            goto done;
        }
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        seqs[j] = PySequence_Fast(PyTuple_GET_ITEM(cols_t, j), "columns must be sequences");
        if (!seqs[j]) goto done;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seqs[j]);
        if (rows < 0) rows = n;
        if (n != rows) {
            PyErr_SetString(PyExc_ValueError, "columns must have the same length");
            goto done;
        }
    }
    Py_ssize_t en; /* end is held by the call's arguments */
    const char *et = PyUnicode_AsUTF8AndSize(end, &en);
    if (!et) goto done;
    for (Py_ssize_t i = 0; i < (rows < 0 ? 0 : rows); i++) {
        for (Py_ssize_t j = 0; j < k; j++) {
            /* the sequence may change under a callback: read it live, and hold the cell */
            if (i >= PySequence_Fast_GET_SIZE(seqs[j])) {
                PyErr_SetString(PyExc_RuntimeError, "a column changed size while being written");
                goto done;
            }
            PyObject *v = Py_NewRef(PySequence_Fast_GET_ITEM(seqs[j], i));
            int rc = buf_put(&b, kt[j], (size_t)kn[j]) < 0 ? -1 : j == time_column ? put_time(&b, other, v)
                                                                                 : put_cell(&b, other, v);
            Py_DECREF(v);
            if (rc < 0) goto done;
        }
        if (buf_put(&b, et, (size_t)en) < 0) goto done;
    }
    result = PyBytes_FromStringAndSize(b.p ? b.p : "", (Py_ssize_t)b.n);
done:
    for (Py_ssize_t j = 0; seqs && j < k; j++) Py_XDECREF(seqs[j]);
    PyMem_Free(seqs);
    Py_DECREF(cols_t);
    Py_DECREF(keys_t);
    PyMem_Free(kt);
    PyMem_Free(kn);
    PyMem_Free(b.p);
    return result;
}
