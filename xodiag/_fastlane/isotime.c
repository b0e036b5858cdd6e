/* xodiag._fastlane: ISO 8601 times to epoch nanoseconds.
 * Part of one translation unit: included by xodiag/_fastlane.c, not compiled on its own. */

/* ---- ISO times ---------------------------------------------------------------------------------- */
static int num(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

static int digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int64_t days_from_civil(int64_t y, int m, int d) { /* proleptic Gregorian, 1970-01-01 = 0 */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH[:]MM)" (the shape the xo header grammar allows) -> ns since the
 * epoch, UTC. 0 = handled; -1 = leave it to pandas (out of range or odd), which is the reference. */
static int iso_ns(const char *s, size_t n, int64_t *out) {
    if (n < 20) return -1;
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2), h = num(s + 11, 2), mi = num(s + 14, 2),
        se = num(s + 17, 2);
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1677 || y > 2262 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > dim[mo - 1] + (mo == 2 && leap)) return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        int digits = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) frac = frac * 10 + (s[i] - '0');
        if (digits < 1 || digits > 9) return -1;
        for (; digits < 9; digits++) frac *= 10;
    }
    int64_t off = 0;
    if (i < n && s[i] == 'Z') {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        size_t rest = n - i - 1;
        int oh, om;
        const char *o = s + i + 1;
        if (rest == 5 && digits(o, 2) && o[2] == ':' && digits(o + 3, 2)) { oh = num(o, 2); om = num(o + 3, 2); }
        else if (rest == 4 && digits(o, 4)) { oh = num(o, 2); om = num(o + 2, 2); }
        else return -1;
        if (oh > 23 || om > 59) return -1;
        off = sign * ((int64_t)oh * 3600 + om * 60);
        i = n;
    } else {
        return -1;
    }
    if (i != n) return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    /* the UTC time must fall in years 1678..2261, as times.FIRST_YEAR / LAST_YEAR say for the Python path */
    if (secs < days_from_civil(1678, 1, 1) * 86400 || secs >= days_from_civil(2262, 1, 1) * 86400) return -1;
    *out = secs * 1000000000LL + frac;
    return 0;
}

/* iso_ns(text, compact=False) -> int | None: text checked against the shape first (any str is safe);
 * compact is xensource's "YYYYMMDDTHH:MM:SS..." form. None: leave it to pandas, the reference. */
static PyObject *mod_iso_ns(PyObject *self, PyObject *args) {
    PyObject *text;
    int compact = 0;
    if (!PyArg_ParseTuple(args, "U|p", &text, &compact)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    const char *s = (const char *)PyUnicode_DATA(text);
    size_t n = (size_t)PyUnicode_GET_LENGTH(text);
    char buf[64];
    if (compact) { /* "20260430T21:50:00.002Z" -> "2026-04-30T21:50:00.002Z" */
        if (n < 8 || n + 2 > sizeof buf) Py_RETURN_NONE;
        memcpy(buf, s, 4);
        buf[4] = '-';
        memcpy(buf + 5, s + 4, 2);
        buf[7] = '-';
        memcpy(buf + 8, s + 6, n - 6);
        s = buf;
        n += 2;
    }
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (n < 20) Py_RETURN_NONE;
    for (int i = 0; i < 19; i++) {
        char c = s[i];
        if (shape[i] == 'd' ? (c < '0' || c > '9') : c != shape[i]) Py_RETURN_NONE;
    }
    int64_t epoch;
    if (iso_ns(s, n, &epoch) != 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(epoch);
}
