/* xodiag._fastlane: string helpers, the plain-text test and the intern cache.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* ---- small helpers ---------------------------------------------------------------------------- */
static PyObject *astr(const char *s, Py_ssize_t n) {
    PyObject *o = PyUnicode_New(n, 127);
    if (o) memcpy(PyUnicode_DATA(o), s, (size_t)n);
    return o;
}

static PyObject *astr_lower(const char *s, Py_ssize_t n) {
    PyObject *o = PyUnicode_New(n, 127);
    if (!o) return NULL;
    char *d = (char *)PyUnicode_DATA(o);
    for (Py_ssize_t i = 0; i < n; i++) d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    return o;
}

/* memmem for the short needles used here: memchr on the first byte, then compare (glibc's memmem has a
 * setup cost per call that dominates on ~100-byte lines) */
static inline const char *find(const char *t, size_t n, const char *needle, size_t len) {
    if (len == 0) return t;
    if (len > n) return NULL;
    const char *end = t + n - len + 1;
    for (const char *c = t; c < end; c++) {
        c = memchr(c, needle[0], (size_t)(end - c));
        if (!c) return NULL;
        if (memcmp(c + 1, needle + 1, len - 1) == 0) return c;
    }
    return NULL;
}


/* any control character other than tab (and newline, when newline_ok) in plain ASCII text (every byte
 * < 0x80): eight bytes at a time; a word with a byte below 0x20 is looked at byte by byte */
static inline int control_in(const char *s, size_t n, int newline_ok) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if ((x - ones * 0x20) & ~x & highs)
            for (size_t k = i; k < i + 8; k++)
                if ((unsigned char)s[k] < 0x20 && s[k] != '\t' && !(newline_ok && s[k] == '\n')) return 1;
    }
    for (; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && !(newline_ok && s[i] == '\n')) return 1;
    return 0;
}

static int has_control(const char *s, size_t n) { return control_in(s, n, 0); }

/* opening minus closing brackets ({ [ minus } ]): a table, no branch per byte */
static signed char BRACKET_DELTA[256] = {['{'] = 1, ['['] = 1, ['}'] = -1, [']'] = -1};

static long brackets(const char *s, size_t n) {
    long d = 0;
    for (size_t i = 0; i < n; i++) d += BRACKET_DELTA[(unsigned char)s[i]];
    return d;
}

/* interned strings for the values that repeat on every line (hosts, idents, pids, namespaces):
 * an open-addressing hash table; when it fills up, new values are left to Python until the next run */
#define ICACHE 512 /* entries in use at most */
#define IBUCKETS 1024
typedef struct {
    char *s;
    Py_ssize_t n;
    uint64_t h;
    PyObject *o;
} IEntry;

typedef struct {
    IEntry e[IBUCKETS];
    int used;
} ICache;

static PyObject *icache_get(ICache *c, const char *s, Py_ssize_t n) { /* borrowed */
    uint64_t h = 1469598103934665603ull;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    size_t b = (size_t)(h & (IBUCKETS - 1));
    while (c->e[b].s) {
        if (c->e[b].h == h && c->e[b].n == n && memcmp(c->e[b].s, s, (size_t)n) == 0) return c->e[b].o;
        b = (b + 1) & (IBUCKETS - 1);
    }
    if (c->used >= ICACHE) return NULL; /* full, no error: the caller leaves the line to Python */
    PyObject *o = astr(s, n);
    if (!o) return NULL;
    PyUnicode_InternInPlace(&o);
    char *copy = PyMem_Malloc((size_t)n + 1);
    if (!copy) {
        Py_DECREF(o);
        return PyErr_NoMemory();
    }
    memcpy(copy, s, (size_t)n);
    c->e[b] = (IEntry){copy, n, h, o};
    c->used++;
    return o;
}

static void icache_clear(ICache *c) {
    for (int i = 0; i < IBUCKETS; i++) {
        if (!c->e[i].s) continue;
        PyMem_Free(c->e[i].s);
        Py_DECREF(c->e[i].o);
        c->e[i].s = NULL;
    }
    c->used = 0;
}

/* text the regexes may run on: ASCII, no control characters but tab and newline; else NULL */
static const char *plain_text(PyObject *text, size_t *n) {
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) return NULL;
    const char *t = (const char *)PyUnicode_DATA(text);
    *n = (size_t)PyUnicode_GET_LENGTH(text);
    return control_in(t, *n, 1) ? NULL : t;
}

static void strip_ws(const char *t, size_t *s, size_t *e) {
    while (*s < *e && (t[*s] == ' ' || t[*s] == '\t')) (*s)++;
    while (*e > *s && (t[*e - 1] == ' ' || t[*e - 1] == '\t')) (*e)--;
}
