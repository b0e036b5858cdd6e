/* xodiag._fastlane: Facts: events.extract_ids and events.error_from_text over plain ASCII text.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* ---- Facts: the id and error regexes of events.py ------------------------------------------- */
typedef struct {
    int n;
    const char *s[4];
    size_t len[4];
} Needles; /* literals without which a regex cannot match (any one of them); n == 0: no filter */

static int has_any(const char *t, size_t n, const Needles *nd) {
    if (nd->n == 0) return 1;
    for (int i = 0; i < nd->n; i++)
        if (find(t, n, nd->s[i], nd->len[i])) return 1;
    return 0;
}

typedef struct {
    PyObject_HEAD
    Rx ids, ids_a, ctx, exports, tasks, addrs, errhead, codeprop, xapicode, errno_, ocaml;
    int dash_off[4], n_dash_off;
    Needles need_head, need_cprop, need_cxapi, need_errno, need_ocaml;
    PyObject *needs; /* the five needle tuples of events._NEEDS (owned: the needles point into them) */
    int ready;
    int g_kind, g_vdi, g_head, g_msg, g_cprop, g_cxapi, g_cerrno, g_oname, g_oarg;
    PyObject *session_ctx; /* tuple of ASCII str */
    PyObject *empty;       /* events.EMPTY: the one empty list that empty cells share */
    SCache strs;           /* the ids and error names found so far, one str each */
} Facts;

static PyTypeObject FactsType;

static int facts_init(Facts *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"ids", "ctx", "exports", "task_refs", "addresses", "err_head", "code_prop",
                             "xapi_code", "errno", "ocaml", "session_ctx", "empty", "needs", "id_dash_offsets",
                             NULL};
    PyObject *specs[10], *session, *empty, *needs, *offsets;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOOOOO!O!O!O!", kwlist, &specs[0], &specs[1], &specs[2],
                                     &specs[3], &specs[4], &specs[5], &specs[6], &specs[7], &specs[8], &specs[9],
                                     &PyTuple_Type, &session, &PyList_Type, &empty, &PyDict_Type, &needs,
                                     &PyTuple_Type, &offsets))
        return -1;
    if (self->ready) { /* a lane's prematch thread may be matching with these compiled patterns */
        PyErr_SetString(PyExc_RuntimeError, "a Facts is initialised once");
        return -1;
    }
    if (rx_compile(&self->ids_a, specs[0], 1) < 0) return -1;
    self->n_dash_off = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(offsets) && i < 4; i++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(offsets, i));
        if (v < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad id_dash_offsets");
            return -1;
        }
        self->dash_off[self->n_dash_off++] = (int)v;
    }
    const char *need_keys[5] = {"err_head", "code_prop", "xapi_code", "errno", "ocaml"};
    Needles *need_dst[5] = {&self->need_head, &self->need_cprop, &self->need_cxapi, &self->need_errno,
                            &self->need_ocaml};
    PyObject *owned = PyTuple_New(5);
    if (!owned) return -1;
    for (int k = 0; k < 5; k++) { /* validate everything before pointing into it */
        PyObject *tup = PyDict_GetItemString(needs, need_keys[k]);
        int ok = tup && PyTuple_Check(tup) && PyTuple_GET_SIZE(tup) <= 4;
        for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(tup); i++) {
            PyObject *lit = PyTuple_GET_ITEM(tup, i);
            ok = PyUnicode_Check(lit) && PyUnicode_IS_ASCII(lit) && PyUnicode_GET_LENGTH(lit) > 0;
        }
        if (!ok) {
            Py_DECREF(owned);
            PyErr_Format(PyExc_ValueError, "needs[%s] must be a tuple of at most 4 non-empty ASCII str",
                         need_keys[k]);
            return -1;
        }
        PyTuple_SET_ITEM(owned, k, Py_NewRef(tup));
    }
    Py_XSETREF(self->needs, owned);
    for (int k = 0; k < 5; k++) {
        PyObject *tup = PyTuple_GET_ITEM(owned, k);
        need_dst[k]->n = 0;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tup); i++) {
            PyObject *lit = PyTuple_GET_ITEM(tup, i);
            need_dst[k]->s[i] = (const char *)PyUnicode_DATA(lit);
            need_dst[k]->len[i] = (size_t)PyUnicode_GET_LENGTH(lit);
            need_dst[k]->n++;
        }
    }
    Rx *rxs[10] = {&self->ids, &self->ctx, &self->exports, &self->tasks, &self->addrs, &self->errhead,
                   &self->codeprop, &self->xapicode, &self->errno_, &self->ocaml};
    for (int i = 0; i < 10; i++)
        if (rx_compile(rxs[i], specs[i], 0) < 0) return -1;
#define G(field, rx, name) if ((self->field = rx_group(&self->rx, name)) < 0) return -1;
    G(g_kind, ctx, "kind") G(g_vdi, exports, "vdi") G(g_head, errhead, "head") G(g_msg, errhead, "msg")
    G(g_cprop, codeprop, "code") G(g_cxapi, xapicode, "code") G(g_cerrno, errno_, "code")
    G(g_oname, ocaml, "name") G(g_oarg, ocaml, "arg")
#undef G
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(session); i++)
        if (!PyUnicode_Check(PyTuple_GET_ITEM(session, i)) || !PyUnicode_IS_ASCII(PyTuple_GET_ITEM(session, i))) {
            PyErr_SetString(PyExc_TypeError, "session_ctx must hold ASCII str");
            return -1;
        }
    Py_INCREF(session);
    Py_XSETREF(self->session_ctx, session);
    Py_INCREF(empty);
    Py_XSETREF(self->empty, empty);
    self->ready = 1;
    return 0;
}

static void facts_dealloc(Facts *self) {
    Rx *rxs[11] = {&self->ids, &self->ctx, &self->exports, &self->tasks, &self->addrs, &self->errhead,
                   &self->codeprop, &self->xapicode, &self->errno_, &self->ocaml, &self->ids_a};
    for (int i = 0; i < 11; i++) rx_free(rxs[i]);
    Py_XDECREF(self->needs);
    Py_XDECREF(self->session_ctx);
    Py_XDECREF(self->empty);
    scache_free(&self->strs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- ids and error facts: events.extract_ids and events.error_from_text, over ASCII text ------- */
/* what extract_ids and the error trigger look for before running any regex, in one pass */
enum { HAS_DASH = 1, HAS_SESSION = 2, HAS_TASK = 4, HAS_DOT = 8 };
static int scan_flags(const char *t, size_t n) {
    int f = 0;
    if (memchr(t, '-', n)) f |= HAS_DASH;
    if (memchr(t, '.', n)) f |= HAS_DOT;
    for (const char *c = memchr(t, ':', n); c; c = memchr(c + 1, ':', (size_t)(t + n - c - 1))) {
        if (c > t && (c[-1] == 'R' || c[-1] == 'D')) {
            f |= HAS_TASK;
            break;
        }
    }
    if ((f & HAS_DASH) && find(t, n, "session_id=", 11)) f |= HAS_SESSION;
    return f;
}

/* ---- ids: found in one pass over the text (no object made, no GIL needed), then made into the row's
 * lists (events.extract_ids). The pass records each find in order; replaying the finds in that order
 * gives the lists extract_ids builds, duplicates dropped the same way. */
enum { L_VM, L_VDI, L_VBD, L_SR, L_UUIDS, L_REFS, L_TASKS, L_EXPORTS, L_ADDRS, L_NONE = 255 };

typedef struct {
    uint32_t s, e;       /* the value in the text */
    uint8_t list, mode;  /* the list it goes to, and scache_str's transform */
    uint8_t also;        /* a second list (the vm/vdi/vbd/sr its context names), or L_NONE */
} IdHit;

typedef struct {
    IdHit *h;
    size_t n, cap;
    IdHit *inline_; /* the caller's small buffer: h starts there and moves to the heap when it fills */
} HitBuf;

static int hits_add(HitBuf *b, size_t s, size_t e, int list, int mode, int also) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        IdHit *h = b->h == b->inline_ ? malloc(cap * sizeof *h) : realloc(b->h, cap * sizeof *h);
        if (!h) return -1;
        if (b->h == b->inline_ && b->n) memcpy(h, b->inline_, b->n * sizeof *h);
        b->h = h;
        b->cap = cap;
    }
    b->h[b->n++] = (IdHit){(uint32_t)s, (uint32_t)e, (uint8_t)list, (uint8_t)mode, (uint8_t)also};
    return 0;
}

static void hits_free(HitBuf *b) {
    if (b->h != b->inline_) free(b->h);
    b->h = b->inline_;
    b->n = 0;
}

/* the regexes one thread finds ids with (Facts' own, or clones with their own match data) */
typedef struct {
    Rx *ids_a, *ctx, *exports, *tasks, *addrs;
} IdRx;

#define ID_NOMEM (-1000) /* id_scan's result when a buffer could not grow; other negatives are PCRE2's */

/* the next _ID_RE match at or after pos: tried only where its first "-" can be (events._ID_DASH_OFFSETS),
 * leftmost first; >0 found (ids_a's ovector), 0 none, <0 error */
static int next_id(Facts *F, Rx *ids_a, const char *t, size_t n, size_t pos) {
    long prev = (long)pos - 1; /* candidates start after the previous "-" (a match has none before its first) */
    for (const char *d = memchr(t + pos, '-', n - pos); d; d = memchr(d + 1, '-', (size_t)(t + n - d - 1))) {
        long di = (long)(d - t);
        for (int k = F->n_dash_off - 1; k >= 0; k--) { /* largest offset = leftmost candidate first */
            long p = di - F->dash_off[k];
            if (p <= prev || p < (long)pos) continue;
            int rc = rx_run(ids_a, t, n, (size_t)p);
            if (rc != 0) return rc;
        }
        prev = di;
    }
    return 0;
}

/* every id events.extract_ids finds in t[:n] (plain ASCII), in its order, into out: 0, or <0 (a PCRE2
 * error code, or ID_NOMEM). Makes no Python object and holds no GIL. */
static int id_scan(Facts *F, const IdRx *R, const char *t, size_t n, HitBuf *out) {
    if (n > UINT32_MAX) return ID_NOMEM;
    int flags = scan_flags(t, n), rc = 0;
    if (flags & HAS_DASH) {
        if (flags & HAS_SESSION) {
            size_t pos = 0;
            while (pos <= n && (rc = rx_run(R->exports, t, n, pos)) > 0) {
                size_t s = g_s(R->exports, 0), e = g_e(R->exports, 0);
                size_t vs = g_s(R->exports, F->g_vdi), ve = g_e(R->exports, F->g_vdi);
                if (hits_add(out, s, e, L_EXPORTS, S_AS_IS, L_NONE) < 0 || hits_add(out, vs, ve, L_VDI, S_LOWER, L_NONE) < 0)
                    return ID_NOMEM;
                pos = e > s ? e : e + 1;
            }
            if (rc < 0) return rc;
        }
        size_t pos = 0;
        while (pos < n && (rc = next_id(F, R->ids_a, t, n, pos)) > 0) {
            size_t s = g_s(R->ids_a, 0), e = g_e(R->ids_a, 0);
            pos = e > s ? e : e + 1;
            size_t b = s >= 16 ? s - 16 : 0;
            int list = L_UUIDS, mode = S_LOWER;
            if (t[s] == 'O' || t[s] == 'o') {
                int secret = 0;
                for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(F->session_ctx); k++) {
                    PyObject *c = PyTuple_GET_ITEM(F->session_ctx, k);
                    size_t cl = (size_t)PyUnicode_GET_LENGTH(c);
                    if (s - b >= cl && memcmp(t + s - cl, PyUnicode_DATA(c), cl) == 0) {
                        secret = 1;
                        break;
                    }
                }
                if (secret) continue; /* a session id is a secret, not an object reference */
                list = L_REFS;
                mode = S_REF;
            }
            int also = L_NONE, c = rx_run(R->ctx, t + b, s - b, 0);
            if (c < 0) return c;
            if (c > 0) {
                size_t ks = g_s(R->ctx, F->g_kind), ke = g_e(R->ctx, F->g_kind);
                char k[4] = {0};
                for (size_t j = ks; j < ke && j - ks < 3; j++) k[j - ks] = (char)(t[b + j] | 0x20);
                also = (ke - ks == 2 && !strcmp(k, "vm")) ? L_VM
                       : (ke - ks == 3 && !strcmp(k, "vdi")) ? L_VDI
                       : (ke - ks == 3 && !strcmp(k, "vbd")) ? L_VBD
                       : (ke - ks == 2 && !strcmp(k, "sr")) ? L_SR : L_NONE;
            }
            if (hits_add(out, s, e, list, mode, also) < 0) return ID_NOMEM;
        }
        if (rc < 0) return rc;
    }
    if (flags & HAS_TASK) {
        size_t pos = 0;
        while (pos <= n && (rc = rx_run(R->tasks, t, n, pos)) > 0) {
            size_t s = g_s(R->tasks, 0), e = g_e(R->tasks, 0);
            if (hits_add(out, s, e, L_TASKS, S_AS_IS, L_NONE) < 0) return ID_NOMEM;
            pos = e > s ? e : e + 1;
        }
        if (rc < 0) return rc;
    }
    if (flags & HAS_DOT) {
        size_t pos = 0;
        while (pos <= n && (rc = rx_run(R->addrs, t, n, pos)) > 0) {
            size_t s = g_s(R->addrs, 0), e = g_e(R->addrs, 0);
            pos = e > s ? e : e + 1;
            int ok = 1, octet = 0;
            for (size_t k = s; k < e && t[k] != ':'; k++) {
                if (t[k] == '.') {
                    if (octet >= 256) ok = 0;
                    octet = 0;
                } else {
                    octet = octet * 10 + (t[k] - '0');
                }
            }
            if (octet >= 256) ok = 0;
            if (ok && hits_add(out, s, e, L_ADDRS, S_AS_IS, L_NONE) < 0) return ID_NOMEM;
        }
        if (rc < 0) return rc;
    }
    return 0;
}

static int id_scan_error(int rc) {
    if (rc == ID_NOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    return rx_error(rc);
}

/* One id list being filled: its first value alone (no list yet: most lists hold one id), then a list. */
typedef struct {
    PyObject *first, *list;
} IdCol;

static int same_str(PyObject *a, PyObject *b) {
    return a == b || (PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) &&
                      memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)PyUnicode_GET_LENGTH(a)) == 0);
}

/* add value unless an equal string is in the column already; steals value */
static int add_to(IdCol *c, PyObject *value) {
    if (!value) return -1;
    if (!c->list) {
        if (!c->first) {
            c->first = value;
            return 0;
        }
        if (same_str(c->first, value)) {
            Py_DECREF(value);
            return 0;
        }
        if (!(c->list = PyList_New(2))) {
            Py_DECREF(value);
            return -1;
        }
        PyList_SET_ITEM(c->list, 0, c->first);
        PyList_SET_ITEM(c->list, 1, value);
        c->first = NULL;
        return 0;
    }
    int found = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(c->list) && !found; i++)
        found = same_str(PyList_GET_ITEM(c->list, i), value);
    int rc = found ? 0 : PyList_Append(c->list, value);
    Py_DECREF(value);
    return rc;
}

/* A one-id list for a row: the lane's shared one (share), or a new list. Takes id; a new reference. */
typedef PyObject *(*OneIdList)(void *owner, PyObject *id);

/* the lists of id_scan's finds in t. out[9] (vm, vdi, vbd, sr, uuids, refs, task_refs, export_names,
 * addresses) must be NULL on entry; a list stays NULL while it is empty. A list of one id comes from one
 * (owner) when it is given, else it is a new list. */
static int id_lists(Facts *F, const char *t, const IdHit *h, size_t nh, PyObject **out, OneIdList one,
                    void *owner) {
    IdCol cols[9] = {{0}};
    int bad = 0;
    for (size_t i = 0; i < nh && !bad; i++) {
        PyObject *v = scache_str(&F->strs, t + h[i].s, h[i].e - h[i].s, h[i].mode);
        if (!v) {
            bad = 1;
        } else if (h[i].also != L_NONE) {
            Py_INCREF(v);
            if (add_to(&cols[h[i].list], v) < 0) {
                Py_DECREF(v);
                bad = 1;
            } else {
                bad = add_to(&cols[h[i].also], v) < 0;
            }
        } else {
            bad = add_to(&cols[h[i].list], v) < 0;
        }
    }
    for (int k = 0; k < 9; k++) {
        if (cols[k].first && !bad) {
            PyObject *lst = one ? one(owner, cols[k].first) : PyList_New(1);
            if (lst && !one) PyList_SET_ITEM(lst, 0, Py_NewRef(cols[k].first));
            bad = !lst;
            out[k] = lst;
        } else if (cols[k].list) {
            out[k] = bad ? NULL : Py_NewRef(cols[k].list);
        }
        Py_XDECREF(cols[k].first);
        Py_XDECREF(cols[k].list);
    }
    return bad ? -1 : 0;
}

/* events.extract_ids over plain ASCII text, into out[9] as id_lists fills it */
static int extract_ids(Facts *F, const char *t, size_t n, PyObject **out, OneIdList one, void *owner) {
    IdHit inline_[32];
    HitBuf hb = {inline_, 0, 32, inline_};
    IdRx R = {&F->ids_a, &F->ctx, &F->exports, &F->tasks, &F->addrs};
    int rc = id_scan(F, &R, t, n, &hb);
    rc = rc < 0 ? id_scan_error(rc) : id_lists(F, t, hb.h, hb.n, out, one, owner);
    hits_free(&hb);
    return rc;
}

/* emit_xo's trigger for error_from_text on a message: "Error", "_" or "exception" in it */
static int wants_error_facts(const char *m, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = m[i];
        if (c == '_') return 1;
        if (c == 'E' && i + 5 <= n && memcmp(m + i, "Error", 5) == 0) return 1;
        if (c == 'e' && i + 9 <= n && memcmp(m + i, "exception", 9) == 0) return 1;
    }
    return 0;
}


/* name, code, message: new references (Py_None when absent) */
static int error_facts_(Facts *F, const char *t, size_t n, PyObject **name, PyObject **code, PyObject **msg);

/* events.error_from_text over plain ASCII text: new references (None when absent); nothing on failure */
static int error_facts(Facts *F, const char *t, size_t n, PyObject **name, PyObject **code, PyObject **msg) {
    int rc = error_facts_(F, t, n, name, code, msg);
    if (rc < 0) {
        Py_CLEAR(*name);
        Py_CLEAR(*code);
        Py_CLEAR(*msg);
    }
    return rc;
}

static int error_facts_(Facts *F, const char *t, size_t n, PyObject **name, PyObject **code, PyObject **msg) {
    *name = *code = *msg = NULL;
    int rc = has_any(t, n, &F->need_head) ? rx_exec(&F->errhead, t, n, 0) : 0;
    if (rc < 0) return -1;
    if (rc > 0) {
        size_t hs = g_s(&F->errhead, F->g_head), he = g_e(&F->errhead, F->g_head);
        const char *cut = find(t + hs, he - hs, " [", 2);
        if (cut) he = (size_t)(cut - t);
        if (!(*name = scache_str(&F->strs, t + hs, he - hs, S_AS_IS))) return -1;
        size_t ms = g_s(&F->errhead, F->g_msg), me = g_e(&F->errhead, F->g_msg);
        strip_ws(t, &ms, &me);
        if (me > ms && !(*msg = astr(t + ms, (Py_ssize_t)(me - ms)))) return -1;
    }
    Rx *crx[3] = {&F->codeprop, &F->xapicode, &F->errno_};
    int cg[3] = {F->g_cprop, F->g_cxapi, F->g_cerrno};
    Needles *cn[3] = {&F->need_cprop, &F->need_cxapi, &F->need_errno};
    for (int i = 0; i < 3; i++) {
        rc = has_any(t, n, cn[i]) ? rx_exec(crx[i], t, n, 0) : 0;
        if (rc < 0) return -1;
        if (rc > 0) {
            size_t cs = g_s(crx[i], cg[i]), ce = g_e(crx[i], cg[i]);
            if (!(*code = scache_str(&F->strs, t + cs, ce - cs, S_AS_IS))) return -1;
            break;
        }
    }
    if (!*name && has_any(t, n, &F->need_ocaml)) {
        rc = rx_exec(&F->ocaml, t, n, 0);
        if (rc < 0) return -1;
        if (rc > 0) {
            size_t ns = g_s(&F->ocaml, F->g_oname), ne = g_e(&F->ocaml, F->g_oname);
            if (!(ne - ns == 9 && memcmp(t + ns, "exception", 9) == 0)) {
                if (!(*name = scache_str(&F->strs, t + ns, ne - ns, S_AS_IS))) return -1;
                if (g_set(&F->ocaml, F->g_oarg)) {
                    size_t as = g_s(&F->ocaml, F->g_oarg), ae = g_e(&F->ocaml, F->g_oarg);
                    strip_ws(t, &as, &ae);
                    if (ae > as) {
                        Py_XDECREF(*msg);
                        if (!(*msg = astr(t + as, (Py_ssize_t)(ae - as)))) return -1;
                    }
                }
            }
        }
    }
    if (!*name) *name = Py_NewRef(Py_None);
    if (!*code) *code = Py_NewRef(Py_None);
    if (!*msg) *msg = Py_NewRef(Py_None);
    return 0;
}

static int facts_ready(Facts *F) {
    if (!F->ready) PyErr_SetString(PyExc_RuntimeError, "Facts is not initialised");
    return F->ready;
}

static PyObject *facts_extract_ids(Facts *F, PyObject *text) {
    if (!facts_ready(F)) return NULL;
    size_t n;
    const char *t = plain_text(text, &n);
    if (!t) Py_RETURN_NONE;
    PyObject *ids[9] = {0};
    if (extract_ids(F, t, n, ids, NULL, NULL) < 0) { /* the caller's own lists */
        for (int i = 0; i < 9; i++) Py_XDECREF(ids[i]);
        return NULL;
    }
    PyObject *out = PyTuple_New(9);
    for (int i = 0; i < 9 && out; i++)
        if (!ids[i] && !(ids[i] = PyList_New(0))) Py_CLEAR(out);
    if (!out) {
        for (int i = 0; i < 9; i++) Py_XDECREF(ids[i]);
        return NULL;
    }
    for (int i = 0; i < 9; i++) PyTuple_SET_ITEM(out, i, ids[i]);
    return out;
}

static PyObject *facts_error_facts(Facts *F, PyObject *text) {
    if (!facts_ready(F)) return NULL;
    size_t n;
    const char *t = plain_text(text, &n);
    if (!t) Py_RETURN_NONE;
    PyObject *name, *code, *msg;
    if (error_facts(F, t, n, &name, &code, &msg) < 0) {
        Py_XDECREF(name); Py_XDECREF(code); Py_XDECREF(msg);
        return NULL;
    }
    return Py_BuildValue("(NNN)", name, code, msg);
}

static PyMethodDef facts_methods[] = {
    {"extract_ids", (PyCFunction)facts_extract_ids, METH_O,
     "extract_ids(text) -> (vm, vdi, vbd, sr, uuids, refs, task_refs, export_names, addresses), "
     "or None when the text is not plain ASCII"},
    {"error_facts", (PyCFunction)facts_error_facts, METH_O,
     "error_facts(text) -> (name, code, message), or None when the text is not plain ASCII"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject FactsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xodiag._fastlane.Facts",
    .tp_basicsize = sizeof(Facts),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "events.extract_ids and events.error_from_text over plain ASCII text, compiled.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)facts_init,
    .tp_dealloc = (destructor)facts_dealloc,
    .tp_methods = facts_methods,
};
