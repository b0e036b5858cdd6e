/* xodiag._fastlane: PCRE2 loaded with dlopen, and the Rx regex wrapper.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* ---- PCRE2, loaded at import ------------------------------------------------------------------ */
typedef struct pcre2_code pcre2_code;
typedef struct pcre2_md pcre2_md;
#define X_CASELESS 0x00000008u
#define X_DOTALL 0x00000020u
#define X_MULTILINE 0x00000400u
#define X_ANCHORED 0x80000000u
#define X_JIT_COMPLETE 0x00000001u
#define X_NOMATCH (-1)
#define X_UNSET (~(size_t)0)

static pcre2_code *(*p_compile)(const uint8_t *, size_t, uint32_t, int *, size_t *, void *);
static int (*p_jit_compile)(pcre2_code *, uint32_t);
static pcre2_md *(*p_md_create)(const pcre2_code *, void *);
static int (*p_match)(const pcre2_code *, const uint8_t *, size_t, size_t, uint32_t, pcre2_md *, void *);
static int (*p_jit_match)(const pcre2_code *, const uint8_t *, size_t, size_t, uint32_t, pcre2_md *, void *);
static size_t *(*p_ovector)(pcre2_md *);
static uint32_t (*p_ovector_count)(pcre2_md *);
static int (*p_name_to_number)(const pcre2_code *, const uint8_t *);
static int (*p_errmsg)(int, uint8_t *, size_t);
static void (*p_code_free)(pcre2_code *);
static void (*p_md_free)(pcre2_md *);

static int load_pcre2(void) {
    const char *names[] = {"libpcre2-8.so.0", "libpcre2-8.so", "libpcre2-8.0.dylib", NULL};
    void *h = NULL;
    for (int i = 0; names[i] && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        PyErr_SetString(PyExc_ImportError, "libpcre2-8 not found");
        return -1;
    }
#define SYM(var, name)                                                              \
    if (!(*(void **)(&var) = dlsym(h, name))) {                                     \
        PyErr_SetString(PyExc_ImportError, "libpcre2-8 lacks " name);               \
        return -1;                                                                  \
    }
    SYM(p_compile, "pcre2_compile_8");
    SYM(p_jit_compile, "pcre2_jit_compile_8");
    SYM(p_md_create, "pcre2_match_data_create_from_pattern_8");
    SYM(p_match, "pcre2_match_8");
    SYM(p_jit_match, "pcre2_jit_match_8");
    SYM(p_ovector, "pcre2_get_ovector_pointer_8");
    SYM(p_ovector_count, "pcre2_get_ovector_count_8");
    SYM(p_name_to_number, "pcre2_substring_number_from_name_8");
    SYM(p_errmsg, "pcre2_get_error_message_8");
    SYM(p_code_free, "pcre2_code_free_8");
    SYM(p_md_free, "pcre2_match_data_free_8");
#undef SYM
    return 0;
}

typedef struct {
    pcre2_code *code;
    pcre2_md *md;
    size_t *ov;   /* where g_s/g_e read: the match data's ovector, or a copy saved by a prematch */
    size_t *ov0;  /* the match data's ovector */
    uint32_t npairs;
    int jit;
} Rx;

static void rx_free(Rx *rx) {
    if (rx->md) p_md_free(rx->md);
    if (rx->code) p_code_free(rx->code);
    rx->md = NULL;
    rx->code = NULL;
}

static int rx_compile(Rx *rx, PyObject *spec, int anchored) {
    /* spec: (pattern, python re flags) */
    const char *pat;
    Py_ssize_t plen;
    int flags;
    if (!PyArg_ParseTuple(spec, "s#i", &pat, &plen, &flags)) return -1;
    rx_free(rx);
    uint32_t opts = anchored ? X_ANCHORED : 0;
    if (flags & 2) opts |= X_CASELESS;   /* re.IGNORECASE */
    if (flags & 8) opts |= X_MULTILINE;  /* re.MULTILINE */
    if (flags & 16) opts |= X_DOTALL;    /* re.DOTALL */
    if (flags & ~(2 | 8 | 16 | 32)) {
        PyErr_Format(PyExc_ValueError, "unsupported re flags %d for %s", flags, pat);
        return -1;
    }
    int err;
    size_t erroff;
    rx->code = p_compile((const uint8_t *)pat, (size_t)plen, opts, &err, &erroff, NULL);
    if (!rx->code) {
        uint8_t buf[256];
        p_errmsg(err, buf, sizeof buf);
        PyErr_Format(PyExc_ValueError, "PCRE2 cannot compile %s at %zu: %s", pat, erroff, (char *)buf);
        return -1;
    }
    rx->jit = p_jit_compile(rx->code, X_JIT_COMPLETE) == 0;
    rx->md = p_md_create(rx->code, NULL);
    if (!rx->md) {
        PyErr_NoMemory();
        return -1;
    }
    rx->ov = rx->ov0 = p_ovector(rx->md);
    rx->npairs = p_ovector_count(rx->md);
    return 0;
}

static int rx_group(Rx *rx, const char *name) {
    int n = p_name_to_number(rx->code, (const uint8_t *)name);
    if (n < 0) PyErr_Format(PyExc_ValueError, "regex has no group %s", name);
    return n;
}

/* another Rx for the same compiled pattern, with match data of its own: for a second thread (a compiled
 * pattern may be shared between threads, match data may not). The clone does not own the code. */
static int rx_clone(Rx *dst, const Rx *src) {
    dst->code = src->code;
    dst->jit = src->jit;
    dst->md = p_md_create(src->code, NULL);
    dst->ov = dst->ov0 = dst->md ? p_ovector(dst->md) : NULL;
    dst->npairs = src->npairs;
    return dst->md ? 0 : -1;
}

static void rx_clone_free(Rx *rx) {
    if (rx->md) p_md_free(rx->md);
    rx->md = NULL;
    rx->code = NULL;
}

/* >0: matched (ovector valid); 0: no match; <0: PCRE2's error code. Needs no GIL. */
static inline int rx_run(Rx *rx, const char *s, size_t len, size_t start) {
    rx->ov = rx->ov0;
    int rc = rx->jit ? p_jit_match(rx->code, (const uint8_t *)s, len, start, 0, rx->md, NULL)
                     : p_match(rx->code, (const uint8_t *)s, len, start, 0, rx->md, NULL);
    return rc == X_NOMATCH ? 0 : rc;
}

static int rx_error(int rc) {
    PyErr_Format(PyExc_RuntimeError, "PCRE2 match error %d", rc);
    return -1;
}

/* rx_run, with a Python exception for an error (-1) */
static inline int rx_exec(Rx *rx, const char *s, size_t len, size_t start) {
    int rc = rx_run(rx, s, len, start);
    return rc < 0 ? rx_error(rc) : rc;
}

static inline int g_set(Rx *rx, int g) { return rx->ov[2 * g] != X_UNSET; }
static inline size_t g_s(Rx *rx, int g) { return rx->ov[2 * g]; }
static inline size_t g_e(Rx *rx, int g) { return rx->ov[2 * g + 1]; }
