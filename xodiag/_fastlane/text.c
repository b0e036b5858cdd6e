/* xodiag._fastlane: string helpers, the plain-text test and the intern cache.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* ---- small helpers ---------------------------------------------------------------------------- */
static PyObject *astr(const char *s, Py_ssize_t n) {
    PyObject *o = PyUnicode_New(n, 127);
    if (o) memcpy(PyUnicode_DATA(o), s, (size_t)n);
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

static uint64_t shash(const char *s, size_t n) { /* 8 bytes per step; only this table sees it */
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
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
    uint64_t h = shash(s, (size_t)n);
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

/* shared strings for values that repeat across rows (ids, error names and codes): one str per distinct
 * value instead of one per row, looked up by its bytes before any object is made. Open addressing over
 * a table allocated on first use; when it holds SCACHE_MAX values it is emptied and starts again (rows
 * keep their own references). The stored str is what the row holds, after the mode's transform. */
#define SCACHE_BUCKETS 131072 /* a power of two, twice SCACHE_MAX */
#define SCACHE_MAX 65536
#define SCACHE_LONGEST 128 /* longer values are not cached */
enum { S_AS_IS, S_LOWER, S_REF }; /* S_REF: "OpaqueRef:" then the rest lower-cased */

typedef struct {
    uint64_t h;
    PyObject *o;
} SEntry;

typedef struct {
    SEntry *e;
    size_t used;
} SCache;


static void s_transform(char *d, const char *s, size_t n, int mode) {
    size_t i = 0;
    if (mode == S_AS_IS) {
        memcpy(d, s, n);
        return;
    }
    if (mode == S_REF) {
        memcpy(d, "OpaqueRef:", n < 10 ? n : 10);
        i = n < 10 ? n : 10;
    }
    for (; i + 8 <= n; i += 8) { /* 8 bytes a step: +0x20 on each byte in 'A'..'Z' (ASCII text) */
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t low7 = w & 0x7f7f7f7f7f7f7f7full;
        uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3full; /* high bit: byte >= 'A' */
        uint64_t gt_z = low7 + 0x2525252525252525ull; /* high bit: byte > 'Z' */
        w |= ((ge_a & ~gt_z & ~w) & 0x8080808080808080ull) >> 2;
        memcpy(d + i, &w, 8);
    }
    for (; i < n; i++) d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
}

static void scache_clear(SCache *c) {
    if (!c->e) return;
    for (size_t b = 0; b < SCACHE_BUCKETS; b++) Py_CLEAR(c->e[b].o);
    c->used = 0;
}

static void scache_free(SCache *c) {
    scache_clear(c);
    PyMem_Free(c->e);
    c->e = NULL;
}

/* s[:n] after the mode's transform, as a str: the shared one when cached (a new reference) */
static PyObject *scache_str(SCache *c, const char *s, size_t n, int mode) {
    char buf[SCACHE_LONGEST];
    if (n > SCACHE_LONGEST) {
        PyObject *o = PyUnicode_New((Py_ssize_t)n, 127);
        if (o) s_transform((char *)PyUnicode_DATA(o), s, n, mode);
        return o;
    }
    if (!c->e && !(c->e = PyMem_Calloc(SCACHE_BUCKETS, sizeof(SEntry)))) return PyErr_NoMemory();
    s_transform(buf, s, n, mode);
    uint64_t h = shash(buf, n);
    size_t b = (size_t)h & (SCACHE_BUCKETS - 1);
    for (SEntry *e; (e = &c->e[b])->o; b = (b + 1) & (SCACHE_BUCKETS - 1))
        if (e->h == h && (size_t)PyUnicode_GET_LENGTH(e->o) == n && memcmp(PyUnicode_DATA(e->o), buf, n) == 0)
            return Py_NewRef(e->o);
    if (c->used >= SCACHE_MAX) {
        scache_clear(c);
        b = (size_t)h & (SCACHE_BUCKETS - 1);
    }
    PyObject *o = astr(buf, (Py_ssize_t)n);
    if (!o) return NULL;
    c->e[b] = (SEntry){h, Py_NewRef(o)};
    c->used++;
    return o;
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
