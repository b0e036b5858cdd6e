/* xodiag._fastlane: Pre: the lane's regex work on a batch of lines, done ahead on another thread.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own.
 *
 * Lane.prematch(lines) runs, without the GIL, the regexes that Lane.run would run on each line: the
 * syslog prefix, the xo-server header or the xapi header, the id search of a header line, whether an
 * xo header's message wants error facts and its time in epoch ns, and the bracket count of the line's body. It keeps their results (the ovector of each match, the ids
 * found) in a Pre. Lane.run(lines, ..., pre) then takes
 * a line's result from the Pre instead of matching again, so the reader can prematch the next batch on a
 * second core while this one is framed. A result is only a cache: it is computed from the line's text
 * alone, with the same regexes and arguments as the lane's own call, and a line the Pre has no result for
 * (or an error for) is matched by the lane itself. */

enum { PRE_NOT_RUN = -1 };

typedef struct {
    int8_t ok;                      /* 1: a line the lane reads; 0: one it leaves to Python; PRE_NOT_RUN */
    int8_t sys_rc, hdr_rc, xapi_rc; /* rx_run's result (>0 matched, 0 not), or PRE_NOT_RUN */
    int8_t ids_ok;                  /* 1: ids holds the id search of the header line (xo: its body; xapi: it all) */
    int8_t wants_err;               /* an xo header's wants_error_facts(message), or PRE_NOT_RUN */
    int8_t br_ok;                   /* 1: br holds brackets() of the line's body (after a syslog prefix) */
    int8_t iso_ok;                  /* 1: iso holds iso_ns() of an xo header's time */
    int32_t br;
    int64_t iso;
    uint32_t sys_ov, hdr_ov, xapi_ov; /* where each match's ovector copy starts in ov */
    uint32_t ids_at, ids_n;          /* the id finds in hits */
} PreLine;

typedef struct {
    PyObject_HEAD
    unsigned long owner; /* the serial of the Lane whose regexes made it */
    PyObject **items; /* the lines: a list's, snapshot with a reference each (owned); a tuple's own items */
    int own_items;    /* 1: items is that snapshot */
    Py_ssize_t n;
    PyObject *lines;  /* the list or tuple they came from (owned): Lane.run takes results only for it */
    PreLine *ln;
    uint32_t *ov; /* the matches' ovectors, 32 bits per offset (a line's length fits: see pre_scan) */
    size_t nov, cap_ov;
    IdHit *hits;
} Pre;

/* the regexes of one lane, with match data of the prematch thread's own */
typedef struct {
    Rx syslog, xohdr, xapi, ids_a, ctx, exports, tasks, addrs;
    int has_xapi, ready;
    int g_time; /* the xo header's time group */
} PreRx;

static void prerx_free(PreRx *R) {
    Rx *all[8] = {&R->syslog, &R->xohdr, &R->xapi, &R->ids_a, &R->ctx, &R->exports, &R->tasks, &R->addrs};
    for (int i = 0; i < 8; i++) rx_clone_free(all[i]);
    R->ready = 0;
}

static int prerx_init(PreRx *R, Rx *syslog, Rx *xohdr, int g_time, Rx *xapi, int has_xapi, Facts *F) {
    Rx *src[8] = {syslog, xohdr, has_xapi ? xapi : syslog, &F->ids_a, &F->ctx, &F->exports, &F->tasks, &F->addrs};
    Rx *dst[8] = {&R->syslog, &R->xohdr, &R->xapi, &R->ids_a, &R->ctx, &R->exports, &R->tasks, &R->addrs};
    for (int i = 0; i < 8; i++)
        if (rx_clone(dst[i], src[i]) < 0) {
            prerx_free(R);
            PyErr_NoMemory();
            return -1;
        }
    R->has_xapi = has_xapi;
    R->g_time = g_time;
    R->ready = 1;
    return 0;
}

/* keep rx's ovector in P->ov (an unset group as UINT32_MAX); its offset, or UINT32_MAX when the arena
 * cannot grow */
static uint32_t pre_keep(Pre *P, const Rx *rx) {
    size_t need = 2 * (size_t)rx->npairs;
    if (P->nov + need > P->cap_ov) {
        size_t cap = P->cap_ov ? P->cap_ov * 2 : 8192;
        while (cap < P->nov + need) cap *= 2;
        uint32_t *ov = realloc(P->ov, cap * sizeof *ov);
        if (!ov || cap > UINT32_MAX) {
            if (ov) P->ov = ov;
            return UINT32_MAX;
        }
        P->ov = ov;
        P->cap_ov = cap;
    }
    for (size_t j = 0; j < need; j++) P->ov[P->nov + j] = rx->ov[j] == X_UNSET ? UINT32_MAX : (uint32_t)rx->ov[j];
    P->nov += need;
    return (uint32_t)(P->nov - need);
}

static int pre_is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* run a regex for the Pre: its result, kept (ovector saved) when it matched; PRE_NOT_RUN on any trouble */
static int8_t pre_match(Pre *P, Rx *rx, const char *s, size_t len, uint32_t *at) {
    int rc = rx_run(rx, s, len, 0);
    if (rc < 0) return PRE_NOT_RUN;
    if (rc > 0 && (*at = pre_keep(P, rx)) == UINT32_MAX) return PRE_NOT_RUN;
    return rc > 0 ? 1 : 0;
}

static void pre_ids(Pre *P, PreLine *ln, Facts *F, PreRx *R, const char *t, size_t n, HitBuf *hb) {
    size_t before = hb->n;
    IdRx ids = {&R->ids_a, &R->ctx, &R->exports, &R->tasks, &R->addrs};
    if (id_scan(F, &ids, t, n, hb) < 0) {
        hb->n = before; /* the lane searches this line itself */
        return;
    }
    ln->ids_at = (uint32_t)before;
    ln->ids_n = (uint32_t)(hb->n - before);
    ln->ids_ok = 1;
}

/* the whole batch; no Python object is touched but the lines' (immutable) text */
static void pre_scan(Pre *P, PreRx *R, Facts *F) {
    HitBuf hb = {NULL, 0, 0, NULL};
    for (Py_ssize_t k = 0; k < P->n; k++) {
        PreLine *ln = &P->ln[k];
        *ln = (PreLine){.ok = 0, .sys_rc = PRE_NOT_RUN, .hdr_rc = PRE_NOT_RUN, .xapi_rc = PRE_NOT_RUN,
                        .wants_err = PRE_NOT_RUN};
        PyObject *lo = P->items[k];
        if (!lo || !PyUnicode_Check(lo) || !PyUnicode_IS_ASCII(lo)) continue; /* as the lane's own test: not ok */
        const char *s = (const char *)PyUnicode_DATA(lo);
        size_t len = (size_t)PyUnicode_GET_LENGTH(lo);
        if (len == 0 || has_control(s, len)) continue;
        if (len >= UINT32_MAX) { /* past what a Pre records: the lane does it all */
            ln->ok = PRE_NOT_RUN;
            continue;
        }
        ln->ok = 1;
        size_t boff = 0;
        if (pre_is_alnum(s[0])) {
            ln->sys_rc = pre_match(P, &R->syslog, s, len, &ln->sys_ov);
            if (ln->sys_rc == PRE_NOT_RUN) continue;
            if (ln->sys_rc > 0) boff = R->syslog.ov[1];
        }
        const char *b = s + boff;
        size_t blen = len - boff;
        long br = brackets(b, blen); /* the lane's depth count of a header or continuation line */
        if (br > -INT32_MAX && br < INT32_MAX) {
            ln->br = (int32_t)br;
            ln->br_ok = 1;
        }
        char b0 = blen ? b[0] : 0;
        if (b0 >= '0' && b0 <= '9' && blen > 24 && b[4] == '-') {
            ln->hdr_rc = pre_match(P, &R->xohdr, b, blen, &ln->hdr_ov);
            if (ln->hdr_rc > 0) {
                size_t hdr_end = R->xohdr.ov[1];
                size_t ts = g_s(&R->xohdr, R->g_time), te = g_e(&R->xohdr, R->g_time);
                ln->iso_ok = iso_ns(b + ts, te - ts, &ln->iso) == 0;
                ln->wants_err = (int8_t)wants_error_facts(b + hdr_end, blen - hdr_end);
                pre_ids(P, ln, F, R, b, blen, &hb);
            }
        } else if (b0 == '[' && R->has_xapi) {
            ln->xapi_rc = pre_match(P, &R->xapi, b, blen, &ln->xapi_ov);
            if (ln->xapi_rc > 0) pre_ids(P, ln, F, R, s, len, &hb);
        }
    }
    P->hits = hb.h;
}

static void pre_dealloc(Pre *P) {
    if (P->own_items) {
        for (Py_ssize_t k = 0; k < P->n; k++) Py_XDECREF(P->items[k]);
        PyMem_Free(P->items);
    }
    Py_XDECREF(P->lines);
    free(P->ln);
    free(P->ov);
    free(P->hits);
    Py_TYPE(P)->tp_free((PyObject *)P);
}

static PyObject *pre_len(Pre *P, void *closure) { return PyLong_FromSsize_t(P->n); }

static PyGetSetDef pre_getset[] = {{"lines", (getter)pre_len, NULL, "lines prematched", NULL},
                                   {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject PreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xodiag._fastlane.Pre",
    .tp_basicsize = sizeof(Pre),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A lane's regex results for one batch of lines (Lane.prematch); read by Lane.run.",
    .tp_dealloc = (destructor)pre_dealloc,
    .tp_getset = pre_getset,
};

/* the Pre for lines, scanned with R without the GIL. *busy guards R's match data (one scan at a time). */
static PyObject *pre_new(PyObject *lines, PreRx *R, Facts *F, int *busy, unsigned long owner) {
    int tuple = PyTuple_Check(lines);
    if (!tuple && !PyList_Check(lines)) {
        PyErr_SetString(PyExc_TypeError, "prematch takes a list or tuple of str");
        return NULL;
    }
    if (*busy) {
        PyErr_SetString(PyExc_RuntimeError, "Lane.prematch is already running");
        return NULL;
    }
    Pre *P = PyObject_New(Pre, &PreType);
    if (!P) return NULL;
    Py_ssize_t n = Py_SIZE(lines);
    P->n = 0;
    P->owner = owner;
    P->lines = Py_NewRef(lines);
    P->ov = NULL;
    P->nov = P->cap_ov = 0;
    P->hits = NULL;
    /* A tuple keeps its lines alive and in place: its items are read as they are. A list may change
     * while the scan runs without the GIL: its lines are snapshot, each with a reference. */
    P->own_items = !tuple;
    P->items = tuple ? &PyTuple_GET_ITEM(lines, 0) : PyMem_Malloc((size_t)(n ? n : 1) * sizeof(PyObject *));
    P->ln = malloc((size_t)(n ? n : 1) * sizeof(PreLine));
    if (!P->items || !P->ln) {
        if (!P->items) P->own_items = 0;
        Py_DECREF(P);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < n && !tuple; k++) {
        PyObject *lo = PyList_GET_ITEM(lines, k);
        P->items[k] = PyUnicode_Check(lo) ? Py_NewRef(lo) : NULL; /* not a str: not ok */
    }
    P->n = n;
    *busy = 1;
    Py_BEGIN_ALLOW_THREADS
    pre_scan(P, R, F);
    Py_END_ALLOW_THREADS
    *busy = 0;
    return (PyObject *)P;
}

/* brackets(b, blen) of the line, b its body: from the Pre when it has it (pl: the line's PreLine or NULL) */
static inline long pre_brackets(const PreLine *pl, const char *b, size_t blen) {
    return pl && pl->br_ok ? (long)pl->br : brackets(b, blen);
}

/* line k's results when the Pre has them for this very line object, else NULL */
static inline PreLine *pre_line(Pre *P, Py_ssize_t k, PyObject *lo) {
    return P && k < P->n && P->items[k] == lo ? &P->ln[k] : NULL;
}

/* a line's result for rx (one of the lane's syslog, xohdr, xapi): its rc with the saved ovector back in
 * rx's, or PRE_NOT_RUN (the lane matches the line itself) */
static inline int pre_take(Pre *P, PreLine *ln, int which, Rx *rx) {
    if (!ln) return PRE_NOT_RUN;
    int rc = which == 0 ? ln->sys_rc : which == 1 ? ln->hdr_rc : ln->xapi_rc;
    if (rc > 0) { /* into the regex's own ovector, as its match would have left it */
        const uint32_t *a = P->ov + (which == 0 ? ln->sys_ov : which == 1 ? ln->hdr_ov : ln->xapi_ov);
        for (uint32_t j = 0; j < 2 * rx->npairs; j++) rx->ov0[j] = a[j] == UINT32_MAX ? X_UNSET : a[j];
        rx->ov = rx->ov0;
    }
    return rc;
}
