/* xodiag._fastlane: Lane: the framer's fast lane (xo records, xapi records) and the rows it writes.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* ---- the lane ---------------------------------------------------------------------------------- */
#define MAXOPEN 16
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 4 /* lines: the memory of the line this many ahead is asked for before it is read */
#endif
#define PID_DIGITS 18 /* records.PID_DIGITS: a longer pid is left to Python (no number) */
enum { C_SOURCE, C_LINE, C_LINE_END, C_SPAN, C_FORMAT, C_KIND, C_HOST, C_PROCESS, C_PID,
       C_NAMESPACE, C_LEVEL, C_MESSAGE, C_CONTEXT, C_ERR_NAME, C_ERR_CODE, C_ERR_MSG, C_FRAMES, C_VM, C_VDI,
       C_VBD, C_SR, C_UUIDS, C_REFS, C_TASK_REFS, C_EXPORTS, C_ADDRS, C_RAW, NCOLS };
static const char *COLNAMES[NCOLS] = {
    "source", "line", "line_end", "span", "format", "kind", "host", "process", "pid",
    "namespace", "level", "message", "context", "error_name", "error_code", "error_message", "frames", "vm",
    "vdi", "vbd", "sr", "uuids", "refs", "task_refs", "export_names", "addresses", "raw"};

/* the builder's SparseColumns (events.SPARSE_COLUMNS): context and the error fields (default None), frames
 * and the id lists (default: the shared empty list) */
static inline int col_sparse(int c) { return (c >= C_CONTEXT && c <= C_ERR_MSG) || (c >= C_FRAMES && c <= C_ADDRS); }

typedef struct {
    int used;
    PyObject *ident, *pid; /* key (borrowed from the intern cache; NULL = None) */
    PyObject *pid_int;     /* the pid as an int (owned) */
    Py_ssize_t stamp_s, stamp_e; /* the syslog stamp in the first line (stamp_e == 0: none) */
    PyObject *host;              /* borrowed from the intern cache (NULL = None) */
    PyObject *first;        /* owned: the first raw line */
    Py_ssize_t body_off;    /* where the body starts in the first line */
    PyObject *raws;         /* owned list of the lines once a second line arrives */
    Py_ssize_t *boffs;      /* where each of those lines' body starts (PyMem; as long as raws) */
    Py_ssize_t cap_boffs;
    PyObject *numbers;      /* owned list once another process interleaves */
    long line, line_end;
    long depth;
    unsigned long seq; /* when it opened (flush keeps that order) */
    Py_ssize_t iso_s, iso_e, hdr_end; /* in the body of the first line */
    PyObject *ns, *lv;                 /* namespace and level (borrowed from the intern cache) */
    const IdHit *pre_hits;             /* the ids of the first line's body, found by a prematch */
    uint32_t pre_n;
    int pre_ids;                       /* 1: pre_hits holds them */
    int pre_wants;                     /* the prematch's wants_error_facts of the message, or -1 */
    int pre_iso_ok;                    /* 1: pre_iso holds the prematch's iso_ns of the header's time */
    int64_t pre_iso;
} Slot;

/* the xapi backtrace record being grouped (LineFramer.bt): lines of one thread on one host */
#define BT_PAIRS 16
typedef struct {
    int used;
    PyObject *first;                    /* owned: the first raw line */
    Py_ssize_t body_off;                /* where its body starts */
    PyObject *raws, *bodies, *messages, *frames; /* owned lists (messages: the bodies after their header that
                                                    are no frame; frames: the frame dicts) */
    PyObject *host, *ident, *pid;       /* borrowed from the intern cache (NULL = None) */
    size_t stamp_s, stamp_e;            /* the syslog stamp in the first line (stamp_e == 0: none) */
    long line, line_end;
    size_t ov[2 * BT_PAIRS];            /* the first line's xapi header match, in its body */
} BtRec;

/* one_list's table: the one-id list of each id str (by identity; the ids are the string cache's shared
 * objects), open addressing on the pointer, emptied when ONE_MAX are in use. It holds both. */
#define ONE_SLOTS 16384 /* a power of two */
#define ONE_MAX 8192
struct OneList {
    PyObject *key, *list;
};

/* facts_of's table: the error facts (records.block_facts' answer) of each util.inspect data text seen,
 * found by the text's hash and bytes; emptied when FC_MAX are in use. It holds the text and the answer. */
#define FC_SLOTS 8192 /* a power of two */
#define FC_MAX 4096
struct FactsEntry {
    uint64_t h;
    PyObject *text, *facts;
};

static size_t one_slot(PyObject *key) {
    return (size_t)(((uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull) >> 50); /* 14 bits: ONE_SLOTS */
}

typedef struct {
    PyObject_HEAD
    Rx syslog, xohdr, xapi;
    int g_short, g_iso, g_host, g_ident, g_pid, g_time, g_ns, g_level;
    int has_xapi, g_xtime, g_xlevel, g_thread, g_tname, g_task, g_brand;
    Rx errin; /* patterns.error_head_in_message: where an Error printed as data starts in a message */
    int has_errin;
    Rx btframe; /* patterns.backtrace_frame: an OCaml frame line of a backtrace record */
    int has_bt, g_bcomp, g_bfile, g_bline;
    BtRec bt;
    PyObject *s_backtrace, *k_function, *k_file, *k_line, *k_col, *k_is_async;
    PyObject *xapi_levels; /* records._XAPI_LEVELS (owned), when the lane also takes xapi lines */
    PyObject *block_facts; /* records.block_facts (owned): a record's util.inspect data -> error facts */
    Facts *facts; /* owned */
    PyObject *framer, *builder, *yctx; /* owned */
    PyObject *source, *fmt, *s_record, *s_iso, *s_ns, *s_xo, *s_xo_prefixed, *s_xapi_nbd, *s_xapi, *s_syslog;
    ICache cache;
    /* the syslog prefix's "host ident[pid]" of the line before, and its interned parts (borrowed from the
     * cache): consecutive lines mostly repeat it, and one memcmp then replaces three cache lookups */
    char pfx[96];
    size_t pfx_n, pfx_off[5]; /* ident start and end, pid start and end, from the host's start; has pid */
    PyObject *pfx_host, *pfx_ident, *pfx_pid;
    Slot slots[MAXOPEN];
    PyObject *cols[NCOLS]; /* borrowed during run() */
    PyObject *time_kind, *pending;
    IntCol *time_value, *icols[3]; /* for a run: the builder's time_value and its line, line_end, span */
    long rows; /* fast rows written (statistics) */
    unsigned long seq;
    int ready, running;
    PyObject *pid_str[8], *pid_int[8]; /* pid cache: interned str (borrowed) -> int (owned) */
    struct OneList *one; /* one_list's table (owned), allocated on first use */
    int one_used;
    struct FactsEntry *fc; /* facts_of's table (owned), allocated on first use */
    int fc_used;
    char *scratch;         /* join_bodies' buffer (PyMem) */
    size_t cap_scratch;
    PreRx pre_rx;  /* the regexes' match data for prematch (prematch.c), made on first use */
    int pre_busy;
    unsigned long serial; /* which Pre objects are this lane's */
} Lane;

static unsigned long lane_serials;

static void fc_clear(Lane *L) {
    if (!L->fc) return;
    for (size_t b = 0; b < FC_SLOTS; b++) {
        Py_CLEAR(L->fc[b].text);
        Py_CLEAR(L->fc[b].facts);
    }
    L->fc_used = 0;
}

static void one_clear(Lane *L) {
    if (!L->one) return;
    for (size_t b = 0; b < ONE_SLOTS; b++) {
        Py_CLEAR(L->one[b].key);
        Py_CLEAR(L->one[b].list);
    }
    L->one_used = 0;
}

static void pid_cache_clear(Lane *L) {
    for (int i = 0; i < 8; i++) {
        L->pid_str[i] = NULL;
        Py_CLEAR(L->pid_int[i]);
    }
}

static PyObject *pid_number(Lane *L, PyObject *pid) { /* borrowed */
    for (int i = 0; i < 8; i++)
        if (L->pid_str[i] == pid) return L->pid_int[i];
    PyObject *v = PyLong_FromUnicodeObject(pid, 10);
    if (!v) return NULL;
    int slot = (int)(((uintptr_t)pid >> 4) & 7);
    Py_XSETREF(L->pid_int[slot], v);
    L->pid_str[slot] = pid;
    return v;
}

static void slot_clear(Slot *s) {
    s->host = NULL;
    s->pre_iso_ok = 0;
    s->pre_ids = 0;
    s->pre_wants = -1;
    s->stamp_e = 0;
    Py_CLEAR(s->pid_int);
    Py_CLEAR(s->first);
    Py_CLEAR(s->raws);
    PyMem_Free(s->boffs);
    s->boffs = NULL;
    s->cap_boffs = 0;
    Py_CLEAR(s->numbers);
    s->used = 0;
}

static void bt_clear(BtRec *bt) {
    Py_CLEAR(bt->first);
    Py_CLEAR(bt->raws);
    Py_CLEAR(bt->bodies);
    Py_CLEAR(bt->messages);
    Py_CLEAR(bt->frames);
    bt->host = bt->ident = bt->pid = NULL;
    bt->used = 0;
}

static int lane_init(Lane *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"framer", "builder", "year_ctx", "source", "fmt", "syslog", "xo_header", "facts",
                             "xapi_header", "xapi_levels", "block_facts", "error_head_in_message",
                             "backtrace_frame", NULL};
    PyObject *framer, *builder, *yctx, *source, *fmt, *sys_spec, *xo_spec, *facts, *xapi_spec = Py_None,
             *levels = Py_None, *block = Py_None, *errin = Py_None, *btspec = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOUUOOO!|OOOOO", kwlist, &framer, &builder, &yctx, &source, &fmt,
                                     &sys_spec, &xo_spec, &FactsType, &facts, &xapi_spec, &levels, &block, &errin,
                                     &btspec))
        return -1;
    if (self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "a Lane is initialised once");
        return -1;
    }
    if (errin != Py_None) {
        if (rx_compile(&self->errin, errin, 0) < 0) return -1;
        self->has_errin = 1;
    }
    if (block != Py_None) {
        Py_INCREF(block);
        Py_XSETREF(self->block_facts, block);
    }
    if (rx_compile(&self->syslog, sys_spec, 1) < 0 || rx_compile(&self->xohdr, xo_spec, 1) < 0) return -1;
    if (xapi_spec != Py_None) {
        if (!PyDict_Check(levels)) {
            PyErr_SetString(PyExc_TypeError, "xapi_levels must be a dict");
            return -1;
        }
        if (rx_compile(&self->xapi, xapi_spec, 1) < 0) return -1;
#define G(field, name) if ((self->field = rx_group(&self->xapi, name)) < 0) return -1;
        G(g_xtime, "xapi_time") G(g_xlevel, "xapi_level") G(g_thread, "thread_id") G(g_tname, "thread_name")
        G(g_task, "task") G(g_brand, "brand")
#undef G
        self->has_xapi = 1;
        if (btspec != Py_None && self->xapi.npairs <= BT_PAIRS) {
            if (rx_compile(&self->btframe, btspec, 1) < 0) return -1;
#define G(field, name) if ((self->field = rx_group(&self->btframe, name)) < 0) return -1;
            G(g_bcomp, "bt_component") G(g_bfile, "bt_file") G(g_bline, "bt_line")
#undef G
            const char *names[6] = {"backtrace", "function", "file", "line", "col", "is_async"};
            PyObject **dst[6] = {&self->s_backtrace, &self->k_function, &self->k_file, &self->k_line, &self->k_col,
                                 &self->k_is_async};
            for (int i = 0; i < 6; i++)
                if (!(*dst[i] = PyUnicode_InternFromString(names[i]))) return -1;
            self->has_bt = 1;
        }
        Py_INCREF(levels);
        Py_XSETREF(self->xapi_levels, levels);
    }
#define G(field, rx, name) if ((self->field = rx_group(&self->rx, name)) < 0) return -1;
    G(g_short, syslog, "short_stamp") G(g_iso, syslog, "iso_stamp") G(g_host, syslog, "host")
    G(g_ident, syslog, "ident") G(g_pid, syslog, "pid") G(g_time, xohdr, "iso_time")
    G(g_ns, xohdr, "namespace") G(g_level, xohdr, "level")
#undef G
    if (!((Facts *)facts)->ready) {
        PyErr_SetString(PyExc_ValueError, "facts is not initialised");
        return -1;
    }
    Py_INCREF(facts); self->facts = (Facts *)facts;
    Py_INCREF(framer); self->framer = framer;
    Py_INCREF(builder); self->builder = builder;
    Py_INCREF(yctx); self->yctx = yctx;
    Py_INCREF(source); self->source = source;
    Py_INCREF(fmt); self->fmt = fmt;
    self->s_record = PyUnicode_InternFromString("record");
    self->s_iso = PyUnicode_InternFromString("iso");
    self->s_ns = PyUnicode_InternFromString("ns");
    self->s_xapi = PyUnicode_InternFromString("xapi");
    self->s_syslog = PyUnicode_InternFromString("syslog");
    if (!self->s_xapi || !self->s_syslog) return -1;
    self->s_xo = PyUnicode_InternFromString("xo");
    self->s_xo_prefixed = PyUnicode_InternFromString("xo-prefixed");
    self->s_xapi_nbd = PyUnicode_InternFromString("xapi-nbd");
    if (!self->s_record || !self->s_iso || !self->s_ns || !self->s_xo || !self->s_xo_prefixed || !self->s_xapi_nbd) return -1;
    self->serial = ++lane_serials;
    self->ready = 1;
    return 0;
}

static int lane_traverse(Lane *self, visitproc visit, void *arg) {
    Py_VISIT(self->framer);
    Py_VISIT(self->builder);
    Py_VISIT(self->yctx);
    Py_VISIT((PyObject *)self->facts);
    Py_VISIT(self->block_facts);
    Py_VISIT(self->xapi_levels);
    if (self->one)
        for (size_t b = 0; b < ONE_SLOTS; b++) Py_VISIT(self->one[b].list);
    if (self->fc)
        for (size_t b = 0; b < FC_SLOTS; b++) Py_VISIT(self->fc[b].facts);
    Py_VISIT(self->bt.raws);
    Py_VISIT(self->bt.bodies);
    Py_VISIT(self->bt.messages);
    Py_VISIT(self->bt.frames);
    for (int i = 0; i < MAXOPEN; i++) {
        Py_VISIT(self->slots[i].raws);
        Py_VISIT(self->slots[i].numbers);
    }
    return 0;
}

static int lane_clear(Lane *self) { /* breaks the framer <-> lane cycle */
    for (int i = 0; i < MAXOPEN; i++) slot_clear(&self->slots[i]);
    bt_clear(&self->bt);
    Py_CLEAR(self->framer);
    Py_CLEAR(self->builder);
    Py_CLEAR(self->yctx);
    Py_CLEAR(self->facts);
    Py_CLEAR(self->block_facts);
    Py_CLEAR(self->xapi_levels);
    one_clear(self);
    fc_clear(self);
    self->ready = 0;
    return 0;
}

static void lane_dealloc(Lane *self) {
    PyObject_GC_UnTrack(self);
    lane_clear(self);
    for (int i = 0; i < MAXOPEN; i++) slot_clear(&self->slots[i]);
    icache_clear(&self->cache);
    pid_cache_clear(self);
    prerx_free(&self->pre_rx); /* clones first: they share the compiled patterns */
    rx_free(&self->syslog);
    rx_free(&self->xohdr);
    Py_XDECREF(self->framer);
    Py_XDECREF(self->builder);
    Py_XDECREF(self->yctx);
    Py_XDECREF(self->source);
    Py_XDECREF(self->fmt);
    Py_XDECREF((PyObject *)self->facts);
    Py_XDECREF(self->s_record);
    Py_XDECREF(self->s_iso);
    Py_XDECREF(self->s_ns);
    Py_XDECREF(self->s_xapi);
    Py_XDECREF(self->s_syslog);
    Py_XDECREF(self->xapi_levels);
    Py_XDECREF(self->block_facts);
    rx_free(&self->xapi);
    rx_free(&self->errin);
    rx_free(&self->btframe);
    bt_clear(&self->bt);
    PyObject *keys[6] = {self->s_backtrace, self->k_function, self->k_file, self->k_line, self->k_col, self->k_is_async};
    for (int i = 0; i < 6; i++) Py_XDECREF(keys[i]);
    Py_XDECREF(self->s_xo);
    Py_XDECREF(self->s_xo_prefixed);
    Py_XDECREF(self->s_xapi_nbd);
    PyMem_Free(self->one);
    PyMem_Free(self->fc);
    PyMem_Free(self->scratch);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- rows ------------------------------------------------------------------------------------- */
/* append v to a list, taking the reference: in the room reserve() made, without a call (as CPython's own
 * _PyList_AppendTakeRef does); past it, through PyList_Append */
static inline int append_take(PyObject *list, PyObject *v) {
    PyListObject *l = (PyListObject *)list;
    Py_ssize_t n = Py_SIZE(l);
    if (n < l->allocated) {
        l->ob_item[n] = v;
        Py_SET_SIZE(l, n + 1);
        return 0;
    }
    int rc = PyList_Append(list, v);
    Py_DECREF(v);
    return rc;
}

static inline int put(Lane *L, int col, PyObject *v) { /* steals v */
    return v ? append_take(L->cols[col], v) : -1;
}

/* put, or drop v when an earlier put failed: v is always consumed; returns the new bad flag */
static inline int put2(Lane *L, int col, PyObject *v, int bad) {
    if (bad) {
        Py_XDECREF(v);
        return 1;
    }
    return put(L, col, v) < 0;
}

/* put2 for a SparseColumn: *v (a new reference, or NULL for the column's default) is taken */
static inline int sput(Lane *L, int col, PyObject **v, int bad) {
    PyObject *o = *v;
    *v = NULL;
    if (bad) {
        Py_XDECREF(o);
        return 1;
    }
    return sparse_push((SparseCol *)L->cols[col], o) < 0;
}

/* one event's cells, as EventBuilder.add writes them. Every object is a new reference that put_row
 * consumes whatever happens; NULL stands for None, or for the shared empty list (frames, ids). */
typedef struct {
    PyObject *time_kind; /* borrowed: an interned kind name, or Py_None */
    PyObject *time_value, *host, *process, *pid, *ns, *level, *message, *context, *ename, *ecode, *emsg, *frames,
        *raw;
    PyObject *ids[9]; /* vm, vdi, vbd, sr, uuids, refs, task_refs, export_names, addresses */
    long line, line_end;
    Py_ssize_t span;
    PyObject *kind; /* borrowed: the row's kind, NULL for "record" */
    int64_t time_ns; /* the time, when time_kind is "ns" (time_value is then None) */
} Row;

static void row_clear(Row *r) {
    PyObject **owned[] = {&r->time_value, &r->host, &r->process, &r->pid, &r->ns, &r->level, &r->message,
                          &r->context, &r->ename, &r->ecode, &r->emsg, &r->frames, &r->raw};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) Py_CLEAR(*owned[i]);
    for (int i = 0; i < 9; i++) Py_CLEAR(r->ids[i]);
}

static inline PyObject *or_none(PyObject **v) { /* take *v (a new reference), None when NULL */
    PyObject *o = *v ? *v : Py_NewRef(Py_None);
    *v = NULL;
    return o;
}

/* the default of a SparseColumn c (col_sparse): None, or the shared empty list for frames and the ids */
static inline PyObject *col_default(Lane *L, int c) { return c >= C_FRAMES ? L->facts->empty : Py_None; }

/* The one-id list of id for a lane row (id_lists' OneIdList). Each id is already one str for all rows
 * (Facts' string cache), and a list of a single id is one list object for all rows that hold just that
 * id (list cells are read-only, docs/events.md; only the lane's own rows share them, never lists handed
 * to Python callers). A UUID named on thousands of lines then costs a pointer per row, not a list and a
 * string per row. A new reference. */
static PyObject *one_list(void *owner, PyObject *id) {
    Lane *L = owner;
    if (!L->one && !(L->one = PyMem_Calloc(ONE_SLOTS, sizeof(struct OneList)))) return PyErr_NoMemory();
    size_t b = one_slot(id);
    for (; L->one[b].key; b = (b + 1) & (ONE_SLOTS - 1))
        if (L->one[b].key == id) return Py_NewRef(L->one[b].list);
    if (L->one_used >= ONE_MAX) { /* the rows keep their own */
        one_clear(L);
        b = one_slot(id);
    }
    PyObject *list = PyList_New(1);
    if (!list) return NULL;
    PyList_SET_ITEM(list, 0, Py_NewRef(id));
    L->one[b] = (struct OneList){Py_NewRef(id), Py_NewRef(list)};
    L->one_used++;
    return list;
}

/* the row, through the same steps as EventBuilder.add (rows waiting for a time take this one's) */
static int put_row(Lane *L, Row *r) {
    int bad = 0;
    int is_ns = r->time_kind == L->s_ns;
    PyObject *tv = r->time_value ? r->time_value : Py_None;
    if (r->time_kind != Py_None && PyList_GET_SIZE(L->pending) > 0) {
        PyObject *ns = is_ns ? PyLong_FromLongLong(r->time_ns) : NULL; /* (rare: made only here) */
        PyObject *res = is_ns && !ns ? NULL : PyObject_CallMethod(L->builder, "_fill_pending", "OO", r->time_kind,
                                                                   is_ns ? ns : tv);
        Py_XDECREF(ns);
        bad = !res;
        Py_XDECREF(res);
    }
    bad = bad || append_take(L->time_kind, Py_NewRef(r->time_kind)) < 0 ||
          (is_ns ? intcol_push(L->time_value, r->time_ns) : intcol_append_obj(L->time_value, tv)) < 0;
    bad = bad || intcol_push(L->icols[0], r->line) < 0 || intcol_push(L->icols[1], r->line_end) < 0 ||
          intcol_push(L->icols[2], (int64_t)r->span) < 0;
    bad = put2(L, C_SOURCE, Py_NewRef(L->source), bad);
    bad = put2(L, C_FORMAT, Py_NewRef(L->fmt), bad);
    bad = put2(L, C_KIND, Py_NewRef(r->kind ? r->kind : L->s_record), bad);
    bad = put2(L, C_HOST, or_none(&r->host), bad);
    bad = put2(L, C_PROCESS, or_none(&r->process), bad);
    bad = put2(L, C_PID, or_none(&r->pid), bad);
    bad = put2(L, C_NAMESPACE, or_none(&r->ns), bad);
    bad = put2(L, C_LEVEL, or_none(&r->level), bad);
    bad = put2(L, C_MESSAGE, or_none(&r->message), bad);
    bad = sput(L, C_CONTEXT, &r->context, bad);
    bad = sput(L, C_ERR_NAME, &r->ename, bad);
    bad = sput(L, C_ERR_CODE, &r->ecode, bad);
    bad = sput(L, C_ERR_MSG, &r->emsg, bad);
    bad = sput(L, C_FRAMES, &r->frames, bad);
    for (int i = 0; i < 9; i++) bad = sput(L, C_VM + i, &r->ids[i], bad);
    bad = put2(L, C_RAW, or_none(&r->raw), bad);
    Py_CLEAR(r->time_value); /* the one cell not taken above (the lists hold their own reference) */
    L->rows++;
    return bad ? -1 : 0;
}

/* an ISO time as a row's time: epoch ns when iso_ns takes it (r->time_ns; None is returned), else the text
 * (pandas decides). Sets r->time_kind; returns the new time_value, NULL on error. */
static PyObject *iso_time(Lane *L, Row *r, const char *s, size_t n) {
    if (iso_ns(s, n, &r->time_ns) == 0) {
        r->time_kind = L->s_ns;
        return Py_NewRef(Py_None);
    }
    r->time_kind = L->s_iso;
    return astr(s, (Py_ssize_t)n);
}

/* an xo record's time (iso_time of its header's), from the prematch when it has it */
static PyObject *slot_time(Lane *L, Slot *sl, const char *body, Row *r) {
    if (sl->pre_iso_ok) {
        r->time_kind = L->s_ns;
        r->time_ns = sl->pre_iso;
        return Py_NewRef(Py_None);
    }
    return iso_time(L, r, body + sl->iso_s, (size_t)(sl->iso_e - sl->iso_s));
}

/* the header fields of an xo record's slot, into the row */
static void slot_fields(Lane *L, Slot *sl, Row *r) {
    r->line = sl->line;
    r->line_end = sl->line_end;
    r->host = Py_XNewRef(sl->host);
    r->process = Py_XNewRef(sl->ident);
    r->pid = Py_XNewRef(sl->pid_int);
    r->ns = Py_NewRef(sl->ns);
    r->level = Py_NewRef(sl->lv);
}

static int fast_row(Lane *L, Slot *sl) {
    const char *body = (const char *)PyUnicode_DATA(sl->first) + sl->body_off;
    size_t blen = (size_t)(PyUnicode_GET_LENGTH(sl->first) - sl->body_off);
    const char *msg = body + sl->hdr_end;
    size_t mlen = blen - (size_t)sl->hdr_end;
    Row r = {0};
    slot_fields(L, sl, &r);
    r.span = 1;
    r.raw = Py_NewRef(sl->first);
    r.time_value = slot_time(L, sl, body, &r);
    r.message = astr(msg, (Py_ssize_t)mlen);
    int wants = sl->pre_wants >= 0 ? sl->pre_wants : wants_error_facts(msg, mlen);
    if (!r.time_value || !r.message || (wants &&
                                        error_facts(L->facts, msg, mlen, &r.ename, &r.ecode, &r.emsg) < 0) ||
        (sl->pre_ids ? id_lists(L->facts, body, sl->pre_hits, sl->pre_n, r.ids, one_list, L)
                     : extract_ids(L->facts, body, blen, r.ids, one_list, L)) < 0) {
        row_clear(&r);
        return -1;
    }
    return put_row(L, &r);
}

/* the fields a xapi record takes from its first line's header (records.emit_xapi): time, level, namespace,
 * context ("<thread_id> <thread_name>|<task>", each stripped), host, process, pid. s: the whole line; b: its
 * body (after the syslog prefix); L->xapi's ovector: the header match of b. 0, -1 error, -2 Python's turn. */
static int xapi_fields(Lane *L, Row *r, const char *s, const char *b, size_t stamp_s, size_t stamp_e,
                       PyObject *host, PyObject *ident, PyObject *pid) {
    Rx *x = &L->xapi;
    size_t ls = g_s(x, L->g_xlevel), le = g_e(x, L->g_xlevel);
    PyObject *lkey = icache_get(&L->cache, b + ls, (Py_ssize_t)(le - ls));
    if (!lkey) return PyErr_Occurred() ? -1 : -2;
    size_t bs = g_s(x, L->g_brand), be = g_e(x, L->g_brand);
    PyObject *ns = icache_get(&L->cache, b + bs, (Py_ssize_t)(be - bs));
    if (!ns) return PyErr_Occurred() ? -1 : -2;
    char ctxbuf[512];
    size_t cl = 0, ts = g_s(x, L->g_thread), te = g_e(x, L->g_thread);
    size_t ns_ = g_set(x, L->g_tname) ? g_s(x, L->g_tname) : 0, ne = g_set(x, L->g_tname) ? g_e(x, L->g_tname) : 0;
    size_t ks = g_set(x, L->g_task) ? g_s(x, L->g_task) : 0, ke = g_set(x, L->g_task) ? g_e(x, L->g_task) : 0;
    if ((te - ts) + (ne - ns_) + (ke - ks) + 3 > sizeof ctxbuf) return -2;
    memcpy(ctxbuf, b + ts, te - ts);
    cl = te - ts;
    ctxbuf[cl++] = ' ';
    memcpy(ctxbuf + cl, b + ns_, ne - ns_);
    cl += ne - ns_;
    size_t a0 = 0, a1 = cl;
    strip_ws(ctxbuf, &a0, &a1);
    memmove(ctxbuf, ctxbuf + a0, a1 - a0);
    cl = a1 - a0;
    ctxbuf[cl++] = '|';
    strip_ws(b, &ks, &ke);
    memcpy(ctxbuf + cl, b + ks, ke - ks);
    cl += ke - ks;
    r->time_kind = Py_None;
    if (g_set(x, L->g_xtime)) { /* "20260430T21:50:00.002Z" -> "2026-04-30T21:50:00.002Z" */
        size_t xs = g_s(x, L->g_xtime), xe = g_e(x, L->g_xtime);
        char buf[64];
        int64_t epoch;
        if (xe - xs + 2 < sizeof buf) {
            memcpy(buf, b + xs, 4); buf[4] = '-'; memcpy(buf + 5, b + xs + 4, 2); buf[7] = '-';
            memcpy(buf + 8, b + xs + 6, xe - xs - 6);
            if (iso_ns(buf, xe - xs + 2, &epoch) == 0) {
                r->time_kind = L->s_ns;
                r->time_ns = epoch;
                r->time_value = Py_NewRef(Py_None);
            }
        }
        if (r->time_kind == Py_None) {
            r->time_kind = L->s_xapi;
            r->time_value = astr(b + xs, (Py_ssize_t)(xe - xs));
        }
    } else if (stamp_e && s[stamp_s] >= '0' && s[stamp_s] <= '9') {
        r->time_value = iso_time(L, r, s + stamp_s, stamp_e - stamp_s);
    } else if (stamp_e) {
        r->time_kind = L->s_syslog;
        r->time_value = Py_XNewRef(icache_get(&L->cache, s + stamp_s, (Py_ssize_t)(stamp_e - stamp_s))); /* repeats */
        if (!r->time_value && !PyErr_Occurred()) r->time_value = astr(s + stamp_s, (Py_ssize_t)(stamp_e - stamp_s));
    } else {
        r->time_value = Py_NewRef(Py_None);
    }
    r->host = Py_XNewRef(host);
    r->process = Py_XNewRef(ident);
    r->pid = pid ? PyLong_FromUnicodeObject(pid, 10) : NULL;
    r->ns = Py_NewRef(ns);
    r->level = Py_XNewRef(PyDict_GetItemWithError(L->xapi_levels, lkey));
    r->context = astr(ctxbuf, (Py_ssize_t)cl);
    return !r->time_value || (pid && !r->pid) || PyErr_Occurred() || !r->context ? -1 : 0;
}

/* one xapi record line (records.emit_xapi for a single-line record without escapes): the row.
 * s/len: the whole line; b: the body (after the syslog prefix); x: its xapi header match */
static int xapi_row(Lane *L, PyObject *lo, const char *s, size_t len, const char *b, size_t blen, size_t stamp_s,
                    size_t stamp_e, PyObject *host, PyObject *ident, PyObject *pid, long n, const IdHit *hits,
                    uint32_t nhits) {
    const char *msg = b + L->xapi.ov[1];
    size_t mlen = blen - L->xapi.ov[1];
    Row r = {0};
    int rc = xapi_fields(L, &r, s, b, stamp_s, stamp_e, host, ident, pid);
    if (rc < 0) {
        row_clear(&r);
        return rc;
    }
    r.line = r.line_end = n;
    r.span = 1;
    r.message = astr(msg, (Py_ssize_t)mlen);
    r.raw = Py_NewRef(lo);
    if (!r.message || error_facts(L->facts, msg, mlen, &r.ename, &r.ecode, &r.emsg) < 0 ||
        (hits ? id_lists(L->facts, s, hits, nhits, r.ids, one_list, L) : extract_ids(L->facts, s, len, r.ids, one_list, L)) < 0) {
        row_clear(&r);
        return -1;
    }
    return put_row(L, &r);
}

/* one line of a backtrace record: its raw line and body, then its text after the xapi header as a frame
 * (records.emit_xapi: backtrace_frame on the stripped text) or as a line of the message. All or nothing:
 * -2 (Python's turn) and errors leave the record as it was. */
static int bt_add(Lane *L, BtRec *bt, PyObject *lo, const char *b, size_t blen) {
    size_t m0 = L->xapi.ov[1], m1 = blen;
    size_t s0 = m0, s1 = m1; /* msg.strip(): the lane's lines hold no control character but tab */
    strip_ws(b, &s0, &s1);
    int rc = rx_exec(&L->btframe, b + s0, s1 - s0, 0);
    if (rc < 0) return -1;
    PyObject *item; /* the frame dict, or the message line */
    if (rc == 0) {
        item = astr(b + m0, (Py_ssize_t)(m1 - m0));
    } else {
        Rx *f = &L->btframe;
        const char *t = b + s0;
        char digits[64];
        size_t ls = g_s(f, L->g_bline), le = g_e(f, L->g_bline);
        if (le - ls >= sizeof digits) return -2;
        memcpy(digits, t + ls, le - ls);
        digits[le - ls] = 0;
        PyObject *fn = astr(t + g_s(f, L->g_bcomp), (Py_ssize_t)(g_e(f, L->g_bcomp) - g_s(f, L->g_bcomp)));
        PyObject *file = astr(t + g_s(f, L->g_bfile), (Py_ssize_t)(g_e(f, L->g_bfile) - g_s(f, L->g_bfile)));
        PyObject *line = PyLong_FromString(digits, NULL, 10);
        item = fn && file && line ? PyDict_New() : NULL; /* in records.emit_xapi's key order */
        if (item && (PyDict_SetItem(item, L->k_function, fn) < 0 || PyDict_SetItem(item, L->k_file, file) < 0 ||
                     PyDict_SetItem(item, L->k_line, line) < 0 || PyDict_SetItem(item, L->k_col, Py_None) < 0 ||
                     PyDict_SetItem(item, L->k_is_async, Py_False) < 0))
            Py_CLEAR(item);
        Py_XDECREF(fn);
        Py_XDECREF(file);
        Py_XDECREF(line);
    }
    PyObject *body = item ? astr(b, (Py_ssize_t)blen) : NULL;
    int bad = !body || PyList_Append(bt->raws, lo) < 0 || PyList_Append(bt->bodies, body) < 0 ||
              PyList_Append(rc == 0 ? bt->messages : bt->frames, item) < 0;
    Py_XDECREF(body);
    Py_XDECREF(item);
    return bad ? -1 : 0;
}

/* the backtrace record as a row (records.emit_xapi for a backtrace without escapes), then cleared */
static int bt_finish(Lane *L) {
    BtRec *bt = &L->bt;
    const char *s = (const char *)PyUnicode_DATA(bt->first), *b = s + bt->body_off;
    Row r = {0};
    size_t *current = L->xapi.ov; /* the line being read may have its own match there (a prematch's too) */
    L->xapi.ov = bt->ov;          /* the first line's header match, as xapi_fields reads it */
    int rc = xapi_fields(L, &r, s, b, bt->stamp_s, bt->stamp_e, bt->host, bt->ident, bt->pid);
    L->xapi.ov = current;
    PyObject *nl = rc == 0 ? PyUnicode_FromStringAndSize("\n", 1) : NULL;
    if (rc == 0 && nl) {
        r.message = PyList_GET_SIZE(bt->messages) ? PyUnicode_Join(nl, bt->messages)
                                                    : Py_NewRef(PyList_GET_ITEM(bt->bodies, 0));
        r.raw = r.message ? PyUnicode_Join(nl, bt->raws) : NULL;
    }
    Py_XDECREF(nl);
    size_t mn = 0, rn = 0;
    const char *mt = r.message ? plain_text(r.message, &mn) : NULL, *rt = r.raw ? plain_text(r.raw, &rn) : NULL;
    if (rc == 0 && (!r.message || !r.raw)) rc = -1;
    if (rc == 0 && (!mt || !rt)) rc = -2; /* not plain text after all: Python's turn */
    if (rc == 0 && (error_facts(L->facts, mt, mn, &r.ename, &r.ecode, &r.emsg) < 0 ||
                    extract_ids(L->facts, rt, rn, r.ids, one_list, L) < 0))
        rc = -1;
    if (rc != 0) {
        row_clear(&r);
        return rc;
    }
    if (PyList_GET_SIZE(bt->frames)) r.frames = Py_NewRef(bt->frames);
    r.kind = L->s_backtrace;
    r.line = bt->line;
    r.line_end = bt->line_end;
    r.span = PyList_GET_SIZE(bt->raws);
    rc = put_row(L, &r);
    bt_clear(bt);
    return rc;
}

/* a "|backtrace]" xapi line (LineFramer._xapi): it joins the open backtrace record of its thread and host,
 * or closes that record and starts one. 0, -1 error, -2 Python's turn (the record is handed over as it is). */
static int bt_line(Lane *L, PyObject *lo, const char *s, const char *b, size_t blen, size_t stamp_s,
                   size_t stamp_e, PyObject *host, PyObject *ident, PyObject *pid, long n) {
    BtRec *bt = &L->bt;
    Rx *x = &L->xapi;
    size_t ts = g_s(x, L->g_thread), te = g_e(x, L->g_thread);
    if (bt->used) {
        const char *fb = (const char *)PyUnicode_DATA(bt->first) + bt->body_off;
        size_t fs = bt->ov[2 * L->g_thread], fe = bt->ov[2 * L->g_thread + 1];
        if (bt->host == host && fe - fs == te - ts && memcmp(fb + fs, b + ts, te - ts) == 0) {
            int rc = bt_add(L, bt, lo, b, blen); /* (an xo-server line may stand between: emit_xapi reads none) */
            if (rc == 0) bt->line_end = n;
            return rc;
        }
        int rc = bt_finish(L);
        if (rc != 0) return rc;
    }
    bt->raws = PyList_New(0);
    bt->bodies = PyList_New(0);
    bt->messages = PyList_New(0);
    bt->frames = PyList_New(0);
    if (!bt->raws || !bt->bodies || !bt->messages || !bt->frames) {
        bt_clear(bt);
        return -1;
    }
    bt->used = 1;
    bt->first = Py_NewRef(lo);
    bt->body_off = b - s;
    bt->host = host;
    bt->ident = ident;
    bt->pid = pid;
    bt->stamp_s = stamp_s;
    bt->stamp_e = stamp_e;
    bt->line = bt->line_end = n;
    memcpy(bt->ov, x->ov, 2 * x->npairs * sizeof(size_t));
    int rc = bt_add(L, bt, lo, b, blen);
    if (rc != 0) bt_clear(bt); /* Python takes the line from scratch */
    return rc;
}

/* the open backtrace record handed to the Python framer (framer.bt; framer.last too when it was touched
 * last), then cleared */
static int bt_hand_over(Lane *L, int is_last) {
    BtRec *bt = &L->bt;
    if (!bt->used) return 0;
    PyObject *stamp = bt->stamp_e ? PyUnicode_Substring(bt->first, (Py_ssize_t)bt->stamp_s, (Py_ssize_t)bt->stamp_e)
                                  : Py_NewRef(Py_None);
    PyObject *rec = stamp ? PyObject_CallMethod(L->framer, "_lane_bt", "llOOOOOO", bt->line, bt->line_end, bt->raws,
                                                bt->bodies, stamp, bt->host ? bt->host : Py_None,
                                                bt->ident ? bt->ident : Py_None, bt->pid ? bt->pid : Py_None)
                          : NULL;
    Py_XDECREF(stamp);
    int rc = rec && PyObject_SetAttrString(L->framer, "bt", rec) == 0 &&
                     (!is_last || PyObject_SetAttrString(L->framer, "last", rec) == 0) ? 0 : -1;
    Py_XDECREF(rec);
    bt_clear(bt);
    return rc;
}

/* the slot's line k (its raws once it has several lines, else the first) and where its body starts */
static PyObject *slot_line(Slot *sl, Py_ssize_t k, Py_ssize_t *boff) {
    *boff = sl->raws ? sl->boffs[k] : sl->body_off;
    return sl->raws ? PyList_GET_ITEM(sl->raws, k) : sl->first;
}

static Py_ssize_t slot_lines(Slot *sl) { return sl->raws ? PyList_GET_SIZE(sl->raws) : 1; }

/* the bodies of the slot's lines (the lines without their syslog prefix), a new list */
static PyObject *slot_bodies(Slot *sl) {
    Py_ssize_t n = slot_lines(sl), boff;
    PyObject *out = PyList_New(n);
    for (Py_ssize_t k = 0; out && k < n; k++) {
        PyObject *lo = slot_line(sl, k, &boff);
        PyObject *b = PyUnicode_Substring(lo, boff, PyUnicode_GET_LENGTH(lo));
        if (!b) Py_CLEAR(out);
        else PyList_SET_ITEM(out, k, b);
    }
    return out;
}

/* "\n".join([head] + bodies[from:]) (no head when head is NULL) into the lane's scratch buffer (the text,
 * its length in *len; NULL when out of memory), built from the lines themselves: no str per body */
static const char *join_bodies(Lane *L, Slot *sl, Py_ssize_t from, const char *head, size_t head_len, size_t *len) {
    Py_ssize_t n = slot_lines(sl), boff;
    size_t total = head ? head_len : 0, parts = head ? 1 : 0;
    for (Py_ssize_t k = from; k < n; k++, parts++)
        total += (size_t)(PyUnicode_GET_LENGTH(slot_line(sl, k, &boff)) - boff);
    total += parts > 0 ? parts - 1 : 0;
    if (total + 1 > L->cap_scratch) {
        char *grown = PyMem_Realloc(L->scratch, total + 1);
        if (!grown) {
            PyErr_NoMemory();
            return NULL;
        }
        L->scratch = grown;
        L->cap_scratch = total + 1;
    }
    char *d = L->scratch;
    if (head) {
        memcpy(d, head, head_len);
        d += head_len;
    }
    for (Py_ssize_t k = from; k < n; k++) {
        PyObject *lo = slot_line(sl, k, &boff);
        if (head || k > from) *d++ = '\n';
        size_t m = (size_t)(PyUnicode_GET_LENGTH(lo) - boff);
        memcpy(d, (const char *)PyUnicode_DATA(lo) + boff, m);
        d += m;
    }
    *len = total;
    return L->scratch;
}

/* records.block_facts(t[:n]) (a tuple, or None when the grammar rejects the text), a borrowed reference
 * (NULL: an error), through the lane's table first: a trace logged many times over costs a hash and a
 * compare, not a str and a Python call */
static PyObject *facts_of(Lane *L, const char *t, size_t n) {
    if (!L->fc && !(L->fc = PyMem_Calloc(FC_SLOTS, sizeof(struct FactsEntry)))) return PyErr_NoMemory();
    uint64_t h = shash(t, n);
    size_t b = (size_t)h & (FC_SLOTS - 1);
    for (struct FactsEntry *e; (e = &L->fc[b])->text; b = (b + 1) & (FC_SLOTS - 1))
        if (e->h == h && (size_t)PyUnicode_GET_LENGTH(e->text) == n && memcmp(PyUnicode_DATA(e->text), t, n) == 0)
            return e->facts;
    PyObject *text = astr(t, (Py_ssize_t)n);
    PyObject *facts = text ? PyObject_CallOneArg(L->block_facts, text) : NULL;
    if (!facts) {
        Py_XDECREF(text);
        return NULL;
    }
    if (L->fc_used >= FC_MAX) fc_clear(L); /* the rows keep their own */
    for (b = (size_t)h & (FC_SLOTS - 1); L->fc[b].text; b = (b + 1) & (FC_SLOTS - 1)) {} /* (after Python ran) */
    L->fc[b] = (struct FactsEntry){h, text, facts};
    L->fc_used++;
    return facts;
}

/* the slot as a Python Rec (framer._lane_rec builds it and matches its header) */
static PyObject *slot_rec(Lane *L, Slot *sl) {
    PyObject *raws = sl->raws, *bodies = slot_bodies(sl);
    if (!bodies) return NULL;
    if (!raws) {
        raws = PyList_New(1);
        if (!raws) {
            Py_DECREF(bodies);
            return NULL;
        }
        PyList_SET_ITEM(raws, 0, Py_NewRef(sl->first));
    } else {
        Py_INCREF(raws);
    }
    PyObject *stamp = sl->stamp_e ? PyUnicode_Substring(sl->first, sl->stamp_s, sl->stamp_e) : Py_NewRef(Py_None);
    if (!stamp) {
        Py_DECREF(raws);
        Py_DECREF(bodies);
        return NULL;
    }
    PyObject *r = PyObject_CallMethod(L->framer, "_lane_rec", "llOOOOOOlO", sl->line, sl->line_end, raws, bodies,
                                      stamp, sl->host ? sl->host : Py_None,
                                      sl->ident ? sl->ident : Py_None, sl->pid ? sl->pid : Py_None, sl->depth,
                                      sl->numbers ? sl->numbers : Py_None);
    Py_DECREF(stamp);
    Py_DECREF(raws);
    Py_DECREF(bodies);
    return r;
}

static int need_offset(Lane *L) {
    PyObject *o = PyObject_GetAttrString(L->yctx, "offset");
    if (!o) return -1;
    int r = o == Py_None;
    Py_DECREF(o);
    return r;
}

static int put_long_list(PyObject *list, long v) {
    PyObject *o = PyLong_FromLong(v);
    int rc = o ? PyList_Append(list, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* the error facts of a record with util.inspect data (records.emit_xo): the data's (block_facts), or, when
 * the data names no error, the message's (error_from_text, frames included). data NULL: an error already
 * set. 0, -1 error, -2 Python's turn (the grammar rejected the data). */
static int data_facts(Lane *L, const char *data, size_t dlen, const char *msg, size_t mlen, Row *r) {
    PyObject *facts = data ? facts_of(L, data, dlen) : NULL; /* borrowed */
    if (!facts || facts == Py_None) return facts ? -2 : -1;
    Py_INCREF(facts);
    PyObject *name, *code, *message, *frames;
    int ok = PyArg_ParseTuple(facts, "OOOO!", &name, &code, &message, &PyList_Type, &frames);
    if (ok) {
        r->ename = Py_NewRef(name);
        r->ecode = Py_NewRef(code);
        r->emsg = Py_NewRef(message);
        r->frames = PyList_GET_SIZE(frames) ? Py_NewRef(frames) : NULL; /* NULL: the shared empty list */
    }
    Py_DECREF(facts);
    if (!ok) return -1;
    if (r->ename == Py_None && r->ecode == Py_None && wants_error_facts(msg, mlen)) {
        row_clear(r); /* error_from_text's facts replace the data's, frames included */
        if (error_facts(L->facts, msg, mlen, &r->ename, &r->ecode, &r->emsg) < 0) return -1;
    }
    return 0;
}

/* a finished record: a fast row, or the Python framer's emit */
/* a record whose header line opens util.inspect data ("... unhandled error event {") and whose data
 * lines follow (records.emit_xo with _split_message's first case). 0 written, -1 error, -2 Python's turn. */
static int data_row(Lane *L, Slot *sl) {
    const char *body = (const char *)PyUnicode_DATA(sl->first) + sl->body_off;
    Py_ssize_t blen = PyUnicode_GET_LENGTH(sl->first) - sl->body_off;
    Py_ssize_t r0 = sl->hdr_end, r1 = blen;
    while (r1 > r0 && is_space(body[r1 - 1])) r1--; /* r = rest.rstrip() */
    /* records._split_message: the message is body[r0:h1]; the data is the line's part body[o0:o1] (none
     * when o0 < 0) and the continuation lines, joined by newlines */
    Py_ssize_t h1, o0 = -1, o1 = r1;
    if (r1 > r0 && (body[r1 - 1] == '{' || body[r1 - 1] == '[')) { /* "... XapiError {" */
        Py_ssize_t cut = -1;
        for (Py_ssize_t i = r1 - 1; i >= r0; i--)
            if (body[i] == ' ') {
                cut = i;
                break;
            }
        h1 = cut >= 0 ? cut : r0; /* message = r[:cut].rstrip(); opener = r[cut + 1:] (or all of r) */
        while (h1 > r0 && is_space(body[h1 - 1])) h1--;
        o0 = cut >= 0 ? cut + 1 : r0;
    } else { /* "Error in openNbdCBT Error: CBT is disabled", its frames below; or no data head at all */
        if (!L->has_errin) return -2;
        int rc = rx_exec(&L->errin, body + r0, (size_t)(blen - r0), 0);
        if (rc < 0) return -1;
        if (rc > 0) {
            Py_ssize_t pos = r0 + (Py_ssize_t)L->errin.ov[1];
            h1 = pos; /* message = rest[:pos].rstrip(); data = rest[pos:] and the lines below */
            while (h1 > r0 && is_space(body[h1 - 1])) h1--;
            o0 = pos;
            o1 = blen;
        } else {
            h1 = blen; /* message = rest; data = the lines below */
        }
    }
    size_t dn = 0;
    const char *data = o0 >= 0 ? join_bodies(L, sl, 1, body + o0, (size_t)(o1 - o0), &dn)
                               : join_bodies(L, sl, 1, NULL, 0, &dn);
    const char *msg = body + r0;
    size_t mlen = (size_t)(h1 - r0);
    Row r = {0};
    int rc = data_facts(L, data, dn, msg, mlen, &r); /* (Python keeps the line accounting of rejected data) */
    if (rc < 0) {
        row_clear(&r);
        return rc;
    }
    PyObject *nl = PyUnicode_FromStringAndSize("\n", 1);
    r.raw = nl ? PyUnicode_Join(nl, sl->raws) : NULL;
    Py_XDECREF(nl);
    size_t jn = 0;
    const char *jt = r.raw ? join_bodies(L, sl, 0, NULL, 0, &jn) : NULL; /* the ids' text */
    if (jt && control_in(jt, jn, 1)) { /* not plain text after all: Python's turn */
        row_clear(&r);
        return -2;
    }
    int bad = !jt || extract_ids(L->facts, jt, jn, r.ids, one_list, L) < 0;
    slot_fields(L, sl, &r);
    r.span = PyList_GET_SIZE(sl->raws);
    r.time_value = bad ? NULL : slot_time(L, sl, body, &r);
    r.message = bad ? NULL : astr(msg, (Py_ssize_t)mlen);
    if (!r.time_value || !r.message) {
        row_clear(&r);
        return -1;
    }
    return put_row(L, &r);
}

/* a one-line record whose util.inspect data ends the line ("... hidden { nDuplicates: 30 }": the last cases
 * of records._split_message). 0 written, -1 error, -2 Python's turn (data the grammar rejects), -3 no data
 * on the line after all (a plain row). */
static int inline_row(Lane *L, Slot *sl) {
    const char *body = (const char *)PyUnicode_DATA(sl->first) + sl->body_off;
    Py_ssize_t blen = PyUnicode_GET_LENGTH(sl->first) - sl->body_off;
    Py_ssize_t r0 = sl->hdr_end, r1 = blen;
    while (r1 > r0 && is_space(body[r1 - 1])) r1--; /* r = rest.rstrip() */
    if (r1 == r0 || (body[r1 - 1] != '}' && body[r1 - 1] != ']')) return -3;
    int brace = body[r1 - 1] == '}';
    const char *at = find(body + r0, (size_t)(r1 - r0), brace ? " { " : " [ ", 3); /* the first one */
    Py_ssize_t m1, d0; /* message = r[:m1], data = r[d0:] */
    if (at) {
        m1 = at - body;
        d0 = m1 + 1;
    } else if (brace && r1 - r0 >= 2 && body[r0] == '{' && body[r0 + 1] == ' ') {
        m1 = d0 = r0;
    } else {
        return -3;
    }
    if (!L->block_facts) return -2;
    const char *msg = body + r0;
    size_t mlen = (size_t)(m1 - r0);
    Row r = {0};
    int rc = data_facts(L, body + d0, (size_t)(r1 - d0), msg, mlen, &r); /* (-2: emit_xo's fallback) */
    if (rc < 0) {
        row_clear(&r);
        return rc;
    }
    slot_fields(L, sl, &r);
    r.span = 1;
    r.raw = Py_NewRef(sl->first);
    r.time_value = slot_time(L, sl, body, &r);
    r.message = r.time_value ? astr(msg, (Py_ssize_t)mlen) : NULL;
    if (!r.message || (sl->pre_ids ? id_lists(L->facts, body, sl->pre_hits, sl->pre_n, r.ids, one_list, L)
                                   : extract_ids(L->facts, body, (size_t)blen, r.ids, one_list, L)) < 0) {
        row_clear(&r);
        return -1;
    }
    return put_row(L, &r);
}

static int finish(Lane *L, Slot *sl, int *offset_unknown) {
    int rc = -2;
    if (!(*offset_unknown && sl->stamp_e && PyUnicode_READ_CHAR(sl->first, sl->stamp_s) >= 'A')) {
        /* (else emit_xo learns the journal offset from it) */
        if (!sl->raws) {
            rc = inline_row(L, sl);
            if (rc == -3) rc = fast_row(L, sl);
        } else if (L->block_facts) {
            rc = data_row(L, sl);
        }
    }
    if (rc == -2) {
        PyObject *rec = slot_rec(L, sl);
        PyObject *mn = rec ? PyUnicode_InternFromString("_emit") : NULL;
        PyObject *r = mn ? PyObject_CallMethodOneArg(L->framer, mn, rec) : NULL;
        Py_XDECREF(mn);
        Py_XDECREF(rec);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
        if (rc == 0 && *offset_unknown) {
            int u = need_offset(L);
            if (u < 0) rc = -1;
            else *offset_unknown = u;
        }
    }
    slot_clear(sl);
    return rc;
}

static Slot *find_slot(Lane *L, PyObject *ident, PyObject *pid) {
    for (int i = 0; i < MAXOPEN; i++)
        if (L->slots[i].used && L->slots[i].ident == ident && L->slots[i].pid == pid) return &L->slots[i];
    return NULL;
}

static PyObject *key_of(PyObject *ident, PyObject *pid) {
    return PyTuple_Pack(2, ident ? ident : Py_None, pid ? pid : Py_None);
}

/* hand every open slot to the Python framer; framer.last = the slot touched last */
static int flush(Lane *L, Slot *last) {
    /* in the order the records opened: the Python framer's open dict keeps that order, and close() emits
     * in it (which record a pending row takes its time from, which one teaches the journal's offset) */
    PyObject *open = PyObject_GetAttrString(L->framer, "open");
    int rc = open ? 0 : -1;
    for (;;) {
        Slot *sl = NULL;
        for (int i = 0; i < MAXOPEN; i++)
            if (L->slots[i].used && (!sl || L->slots[i].seq < sl->seq)) sl = &L->slots[i];
        if (!sl) break;
        if (rc == 0) { /* after an error, only clear: no slot may outlive the run (borrowed cache entries) */
            PyObject *rec = slot_rec(L, sl);
            PyObject *key = rec ? key_of(sl->ident, sl->pid) : NULL;
            if (!key || PyDict_SetItem(open, key, rec) < 0) rc = -1;
            if (rc == 0 && sl == last && PyObject_SetAttrString(L->framer, "last", rec) < 0) rc = -1;
            Py_XDECREF(key);
            Py_XDECREF(rec);
        }
        slot_clear(sl);
    }
    Py_XDECREF(open);
    return rc;
}

static int bump(PyObject *counts, PyObject *name, long by) {
    if (!by) return 0;
    PyObject *cur = PyDict_GetItemWithError(counts, name);
    if (!cur) return PyErr_Occurred() ? -1 : 0;
    long v = PyLong_AsLong(cur);
    if (v == -1 && PyErr_Occurred()) return -1;
    PyObject *nv = PyLong_FromLong(v + by);
    int rc = nv ? PyDict_SetItem(counts, name, nv) : -1;
    Py_XDECREF(nv);
    return rc;
}

/* run(lines, start, first_line, pre=None) -> index of the first line left to the Python framer */
static PyObject *lane_run_(Lane *L, PyObject *lines, Py_ssize_t start, long first_line, Pre *P);

static PyObject *lane_run(Lane *L, PyObject *args) {
    PyObject *lines, *pre = Py_None;
    Py_ssize_t start;
    long first_line;
    if (!PyArg_ParseTuple(args, "Onl|O", &lines, &start, &first_line, &pre)) return NULL;
    if (!PyList_Check(lines) && !PyTuple_Check(lines)) {
        PyErr_SetString(PyExc_TypeError, "run takes a list or tuple of str");
        return NULL;
    }
    if (pre != Py_None && (!PyObject_TypeCheck(pre, &PreType) || ((Pre *)pre)->owner != L->serial ||
                           ((Pre *)pre)->lines != lines)) {
        PyErr_SetString(PyExc_ValueError, "pre must be this lane's prematch of these lines");
        return NULL;
    }
    if (!L->ready || L->running) {
        PyErr_SetString(PyExc_RuntimeError, L->ready ? "Lane.run is not re-entrant" : "Lane is not initialised");
        return NULL;
    }
    if (start < 0 || start > Py_SIZE(lines)) {
        PyErr_SetString(PyExc_IndexError, "start out of range");
        return NULL;
    }
    L->running = 1;
    PyObject *r = lane_run_(L, lines, start, first_line, pre == Py_None ? NULL : (Pre *)pre);
    L->running = 0;
    return r;
}

/* lines (a list or tuple) is read live (a callback could change a list): its length is checked on every
 * line and the line being read is held */
static PyObject *lane_run_(Lane *L, PyObject *lines, Py_ssize_t start, long first_line, Pre *P) {
    PyObject *colsd = PyObject_GetAttrString(L->builder, "cols");
    if (!colsd) return NULL;
    for (int c = 0; c < NCOLS; c++) {
        L->cols[c] = PyDict_GetItemString(colsd, COLNAMES[c]);
        int ints = c == C_LINE || c == C_LINE_END || c == C_SPAN;
        PyTypeObject *want = ints ? &IntColType : col_sparse(c) ? &SparseColType : &PyList_Type;
        if (!L->cols[c] || !PyObject_TypeCheck(L->cols[c], want) ||
            (want == &SparseColType && ((SparseCol *)L->cols[c])->dflt != col_default(L, c))) {
            for (int k = 0; k < c; k++) Py_CLEAR(L->cols[k]);
            Py_DECREF(colsd);
            PyErr_Format(PyExc_RuntimeError, "builder has no column %s (%s)", COLNAMES[c],
                         ints ? "an IntColumn" : want == &SparseColType ? "a SparseColumn of its default" : "a list");
            return NULL;
        }
        Py_INCREF(L->cols[c]); /* owned for the run */
    }
    PyObject *tk = PyObject_GetAttrString(L->builder, "time_kind");
    PyObject *tv = PyObject_GetAttrString(L->builder, "time_value");
    PyObject *pend = PyObject_GetAttrString(L->builder, "pending");
    PyObject *open = PyObject_GetAttrString(L->framer, "open");
    PyObject *counts = PyObject_GetAttrString(L->framer, "counts");
    PyObject *result = NULL;
    if (!tk || !tv || !pend || !open || !counts) goto done;
    if (!PyList_Check(tk) || !PyObject_TypeCheck(tv, &IntColType) || !PyList_Check(pend) || !PyDict_Check(open) ||
        !PyDict_Check(counts)) {
        PyErr_SetString(PyExc_RuntimeError, "builder's time_kind and pending must be lists and its time_value an "
                                            "IntColumn, framer's open and counts dicts");
        goto done;
    }
    L->time_kind = tk;
    L->time_value = (IntCol *)tv;
    L->icols[0] = (IntCol *)L->cols[C_LINE];
    L->icols[1] = (IntCol *)L->cols[C_LINE_END];
    L->icols[2] = (IntCol *)L->cols[C_SPAN];
    L->pending = pend;
    if (L->cache.used > ICACHE * 3 / 4) { /* no slot is open between runs */
        icache_clear(&L->cache);
        L->pfx_n = 0; /* its parts were the cache's */
        pid_cache_clear(L);
    }
    int offset_unknown = need_offset(L);
    if (offset_unknown < 0) goto done;
    int foreign = PyDict_Size(open) > 0;
    long n_xo = 0, n_prefixed = 0, n_xapi = 0, last_xapi = 0;
    int last_bt = 0; /* the line read last joined the open backtrace record */
    Slot *last = NULL;
    Py_ssize_t i = start;
    int failed = 0;
    PyObject *held = NULL;
    int tuple = PyTuple_Check(lines);
    for (; i < Py_SIZE(lines); i++) { /* (a list's size and items are read again on every line) */
        PyObject *lo = tuple ? PyTuple_GET_ITEM(lines, i) : PyList_GET_ITEM(lines, i);
        if (tuple && i + PREFETCH_AHEAD < Py_SIZE(lines)) { /* a tuple's lines stay put: fetch one ahead */
            const char *ahead = (const char *)PyTuple_GET_ITEM(lines, i + PREFETCH_AHEAD);
            __builtin_prefetch(ahead, 1);      /* its header (written: references) and its text, */
            __builtin_prefetch(ahead + 64, 0); /* which the batch's split wrote long enough ago to */
            __builtin_prefetch(ahead + 128, 0); /* have left this core's cache */
        }
        if (P && i + 2 * PREFETCH_AHEAD < P->n) /* the prematch's results, which the helper's core wrote */
            __builtin_prefetch(&P->ln[i + 2 * PREFETCH_AHEAD]);
        if (P && i + PREFETCH_AHEAD < P->n) {
            const PreLine *q = &P->ln[i + PREFETCH_AHEAD];
            if (q->sys_rc > 0) __builtin_prefetch(P->ov + q->sys_ov);
            if (q->hdr_rc > 0) __builtin_prefetch(P->ov + q->hdr_ov);
            if (q->ids_ok && q->ids_n) __builtin_prefetch(P->hits + q->ids_at);
        }
        if (!tuple) Py_XSETREF(held, Py_NewRef(lo)); /* a tuple holds its lines for the whole run */
        PreLine *pl = pre_line(P, i, lo); /* the prematch's results for this line, if any */
        if (pl && pl->ok == 0) break;
        if (pl && pl->ok != 1) pl = NULL;
        if (!pl && (!PyUnicode_Check(lo) || !PyUnicode_IS_ASCII(lo))) break;
        const char *s = (const char *)PyUnicode_DATA(lo);
        size_t len = (size_t)PyUnicode_GET_LENGTH(lo);
        if (!pl && (len == 0 || has_control(s, len))) break;
        long n = first_line + (long)i;
        size_t boff = 0;
        PyObject *host = NULL, *ident = NULL, *pid = NULL; /* borrowed from the intern cache */
        size_t stamp_s = 0, stamp_e = 0;
        char c0 = s[0];
        if ((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z') || (c0 >= '0' && c0 <= '9')) {
            int rc = pre_take(P, pl, 0, &L->syslog);
            if (rc == PRE_NOT_RUN) rc = rx_exec(&L->syslog, s, len, 0);
            if (rc < 0) { failed = 1; break; }
            if (rc > 0) {
                Rx *x = &L->syslog;
                int g = g_set(x, L->g_short) ? L->g_short : L->g_iso;
                size_t hs = g_s(x, L->g_host), has_pid = (size_t)g_set(x, L->g_pid);
                size_t pe = has_pid ? g_e(x, L->g_pid) : g_e(x, L->g_ident);
                size_t off[5] = {g_s(x, L->g_ident) - hs, g_e(x, L->g_ident) - hs,
                                 has_pid ? g_s(x, L->g_pid) - hs : 0, has_pid ? pe - hs : 0, has_pid};
                if (L->pfx_n && pe - hs == L->pfx_n && memcmp(off, L->pfx_off, sizeof off) == 0 &&
                    memcmp(s + hs, L->pfx, L->pfx_n) == 0) { /* the line before's host, ident and pid */
                    host = L->pfx_host;
                    ident = L->pfx_ident;
                    pid = L->pfx_pid;
                } else {
                    host = icache_get(&L->cache, s + hs, g_e(x, L->g_host) - hs);
                    ident = host ? icache_get(&L->cache, s + g_s(x, L->g_ident), g_e(x, L->g_ident) - g_s(x, L->g_ident))
                                 : NULL;
                    if (!ident) { failed = PyErr_Occurred() != NULL; break; }
                    if (has_pid) {
                        if (g_e(x, L->g_pid) - g_s(x, L->g_pid) > PID_DIGITS) break; /* records.pid_number: Python */
                        pid = icache_get(&L->cache, s + g_s(x, L->g_pid), g_e(x, L->g_pid) - g_s(x, L->g_pid));
                        if (!pid) { failed = PyErr_Occurred() != NULL; break; }
                    }
                    L->pfx_n = 0;
                    if (pe - hs <= sizeof L->pfx) {
                        memcpy(L->pfx, s + hs, pe - hs);
                        memcpy(L->pfx_off, off, sizeof off);
                        L->pfx_host = host;
                        L->pfx_ident = ident;
                        L->pfx_pid = pid;
                        L->pfx_n = pe - hs;
                    }
                }
                stamp_s = g_s(x, g);
                stamp_e = g_e(x, g);
                boff = x->ov[1];
            }
        }
        const char *b = s + boff;
        size_t blen = len - boff;
        char b0 = blen ? b[0] : 0;
        if (b0 >= '0' && b0 <= '9' && blen > 24 && b[4] == '-') {
            int rc = pre_take(P, pl, 1, &L->xohdr);
            if (rc == PRE_NOT_RUN) rc = rx_exec(&L->xohdr, b, blen, 0);
            if (rc < 0) { failed = 1; break; }
            if (rc > 0) {
                if (L->bt.used) { /* LineFramer: _close_bt() before anything else */
                    int r = bt_finish(L);
                    if (r == -2) break;
                    if (r < 0) { failed = 1; break; }
                }
                Rx *x = &L->xohdr;
                PyObject *ns = icache_get(&L->cache, b + g_s(x, L->g_ns), g_e(x, L->g_ns) - g_s(x, L->g_ns));
                PyObject *lv = ns ? icache_get(&L->cache, b + g_s(x, L->g_level), g_e(x, L->g_level) - g_s(x, L->g_level))
                                  : NULL;
                if (!lv) { failed = PyErr_Occurred() != NULL; break; }
                size_t iso_s = g_s(x, L->g_time), iso_e = g_e(x, L->g_time), hdr_end = x->ov[1];
                if (foreign) {
                    PyObject *key = key_of(ident, pid);
                    int in = key ? PyDict_Contains(open, key) : -1;
                    PyObject *r = NULL;
                    if (in == 1) {
                        PyObject *mn = PyUnicode_InternFromString("_close_key");
                        r = mn ? PyObject_CallMethodOneArg(L->framer, mn, key) : NULL;
                        Py_XDECREF(mn);
                    }
                    Py_XDECREF(key);
                    if (in < 0 || (in == 1 && !r)) { failed = 1; break; }
                    Py_XDECREF(r);
                    foreign = PyDict_Size(open) > 0;
                }
                Slot *sl = find_slot(L, ident, pid);
                if (sl && finish(L, sl, &offset_unknown) < 0) { failed = 1; break; }
                if (!sl) {
                    for (int k = 0; k < MAXOPEN; k++)
                        if (!L->slots[k].used) { sl = &L->slots[k]; break; }
                    if (!sl) { break; } /* too many interleaved processes: Python's turn */
                }
                sl->used = 1;
                sl->seq = ++L->seq;
                sl->ident = ident;
                sl->pid = pid;
                sl->pid_int = NULL;
                if (pid && !(sl->pid_int = Py_XNewRef(pid_number(L, pid)))) { sl->used = 0; failed = 1; break; }
                sl->stamp_s = (Py_ssize_t)stamp_s;
                sl->stamp_e = (Py_ssize_t)stamp_e;
                sl->host = host;
                sl->first = Py_NewRef(lo);
                sl->body_off = (Py_ssize_t)boff;
                sl->line = sl->line_end = n;
                long d = pre_brackets(pl, b, blen);
                sl->depth = d > 0 ? d : 0;
                sl->iso_s = (Py_ssize_t)iso_s;
                sl->iso_e = (Py_ssize_t)iso_e;
                sl->hdr_end = (Py_ssize_t)hdr_end;
                sl->ns = ns;
                sl->lv = lv;
                sl->pre_ids = pl && pl->ids_ok;
                sl->pre_wants = pl ? pl->wants_err : -1;
                sl->pre_iso_ok = pl && pl->iso_ok;
                sl->pre_iso = pl ? pl->iso : 0;
                if (sl->pre_ids) {
                    sl->pre_hits = P->hits + pl->ids_at;
                    sl->pre_n = pl->ids_n;
                }
                if (stamp_e) n_prefixed++;
                else n_xo++;
                last = sl;
                last_xapi = 0;
                last_bt = 0;
                continue;
            }
        }
        /* not a header: a continuation of an open record, or the Python framer's line */
        size_t k = 0;
        while (k < blen && (b[k] == ' ' || b[k] == '\t')) k++;
        if (k == blen) break; /* blank */
        int is_nbd = ident == L->s_xapi_nbd; /* both interned (icache_get interns what it caches) */
        if (b0 == '[') { /* a xapi line (LineFramer._xapi), or a blob note */
            if (!L->has_xapi || is_nbd) break;
            int rc = pre_take(P, pl, 2, &L->xapi);
            if (rc == PRE_NOT_RUN) rc = rx_exec(&L->xapi, b, blen, 0);
            if (rc < 0) { failed = 1; break; }
            if (rc == 0) break;
            size_t bs = g_s(&L->xapi, L->g_brand), be = g_e(&L->xapi, L->g_brand);
            if (find(s, len, "#0", 2) || find(s, len, "\\x", 2)) break; /* escapes (host too): Python decodes */
            if (be - bs == 9 && memcmp(b + bs, "backtrace", 9) == 0) { /* grouped by thread and host */
                if (!L->has_bt) break;
                rc = bt_line(L, lo, s, b, blen, stamp_s, stamp_e, host, ident, pid, n);
                if (rc == -2) break;
                if (rc < 0) { failed = 1; break; }
                n_xapi++;
                last = NULL;
                last_xapi = 0;
                last_bt = 1;
                continue;
            }
            if (L->bt.used) { /* LineFramer._xapi: _close_bt() before the record */
                rc = bt_finish(L);
                if (rc == -2) break;
                if (rc < 0) { failed = 1; break; }
            }
            int pre_ids = pl && pl->xapi_rc > 0 && pl->ids_ok;
            rc = xapi_row(L, lo, s, len, b, blen, stamp_s, stamp_e, host, ident, pid, n,
                          pre_ids ? P->hits + pl->ids_at : NULL, pre_ids ? pl->ids_n : 0);
            if (rc == -2) break; /* a shape left to Python */
            if (rc < 0) { failed = 1; break; }
            n_xapi++;
            last = NULL;
            last_xapi = n;
            last_bt = 0;
            continue;
        }
        if (is_nbd) break;
        if (blen >= 17 && memcmp(b, "message repeated ", 17) == 0) break;
        Slot *sl = find_slot(L, ident, pid);
        if (!sl || !(b0 == ' ' || b0 == '\t' || b0 == '}' || b0 == ']' || b0 == ')' || sl->depth > 0)) break;
        /* append (LineFramer._add_line / _append) */
        if (!sl->raws) {
            sl->raws = PyList_New(1);
            if (!sl->raws) { failed = 1; break; }
            PyList_SET_ITEM(sl->raws, 0, Py_NewRef(sl->first));
            if (!(sl->boffs = PyMem_Malloc(16 * sizeof *sl->boffs))) { PyErr_NoMemory(); failed = 1; break; }
            sl->cap_boffs = 16;
            sl->boffs[0] = sl->body_off;
        }
        if (!sl->numbers && n != sl->line_end + 1) {
            sl->numbers = PyList_New(0);
            if (!sl->numbers) { failed = 1; break; }
            for (long m = sl->line; m <= sl->line_end; m++)
                if (put_long_list(sl->numbers, m) < 0) { failed = 1; break; }
            if (failed) break;
        }
        if (sl->numbers && put_long_list(sl->numbers, n) < 0) { failed = 1; break; }
        Py_ssize_t nr = PyList_GET_SIZE(sl->raws);
        if (nr == sl->cap_boffs) {
            Py_ssize_t *grown = PyMem_Realloc(sl->boffs, (size_t)(2 * nr) * sizeof *grown);
            if (!grown) { PyErr_NoMemory(); failed = 1; break; }
            sl->boffs = grown;
            sl->cap_boffs = 2 * nr;
        }
        if (PyList_Append(sl->raws, lo) < 0) { failed = 1; break; }
        sl->boffs[nr] = (Py_ssize_t)boff;
        sl->line_end = n;
        if (sl->depth > 0) sl->depth += pre_brackets(pl, b, blen);
        last = sl;
        last_xapi = 0;
        last_bt = 0;
    }
    Py_XDECREF(held);
    if (!failed && last_xapi) { /* framer.last: the xapi record just emitted */
        PyObject *r = PyObject_CallMethod(L->framer, "_lane_last", "l", last_xapi);
        if (!r) failed = 1;
        Py_XDECREF(r);
    }
    if (!failed) {
        if (bt_hand_over(L, last_bt) < 0) failed = 1;
    }
    if (!failed) {
        if (flush(L, last) < 0) failed = 1;
    } else {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        bt_clear(&L->bt); /* after an error: nothing outlives the run (borrowed cache entries) */
        flush(L, last);
        PyErr_Restore(et, ev, tb);
    }
    if (!failed && (bump(counts, L->s_xo, n_xo) < 0 || bump(counts, L->s_xo_prefixed, n_prefixed) < 0 ||
                    bump(counts, L->s_xapi, n_xapi) < 0))
        failed = 1;
    if (!failed) result = PyLong_FromSsize_t(i);
done:
    Py_XDECREF(colsd);
    Py_XDECREF(tk);
    Py_XDECREF(tv);
    Py_XDECREF(pend);
    Py_XDECREF(open);
    Py_XDECREF(counts);
    L->time_kind = L->pending = NULL;
    L->time_value = NULL;
    L->icols[0] = L->icols[1] = L->icols[2] = NULL;
    for (int c = 0; c < NCOLS; c++) Py_CLEAR(L->cols[c]);
    return result;
}

/* ---- type and module -------------------------------------------------------------------------- */
static PyObject *lane_rows(Lane *L, void *closure) { return PyLong_FromLong(L->rows); }

static PyObject *lane_prematch(Lane *L, PyObject *lines) {
    if (!L->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Lane is not initialised");
        return NULL;
    }
    if (!L->pre_rx.ready && !L->pre_busy &&
        prerx_init(&L->pre_rx, &L->syslog, &L->xohdr, L->g_time, &L->xapi, L->has_xapi, L->facts) < 0)
        return NULL;
    return pre_new(lines, &L->pre_rx, L->facts, &L->pre_busy, L->serial);
}

static PyMethodDef lane_methods[] = {
    {"run", (PyCFunction)lane_run, METH_VARARGS,
     "run(lines, start, first_line, pre=None) -> index of the first line left to the Python framer"},
    {"prematch", (PyCFunction)lane_prematch, METH_O,
     "prematch(lines) -> Pre: run's regex work on these lines, done without the GIL (for another thread)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef lane_getset[] = {{"rows", (getter)lane_rows, NULL, "fast rows written", NULL},
                                    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xodiag._fastlane.Lane",
    .tp_basicsize = sizeof(Lane),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)lane_traverse,
    .tp_clear = (inquiry)lane_clear,
    .tp_free = PyObject_GC_Del,
    .tp_doc = "The compiled fast lane of one LineFramer (see xodiag/sources/fastlane.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)lane_init,
    .tp_dealloc = (destructor)lane_dealloc,
    .tp_methods = lane_methods,
    .tp_getset = lane_getset,
};
