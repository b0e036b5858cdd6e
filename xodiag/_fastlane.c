/* xodiag._fastlane: the compiled fast lane of the line framer (xodiag/sources/lines.py).
 *
 * It frames xo-server records (syslog/journald prefix or none, xo header, continuation lines, util.inspect
 * data) and xapi records (backtraces grouped by thread and host) and writes their rows straight into the
 * EventBuilder's lists.
 * Every line it does not fully understand is handed back to the Python framer, which stays the
 * reference: tests run both paths over the same inputs and require identical event tables.
 *
 * No regex lives here. The header regexes are derived from the grammars (grammars/NAME.lark) and the id and error
 * regexes come from xodiag/events.py; Python passes their text in and they run through PCRE2 (JIT),
 * loaded with dlopen from the system's libpcre2-8.so.0, so building needs no PCRE2 headers.
 * Only ASCII lines without control characters (tab aside) are taken: on those, PCRE2 and Python's
 * re agree on \w, \s, \b and case folding.
 *
 * Beside the lane, for the same hot paths: Facts (compiled extract_ids / error_from_text), Matcher
 * (textsearch.contains), iso_ns (ISO times to epoch ns), IntColumn and SparseColumn (the builder's
 * compiled columns), move_rows() (chunk columns into DataFrame blocks), split_lines() (line batches) and
 * jsonl() (parse --format jsonl). Each has a Python reference that the tests compare it with.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#ifdef __GLIBC__
#include <malloc.h> /* mallopt */
#endif
#include <stdint.h>
#include <string.h>

/* One translation unit: the parts below are included in this order (each uses the ones before). */
#include "_fastlane/pcre2.c"
#include "_fastlane/text.c"
#include "_fastlane/columns.c"
#include "_fastlane/facts.c"
#include "_fastlane/isotime.c"
#include "_fastlane/matcher.c"
#include "_fastlane/prematch.c"
#include "_fastlane/lane.c"
#include "_fastlane/jsonl.c"
#include "_fastlane/module.c"
