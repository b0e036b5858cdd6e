"""The compiled fast lane (xodiag/_fastlane.c) against the pure-Python reference.

The lane frames xo-server records and writes simple rows itself; the Python framer handles every
other line. Whatever the input, both must give the same event table and the same summary, so the
lane can never change what xodiag says. CI requires the lane to be built (XODIAG_REQUIRE_FASTLANE),
so these tests always compare two real paths there.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from xodiag import events as E
from xodiag.reader import ReadOptions, event_table
from xodiag.sources import fastlane

REPO = Path(__file__).resolve().parents[1]

needs_lane = pytest.mark.skipif(not fastlane.available(), reason="the C fast lane is not built here")


def test_lane_is_built_when_required() -> None:
    """scripts/test.sh sets XODIAG_REQUIRE_FASTLANE: a build that silently lost the extension fails CI."""
    if os.environ.get("XODIAG_REQUIRE_FASTLANE"):
        assert fastlane.available(), "xodiag._fastlane did not build or libpcre2-8 is missing"


def _read(paths: list[str], opts: ReadOptions | None, lane: bool, prematch: bool = True) -> tuple[pd.DataFrame, list]:
    saved = fastlane.ENABLED, fastlane.PREMATCH
    try:
        fastlane.ENABLED, fastlane.PREMATCH = lane, prematch
        table, summaries = event_table(paths, opts)
    finally:
        fastlane.ENABLED, fastlane.PREMATCH = saved
    return table, [s.as_json() for s in summaries]


def _assert_tables_equal(pure: pd.DataFrame, fast: pd.DataFrame, what: str) -> None:
    assert list(fast.columns) == list(pure.columns)
    assert list(fast.dtypes) == list(pure.dtypes)
    for col in pure.columns:
        a, b = pure[col].tolist(), fast[col].tolist()
        if a != b:
            diff = next(i for i, (x, y) in enumerate(zip(a, b, strict=True))
                        if x != y and not (x is pd.NaT and y is pd.NaT))
            raise AssertionError(f"{what}: column {col}, row {diff} (line {pure['line'][diff]}): "
                                 f"{a[diff]!r} != {b[diff]!r}")


def _assert_same(paths: list[str], opts: ReadOptions | None = None) -> pd.DataFrame:
    """The lane's table (with its regex work done ahead on a helper thread, and without) is the Python
    framer's, and so are the summaries."""
    pure, pure_sum = _read(paths, opts, lane=False)
    fast, fast_sum = _read(paths, opts, lane=True, prematch=True)
    alone, alone_sum = _read(paths, opts, lane=True, prematch=False)
    assert fast_sum == pure_sum and alone_sum == pure_sum
    _assert_tables_equal(pure, fast, "lane with prematch")
    _assert_tables_equal(pure, alone, "lane without prematch")
    return fast


def _log_files() -> Iterator[Path]:
    for root in ("samples", "tests/scenarios", "tests/holdout", "tests/fixtures"):
        for path in sorted((REPO / root).rglob("*")):
            if path.is_file() and path.suffix not in (".json", ".md", ".png", ".svg") and path.stat().st_size < 5 << 20:
                yield path


@needs_lane
@pytest.mark.parametrize("path", list(_log_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_same_table_on_every_bundled_log(path: Path) -> None:
    _assert_same([str(path)])


# Journal-like input built from the pieces that matter: prefixes (several processes, none), xo headers,
# continuation lines, ids, error names and codes, brackets, odd times, and the lines the lane must leave
# to Python (non-ASCII, control characters, ANSI, blank lines, xapi-nbd, xapi brackets).
_UUIDS = ["3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0b", "AB557129-6FE3-4420-9733-FA0FA3519C11"]
_WORDS = st.sampled_from([
    "export", "through", "vhd", "VDI.get_nbd_info(", ")", "returned", "vdi", "VDI", "vm:", "sr =", "vbd_ref:",
    "OpaqueRef:" + _UUIDS[0], _UUIDS[0], _UUIDS[1], "OpaqueRef:" + _UUIDS[1], "session_id=OpaqueRef:" + _UUIDS[1],
    "/" + _UUIDS[0] + "?session_id=OpaqueRef:" + _UUIDS[1], "R:3f2a1b0c9d8e", "D:2c4e6a8b0d1f",
    "10.0.0.2", "192.168.1.300", "10.1.2.3:10809", "RequestAbortedError", "[AbortError]:", "Error:", "Error",
    "XapiError", "code:", "'VDI_IN_USE'", "UND_ERR_ABORTED", "ECONNREFUSED", "exception", "Failure(x)",
    "NBD_CMD_READ", "{", "}", "[", "]", "(", "_", "é", "\t", "  ", "\x1b[31m", "\x07", "message", "will", "retry",
])
_TIMES = st.sampled_from([
    "2026-04-30T21:50:00.002Z", "2026-04-30T21:50:00Z", "2026-04-30T23:50:00.123456789+02:00",
    "2026-04-30T21:50:00.5-0530", "2024-02-29T00:00:00.000Z", "2025-02-29T00:00:00.000Z",
    "2026-12-31T23:59:60.000Z", "1600-01-01T00:00:00.000Z", "2026-13-01T00:00:00.000Z",
    "1678-01-01T00:00:00.000Z", "1678-01-01T01:00:00+02:00", "2261-12-31T23:59:59.999Z", "2261-12-31T23:00:00-02:00",
    "2262-01-01T00:00:00.000Z", "1677-12-31T23:59:59Z",
])
_PREFIXES = st.sampled_from([
    "", "Apr 30 23:50:00 xo xo-server[812]: ", "Apr 30 23:50:01 xo xo-server[30211]: ",
    "May  1 00:00:00 xo xo-server[812]: ", "2026-04-30T23:50:00+02:00 xo xo-server[812]: ",
    "Apr 30 23:50:00 xo xo-proxy: ", "Apr 30 23:50:00 h1 xapi-nbd[77]: ", "Apr 30 23:50:00 xo systemd[1]: ",
])


_XAPI_HEADS = [
    "[20260430T21:50:00.002Z|debug|h1|42 ||xapi] ", "[ info||43399 /var/lib/xcp|x D:1|xapi_session] ",
    "[20260430T21:50:00.002Z|error|h1|42 UNIX /v|task R:3f2a1b0c9d8e|backtrace] ",
    "[16001231T21:50:00Z| warn||7 |t|brand] ",
]
_FORMATS = st.sampled_from(["xo-journal", "xo-console", "xensource"])


@st.composite
def _lines(draw: st.DrawFn) -> str:
    prefix = draw(_PREFIXES)
    kind = draw(st.sampled_from(["header", "header", "header", "cont", "close", "blank", "free", "xapi"]))
    words = " ".join(draw(st.lists(_WORDS, max_size=8)))
    if kind == "header":
        ns = draw(st.sampled_from(["xo:xapi", "vates:nbd-client", "xo:backups:worker", "xo:xapi:vdi"]))
        level = draw(st.sampled_from(["DEBUG", "INFO", "WARN", "ERROR"]))
        body = f"{draw(_TIMES)} {ns} {level} {words}"
    elif kind == "cont":
        body = draw(st.sampled_from(["  ", "    at ", "      at async ", "    "])) + words
    elif kind == "close":
        body = draw(st.sampled_from(["}", "]", "  }", "})"]))
    elif kind == "blank":
        body = draw(st.sampled_from(["", "   "]))
    elif kind == "xapi":
        body = draw(st.sampled_from(_XAPI_HEADS)) + words
    else:
        body = words
    return prefix + body


@needs_lane
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_lines(), min_size=1, max_size=40), fmt=_FORMATS)
def test_same_table_on_random_journals(tmp_path_factory: pytest.TempPathFactory, lines: list[str], fmt: str) -> None:
    path = tmp_path_factory.mktemp("lane") / "xo.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _assert_same([str(path)], ReadOptions(input_format=fmt, year=2026))


@needs_lane
def test_lane_takes_the_bulk_of_a_journal(tmp_path: Path) -> None:
    """On a plain journal the lane writes nearly every row itself (else it would be no faster)."""
    rows = [f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]: 2026-04-30T21:50:{i % 60:02d}.{i % 1000:03d}Z "
            f"xo:xapi DEBUG VDI.get_nbd_info(OpaqueRef:{_UUIDS[0]}) returned {i} address(es)" for i in range(3000)]
    path = tmp_path / "xo.journal"
    path.write_text("\n".join(rows) + "\n")
    from xodiag.events import EventBuilder
    from xodiag.sources.lines import LineFramer
    from xodiag.sources.records import Sink, emit
    from xodiag.times import YearContext

    builder = EventBuilder()
    sink = Sink(str(path), "xo-journal", builder, YearContext(None, 2026, None, __import__("datetime").UTC))
    framer = LineFramer(lambda rec: emit(rec, sink), lambda n: False)
    framer.lane = fastlane.make_lane(framer, sink)
    framer.feed(rows, 1)
    framer.close()
    assert builder.n == 3000
    assert framer.lane.rows >= 2990  # all but the records still open at a batch end
    fast = _assert_same([str(path)])
    assert fast["vdi"].map(len).sum() == 0 and fast["refs"].map(len).eq(1).all()
    assert str(fast["time"].iloc[1]) == "2026-04-30 21:50:01.001000+00:00"


# The compiled id and error extraction against the Python reference, on random ASCII text.
_TEXT = st.lists(st.one_of(_WORDS, st.text(alphabet="abcdefABCDEF0123456789-:.=_ '\"/?()[]{}\n", max_size=12)),
                 max_size=25).map(" ".join)


@needs_lane
@settings(max_examples=400, deadline=None)
@given(text=_TEXT)
def test_compiled_facts_match_python(text: str) -> None:
    facts = fastlane.facts()
    got = facts.extract_ids(text)
    if got is None:  # not plain ASCII: the Python path handles it
        assert not text.isascii() or any(ord(c) < 32 and c not in "\t\n" for c in text)
        return
    assert E.Ids(*got) == E.extract_ids_py(text)
    name, code, message = facts.error_facts(text)
    ref = E.error_from_text_py(text)
    assert (name, code, message) == (ref.name, ref.code, ref.message)


@needs_lane
def test_compiled_facts_return_fresh_lists() -> None:
    """Callers may add to the lists they get (the job-log reader does): never the shared empty list."""
    ids = E.extract_ids("nothing here")
    assert ids.vm == [] and ids.vm is not E.EMPTY
    ids.vm.append("x")
    assert E.EMPTY == []


def _xo(prefix_pid: int | None, i: int, ns: str = "xo:xapi", msg: str = "tick") -> str:
    prefix = f"Apr 30 23:50:{i % 60:02d} xo xo-server[{prefix_pid}]: " if prefix_pid else ""
    return f"{prefix}2026-04-30T21:50:{i % 60:02d}.{i % 1000:03d}Z {ns} INFO {msg} {i}"


@needs_lane
def test_same_table_past_the_lane_limits(tmp_path: Path) -> None:
    """More interleaved processes than the lane keeps open, more distinct names than its intern table
    holds, a 1 MB line: the lane hands those lines to Python and the table does not change."""
    lines = []
    for i in range(400):  # 20 processes interleaved, each with multi-line records
        pid = 1000 + i % 20
        lines.append(_xo(pid, i, msg="unhandled error event {"))
        lines.append(f"Apr 30 23:50:00 xo xo-server[{pid}]:   error: Error: boom {i}")
        lines.append(f"Apr 30 23:50:00 xo xo-server[{pid}]: }}")
    lines += [_xo(812, i, ns=f"xo:ns{i}") for i in range(700)]  # 700 namespaces
    lines.append(_xo(812, 1, msg="x" * (1 << 20)))
    path = tmp_path / "xo.journal"
    path.write_text("\n".join(lines) + "\n")
    fast = _assert_same([str(path)])
    assert len(fast) == 400 + 700 + 1


@needs_lane
@pytest.mark.parametrize("code", [*range(0x00, 0x09), *range(0x0B, 0x20)], ids=lambda c: f"0x{c:02x}")
def test_control_characters_anywhere_go_to_python(tmp_path: Path, code: int) -> None:
    """The lane scans a line for control characters eight bytes at a time: a control character (tab
    excepted) at any offset within those eight bytes, in the prefix, the header or the message, sends the
    line to Python, and the table is the one Python gives (ANSI colour codes stripped, for one)."""
    lines = [_xo(812, 0, msg="tab\tinside")]  # a tab is plain text: the lane keeps it
    for at in range(17):
        lines.append(_xo(812, at, msg="m" * at + chr(code) + "[31m VDI " + _UUIDS[0]))
        lines.append(_xo(812, at))  # a plain line after each: the lane is asked about every line
    base = _xo(812, code)
    for at in range(0, len(base), 5):
        lines.append(base[:at] + chr(code) + base[at:])
        lines.append(_xo(812, at))
    path = tmp_path / "ctrl.journal"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    _assert_same([str(path)])


@needs_lane
def test_same_table_across_chunks_and_batches(tmp_path: Path) -> None:
    """A journal of several MiB: records open across the reader's batches and chunks, two processes."""
    lines = []
    for i in range(40000):
        pid = 812 if i % 3 else 30211
        if i % 50 == 0:
            lines.append(_xo(pid, i, ns="xo:backups:worker", msg="unhandled error event {"))
            lines.append(f"Apr 30 23:50:00 xo xo-server[{pid}]:   error: RequestAbortedError [AbortError]: aborted")
            lines.append(f"Apr 30 23:50:00 xo xo-server[{pid}]:       at BodyReadable.destroy (/x/readable.js:51:13)")
            lines.append(f"Apr 30 23:50:00 xo xo-server[{pid}]:     code: 'UND_ERR_ABORTED'")
            lines.append(f"Apr 30 23:50:00 xo xo-server[{pid}]: }}")
        else:
            lines.append(_xo(pid, i, msg=f"VDI {_UUIDS[i % 2]} exported"))
    path = tmp_path / "big.journal"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 4 << 20
    fast = _assert_same([str(path)])
    assert len(fast) == 40000
    assert fast["error_code"].eq("UND_ERR_ABORTED").sum() == 800


@settings(max_examples=500, deadline=None)
@given(text=_TEXT)
def test_prefilter_claims_hold(text: str) -> None:
    """events._NEEDS and events._ID_DASH_OFFSETS are claims about regexes; both paths rely on them."""
    searches = {"err_head": E._err_head_re(), "code_prop": E._CODE_PROP_RE, "xapi_code": E._XAPI_CODE_RE,
                "errno": E._ERRNO_RE, "ocaml": E._OCAML_EXN_RE}
    assert set(searches) == set(E._NEEDS)
    for key, rx in searches.items():
        if rx.search(text):
            assert E._has_any(text, E._NEEDS[key]), key
    for m in E._ID_RE.finditer(text):
        assert m.group().index("-") in E._ID_DASH_OFFSETS


@needs_lane
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(_lines(), st.text(max_size=60).map(lambda t: t.replace("\n", " ").replace("\r", " "))),
                      min_size=1, max_size=30),
       fmt=_FORMATS)
def test_same_table_on_arbitrary_text(tmp_path_factory: pytest.TempPathFactory, lines: list[str], fmt: str) -> None:
    """Any text at all (control characters, surrogate-free Unicode, half headers) mixed into a journal."""
    path = tmp_path_factory.mktemp("lane") / "odd.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="replace")
    _assert_same([str(path)], ReadOptions(input_format=fmt, year=2026))


_REVIEW_CASES = {
    # records still open at the end of input are emitted in the order they opened: that decides which one
    # teaches the journal its offset, and which time a pending console.error block takes
    "offset": ("xo-journal", [
        "Apr 30 23:50:00 xo xo-server[2]: 2026-04-28T00:00:00Z xo:a INFO b0",
        "Apr 30 23:50:00 xo xo-server[1]: 2026-04-30T21:50:00Z xo:a INFO a",
        "Apr 30 23:50:00 xo xo-server[2]: 2026-04-30T18:50:00Z xo:a INFO b",
        "Apr 30 23:50:00 xo systemd[1]: Started."]),
    "pending": ("xo-console", [
        "2026-04-30T21:00:01.000Z xo:a INFO one", "{ a: 1 }",
        "2026-04-30T21:00:02.000Z xo:a INFO two", "2026-04-30T21:00:03.000Z xo:a INFO three"]),
    # an escape in the syslog host: Python decodes the whole line before looking for ids
    "host-escape": ("xensource", [
        "Apr 30 23:50:00 vm#011 3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0b: [20260430T21:50:00.002Z|debug|h1|42 ||x] hi",
        "Apr 30 23:50:00 vm\\x3d 3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0b: [20260430T21:50:00.002Z|debug|h1|42 ||x] hi"]),
}


@needs_lane
@pytest.mark.parametrize("case", list(_REVIEW_CASES))
def test_same_table_on_review_cases(tmp_path: Path, case: str) -> None:
    fmt, lines = _REVIEW_CASES[case]
    path = tmp_path / "case.log"
    path.write_text("\n".join(lines) + "\n")
    _assert_same([str(path)], ReadOptions(input_format=fmt, year=2026))


def _lane_and_framer(emit_hook: object = None) -> tuple[object, object]:
    import datetime as dt

    from xodiag.events import EventBuilder
    from xodiag.sources.lines import LineFramer
    from xodiag.sources.records import Sink, emit
    from xodiag.times import YearContext

    sink = Sink("x", "xo-journal", EventBuilder(), YearContext(None, 2026, None, dt.UTC))

    def on_record(rec: object) -> None:
        emit(rec, sink)
        if callable(emit_hook):
            emit_hook()

    framer = LineFramer(on_record, lambda n: False)
    framer.lane = fastlane.make_lane(framer, sink)
    return framer.lane, framer


@needs_lane
def test_lane_api_misuse_is_an_error_not_a_crash() -> None:
    lane, _framer = _lane_and_framer()
    with pytest.raises(IndexError):
        lane.run(["2026-04-30T21:00:01.000Z xo:a INFO one"], -5, 1)
    with pytest.raises(RuntimeError):
        type(lane).__new__(type(lane)).run([], 0, 1)
    lines = [f"Apr 30 23:50:00 xo xo-server[1]: 2026-04-30T21:00:0{i}.000Z xo:a INFO m{i}" for i in range(5)]
    lane2, _framer2 = _lane_and_framer(emit_hook=lines.clear)  # a callback that empties the batch being read
    assert 1 <= lane2.run(lines, 0, 1) <= 5  # it reads the list live: it stops where the list now ends


@needs_lane
def test_lane_and_framer_are_freed() -> None:
    """The lane refers to its framer and the framer to its lane: the pair must not outlive a read."""
    import gc
    import weakref

    lane, framer = _lane_and_framer()
    ref = weakref.ref(framer)
    del lane, framer
    gc.collect()
    assert ref() is None


@needs_lane
def test_failed_flush_leaves_no_slot_behind() -> None:
    """An exception while open records are handed back (Ctrl-C, say) must not leave half-handed slots whose
    borrowed names a later run would use after they are freed."""
    lane, framer = _lane_and_framer()
    lines = [f"2026-04-30T21:00:01.000Z xo:ns{i} INFO m" for i in range(400)]  # fills the intern table
    lines.append("2026-04-30T23:50:00Z h2 proc2[2]: 2026-04-30T21:00:01.000Z xo:b INFO other")
    real = framer._lane_rec
    calls = []

    def interrupted(*args: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*args)

    framer._lane_rec = interrupted
    with pytest.raises(KeyboardInterrupt):
        lane.run(lines, 0, 1)
    assert lane.run(["2026-04-30T21:00:09.000Z xo:z INFO next"], 0, 500) == 1
    assert lane.run(["2026-04-30T21:00:09.000Z xo:z INFO next"], 0, 501) == 1
    assert [(r.ident, r.pid, r.line) for r in framer.open.values()] == [(None, None, 501)]


@needs_lane
def test_facts_keep_their_literals() -> None:
    """The compiled prefilters point into the literal strings: Facts must own them, not the caller's dict."""
    import gc

    from xodiag import _fastlane

    needs = {k: tuple("".join(list(s)) for s in v) for k, v in E._NEEDS.items()}  # fresh strings
    spec = fastlane._spec
    kwargs = dict(
        ids=spec(E._ID_RE), ctx=spec(E._CTX_RE), exports=spec(E._EXPORT_RE), task_refs=spec(E._TASK_REF_RE),
        addresses=spec(E._ADDR_RE), err_head=spec(E._err_head_re()), code_prop=spec(E._CODE_PROP_RE),
        xapi_code=spec(E._XAPI_CODE_RE), errno=spec(E._ERRNO_RE), ocaml=spec(E._OCAML_EXN_RE),
        session_ctx=E._SESSION_CTX, empty=E.EMPTY, needs=needs, id_dash_offsets=E._ID_DASH_OFFSETS)
    facts = _fastlane.Facts(**kwargs)
    assert facts.error_facts("boom TypeError: bad") == ("TypeError", None, "bad")
    needs.clear()
    _junk = ["".join(["Err", "or", str(i)]) for i in range(20000)]
    gc.collect()
    assert facts.error_facts("boom TypeError: bad") == ("TypeError", None, "bad")
    with pytest.raises(RuntimeError, match="once"):  # its patterns may be in use on a prematch thread
        facts.__init__(**kwargs)


@needs_lane
def test_move_rows_hands_the_references_over() -> None:
    """move_rows() puts each item in the block in the given order, leaves the lists empty, and neither
    leaks nor frees a cell: each object's reference count ends where it would after a copy and a clear."""
    import sys

    import numpy as np

    mod = fastlane.module()
    items = [object() for _ in range(6)]
    values = list(items)
    before = [sys.getrefcount(o) for o in items]
    out = np.empty((1, 6), dtype=object)
    order = np.array([5, 0, 4, 1, 3, 2], dtype=np.int64)
    assert mod.move_rows(out, [values], order) is out
    assert values == []
    assert [id(o) for o in out[0]] == [id(items[i]) for i in order]
    assert [sys.getrefcount(o) for o in items] == before  # the list's reference became the array's
    del out
    assert [sys.getrefcount(o) for o in items] == [b - 1 for b in before]

    block = np.empty((3, 3), dtype=object)  # None: that row is left as it is
    a, c = ["a", "b", "c"], [1, 2, 3]
    mod.move_rows(block, [a, None, c], np.array([2, 1, 0]))
    assert block.tolist() == [["c", "b", "a"], [None, None, None], [3, 2, 1]] and a == c == []

    nones = sys.getrefcount(None)
    fresh = np.empty((2, 1000), dtype=object)  # 2000 references to None, given back at once
    mod.move_rows(fresh, [[str(i) for i in range(1000)], list(range(1000))])
    if sys.version_info < (3, 12):  # None is immortal from 3.12: its count does not move
        assert abs(sys.getrefcount(None) - nones) < 10  # not 2000 off (a local or two may differ)
    assert fresh[0, 999] == "999" and fresh[1, 999] == 999

    held = object()  # a target that holds other objects: each is released once, after the move
    used = np.array([[held, None, held]], dtype=object)
    count = sys.getrefcount(held)
    mod.move_rows(used, [["x", "y", "z"]])
    assert used.tolist() == [["x", "y", "z"]] and sys.getrefcount(held) == count - 2


@needs_lane
def test_sparse_column_is_a_sequence_that_stores_only_other_values() -> None:
    """A SparseColumn reads and writes like a list of its cells, whatever is stored in it."""
    mod = fastlane.module()
    empty: list = []
    col = mod.SparseColumn(empty)
    values = [empty, ["a"], empty, empty, [], ["b", "c"], empty, None, "x"]  # [] is equal, not the default
    for v in values:
        col.append(v)
    assert len(col) == 9 and list(col) == values and col == values and values == col
    assert col[0] is empty and col[4] is values[4] and col[-1] == "x"
    col[0] = "first"  # a default cell becomes a stored one, ...
    col[5] = empty  # ... a stored one the default, ...
    col[1] = ["z"]  # ... and a stored one another value
    col[3] = empty  # (the default again: nothing changes)
    assert list(col) == ["first", ["z"], empty, empty, [], empty, empty, None, "x"] and col[5] is empty
    assert col != values and not (col == {}) and mod.SparseColumn(None) == []
    for bad in (lambda: col[9], lambda: col.__setitem__(-10, 1), lambda: col.__delitem__(0)):
        with pytest.raises((IndexError, TypeError)):
            bad()
    assert "default=None" in repr(mod.SparseColumn(None))


@needs_lane
@pytest.mark.parametrize("order", [None, [3, 0, 4, 1, 2]])
def test_move_rows_spreads_a_sparse_column(order: list | None) -> None:
    """A SparseColumn's block row gets the default in every cell but the stored ones, which go where
    their rows go; the references balance (each stored value moves, the default gains one per cell)."""
    import sys

    import numpy as np

    mod = fastlane.module()
    default, a, b = object(), object(), object()
    col = mod.SparseColumn(default)
    for v in (default, a, default, b, default):
        col.append(v)
    plain = ["p0", "p1", "p2", "p3", "p4"]
    rows = list(range(5)) if order is None else order
    want = [id([default, a, default, b, default][r]) for r in rows]
    counts = [sys.getrefcount(o) for o in (default, a, b)]
    block = np.empty((2, 5), dtype=object)
    mod.move_rows(block, [col, plain], None if order is None else np.array(order, dtype=np.int64))
    assert [id(x) for x in block[0]] == want and list(block[1]) == [f"p{r}" for r in rows]
    assert len(col) == 0 and plain == []
    assert [sys.getrefcount(o) for o in (default, a, b)] == [counts[0] + 3, counts[1], counts[2]]
    del block
    assert [sys.getrefcount(o) for o in (default, a, b)] == [counts[0], counts[1] - 1, counts[2] - 1]
    short = mod.SparseColumn(None)
    short.append("x")
    with pytest.raises(ValueError):
        mod.move_rows(np.empty((1, 2), dtype=object), [short])
    assert list(short) == ["x"]  # nothing moved


@needs_lane
@pytest.mark.parametrize("case", ["repeat", "range", "length", "dtype", "not-object", "short-out", "1-d",
                                  "rows", "twice", "not-list"])
def test_move_rows_misuse_is_an_error_that_keeps_the_lists(case: str) -> None:
    import numpy as np

    mod = fastlane.module()
    values, other = ["a", "b", "c"], ["d", "e", "f"]
    columns: list = [values, other]
    out = np.empty((2, 3), dtype=object)
    order = {"repeat": np.array([0, 0, 2]), "range": np.array([0, 1, 3]), "length": np.array([0, 1]),
             "dtype": np.array([0, 1, 2], dtype=np.int32)}.get(case)
    if case == "not-object":
        out = np.empty((2, 3), dtype=np.int64)
    if case == "short-out":
        out = np.empty((2, 2), dtype=object)
    if case == "1-d":
        out = np.empty(3, dtype=object)
    if case == "rows":
        columns = [values]
    if case == "twice":
        columns = [values, values]
    if case == "not-list":
        columns = [values, ("d", "e", "f")]
    with pytest.raises((ValueError, IndexError)):
        mod.move_rows(out, columns, order)
    assert values == ["a", "b", "c"] and other == ["d", "e", "f"]  # nothing moved: the lists own their items
    assert out.tolist() == np.empty(out.shape, dtype=out.dtype).tolist() or out.dtype != object


def test_frame_without_the_block_api_is_the_same_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """pandas < 3 has no pandas.api.internals.create_dataframe_from_blocks: the reader builds the same
    chunk through the DataFrame constructor."""
    import sys

    path = str(REPO / "samples" / "april-2026-nbd-stream-init" / "xo-server.journal")
    with_blocks, _ = event_table([path])
    monkeypatch.setitem(sys.modules, "pandas.api.internals", None)  # import fails
    without, _ = event_table([path])
    assert len(with_blocks) > 20
    assert list(without.dtypes) == list(with_blocks.dtypes)
    pd.testing.assert_frame_equal(without, with_blocks)


_ISO = st.builds(
    lambda y, mo, d, h, mi, s, frac, zone, sep: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}",
    st.integers(1600, 2300), st.integers(0, 13), st.integers(0, 32), st.integers(0, 24), st.integers(0, 60),
    st.integers(0, 60), st.sampled_from(["", ".1", ".123", ".123456", ".123456789", ".1234567890", "."]),
    st.sampled_from(["Z", "+02:00", "-0530", "+2400", "", "z", "+02", "+0:00", "+-1:00", "+ 1:00", "-/900",
                     "+0/:00", "+01:0x", "+1a00"]),
    st.sampled_from(["T", "T", " "]))


@needs_lane
@settings(max_examples=1500, deadline=None)
@given(text=st.one_of(_ISO, st.text(max_size=30)))
def test_compiled_iso_times_match_pandas(text: str) -> None:
    """iso_ns (used for every xo header time and xapi time the Python framer emits) gives pandas' UTC
    nanoseconds whenever it answers; when it does not, the row keeps its text for pandas."""
    mod = fastlane.module()
    got = mod.iso_ns(text)
    if got is None:
        return
    ref = pd.to_datetime(pd.Series([text], dtype=object), format="ISO8601", utc=True, errors="coerce")
    assert ref[0] is not pd.NaT
    assert got == ref[0].value
    compact = text[:4] + text[5:7] + text[8:]
    assert mod.iso_ns(compact, True) == got  # xensource's compact form


def test_compiled_iso_times_decline_odd_shapes() -> None:
    mod = fastlane.module()
    if mod is None:
        pytest.skip("the C fast lane is not built here")
    for text in ["2026-04-30 21:50:00Z", "2026-04-30T21:50:00", "2026-02-30T00:00:00Z", "1600-01-01T00:00:00Z",
                 "2026-04-30T21:50:00.1234567890Z", "2026-04-30T24:00:00Z", "２026-04-30T21:50:00Z", ""]:
        assert mod.iso_ns(text) is None, text
    assert mod.iso_ns("2026-04-30T21:50:00.5+01:30") == pd.Timestamp("2026-04-30T20:20:00.5Z").value


@needs_lane
def test_lane_rows_share_repeated_ids(tmp_path: Path) -> None:
    """A UUID named on many lines is one str object, and rows that name only it share one list (list
    cells are read-only): the table's memory does not grow with a list and a string per row."""
    path = tmp_path / "ids.journal"
    path.write_text("".join(_xo(812, i, msg=f"VDI {_UUIDS[0]} exported") + "\n" for i in range(500)))
    table = _assert_same([str(path)])
    cells = table["vdi"].tolist()
    assert all(c == [_UUIDS[0]] for c in cells)
    from collections import Counter

    # the lane's rows share (a record still open at a batch's end is finished by Python, with its own)
    assert Counter(map(id, cells)).most_common(1)[0][1] >= 490
    assert Counter(id(c[0]) for c in table["uuids"]).most_common(1)[0][1] >= 490
    ids = E.extract_ids(f"VDI {_UUIDS[0]}")  # what Python callers get stays theirs to change
    ids.vdi.append("x")
    assert table["vdi"].iloc[0] == [_UUIDS[0]]


@needs_lane
def test_lane_shared_id_lists_survive_a_full_table(tmp_path: Path) -> None:
    """More distinct ids than the lane's table of shared one-id lists holds (8192): it starts again, and
    the table is still Python's."""
    path = tmp_path / "many.journal"
    uuids = [f"{i:08x}-9d8e-4f70-8a6b-5c4d3e2f1a0b" for i in range(9000)]
    path.write_text("".join(_xo(812, i, msg=f"VDI {u} exported") + "\n" for i, u in enumerate(uuids * 2)))
    table = _assert_same([str(path)])
    assert table["vdi"].tolist() == [[u] for u in uuids * 2]


@needs_lane
def test_lane_rejects_a_framer_whose_state_is_not_dicts() -> None:
    lane, framer = _lane_and_framer()
    framer.open = []  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="dicts"):
        lane.run(["2026-04-30T21:00:01.000Z xo:a INFO one"], 0, 1)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Python classes can give buffers (__buffer__) from 3.12")
def test_move_rows_reads_the_lists_after_the_buffers() -> None:
    """Getting the order's buffer may run Python code that empties values: move_rows must not read the old
    length (a review found a crash here on 3.12)."""
    import numpy as np

    mod = fastlane.module()
    if mod is None:
        pytest.skip("the C fast lane is not built here")
    values = [object() for _ in range(4)]

    class Order:
        def __buffer__(self, flags: int) -> memoryview:
            values.clear()
            return memoryview(np.arange(4, dtype=np.int64))

    with pytest.raises(ValueError):
        mod.move_rows(np.empty((1, 4), dtype=object), [values], Order())


# ------------------------------------------------------------------------------------------ prematch
_IDS = ["3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0b", "AB557129-6FE3-4420-9733-FA0FA3519C11",
         "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "d4c3b2a1-0f9e-4d8c-9b7a-6a5b4c3d2e1f",
         "77777777-8888-4999-aaaa-bbbbbbbbbbbb"]
_MIXED = [
    "Apr 30 23:50:00 xo xo-server[812]: 2026-04-30T21:50:00.002Z vates:nbd-client WARN can't connect {",
    "Apr 30 23:50:00 xo xo-server[812]:   err: Error: connect ECONNREFUSED 10.0.3.12:10809",
    "Apr 30 23:50:00 xo xo-server[812]: }",
    f"Apr 30 23:50:01 xo xo-server[812]: 2026-04-30T21:50:01.000Z xo:xapi INFO VDI {_IDS[0]} with "
    f"OpaqueRef:{_IDS[1].upper()} R:0123456789ab 192.168.1.20:443",
    f"Apr 30 23:50:01 xo xo-server[813]: 2026-04-30T21:50:01.100Z xo:backups ERROR VDI_IN_USE vdi={_IDS[2]}",
    "Apr 30 23:50:02 xcp-a xapi: [ info||1234 HTTPS 10.0.0.1->:::80|VDI.export R:0123456789ab|xapi_http] export "
    f"/export_raw_vdi/{_IDS[3]}?session_id=OpaqueRef:{_IDS[4]}",
    "Apr 30 23:50:02 xo xo-server[812]: 2026-04-30T21:50:02.000Z xo:a INFO caf\u00e9",  # not ASCII
    "Apr 30 23:50:03 xo xo-server[812]: 2026-04-30T21:50:03.000Z xo:a INFO bell\x07",  # control character
    "",
    "plain prose that is no log line at all",
    "2026-04-30T21:50:04.000Z xo:console INFO no prefix, with RequestAbortedError",
]


def _framed(lines: list, pre: object = None, lane_and_framer: tuple | None = None) -> tuple:
    """Feed lines through a lane (with ``pre``, a Pre or a callable making one) and return the rows."""
    import datetime as dt

    from xodiag.events import EventBuilder
    from xodiag.sources.lines import LineFramer
    from xodiag.sources.records import Sink, emit
    from xodiag.times import YearContext

    sink = Sink("x", "xo-journal", EventBuilder(), YearContext(None, 2026, None, dt.UTC))
    framer = LineFramer(lambda rec: emit(rec, sink), lambda n: False)
    framer.lane = fastlane.make_lane(framer, sink)
    if callable(pre):
        pre = pre(framer.lane, lines)
    framer.feed(lines, 1, pre)
    framer.close()
    lane_rows = framer.lane.rows
    framer.lane = None
    cols, kinds, values = sink.builder.take()
    plain = {name: list(col) for name, col in cols.items()}  # (the builder's compiled columns as lists)
    return plain, kinds, list(values), sink.unparsed, lane_rows


def _lane_friendly(n: int) -> list[str]:
    """Lines the lane takes in long runs: two processes whose records close each other, messages with
    error words, codes and ids, util.inspect data, xapi lines."""
    out = []
    for i in range(n):
        pid = 812 + i % 2
        stamp = f"Apr 30 23:50:{i % 60:02d} xo xo-server[{pid}]: 2026-04-30T21:50:{i % 60:02d}.{i % 1000:03d}Z"
        kind = i % 10
        prefix = f"Apr 30 23:50:{i % 60:02d} xo xo-server[{pid}]: "
        if kind == 8:  # an Error printed inside the message, its stack and own properties below
            out.append(f"{stamp} xo:xapi:xapi-disks INFO Error in openNbdCBT Error: CBT is disabled")
            out.append(f"{prefix}    at XapiVhdCbtSource.init (/opt/xo/disks/XapiVhdCbt.mjs:72:13)")
            out.append(f"{prefix}    at async #openNbdCBT (/opt/xo/disks/Xapi.mjs:229:7) {{")
            out.append(f"{prefix}  code: 'VDI_CBT_DISABLED'")
            out.append(f"{prefix}}}")
        elif kind == 9:  # lines below a message with no data head: the data is those lines alone
            out.append(f"{stamp} xo:a WARN retrying VDI {_IDS[i % 5]}  ")  # trailing blanks stay in the message
            out.append(f"{prefix}  Error: boom")
            out.append(f"{prefix}    at retry (/opt/xo/retry.js:{i % 90 + 1}:3)")
        elif kind == 5:  # util.inspect data at the end of the line
            out.append(f"{stamp} xo:xapi:xapi-disks INFO duplicates of the previous log were hidden "
                       f"{{ nDuplicates: {i} }}")
        elif kind == 6:
            out.append(f"{stamp} xo:a WARN request failed {{ code: 'ECONNRESET', vdi: '{_IDS[i % 5]}' }}" if i % 16
                       else f"{stamp} xo:a INFO {{ err: 'x' }}")
        elif kind == 7:
            out.append(f"{stamp} xo:a INFO hosts [ '10.0.0.{i % 250}', 'b' ]" if i % 16 != 7
                       else f"{stamp} xo:a INFO braces {{ not data")
        elif kind == 0:
            out.append(f"{stamp} xo:xapi INFO VDI {_IDS[i % 5]} of vm={_IDS[(i + 1) % 5]} R:0123456789ab {i}")
        elif kind == 1:
            out.append(f"{stamp} xo:backups ERROR VDI_IN_USE(OpaqueRef:{_IDS[i % 5].upper()}, destroy)")
        elif kind == 2:
            out.append(f"{stamp} vates:nbd-client WARN can't connect to one nbd client {{")
            out.append(f"Apr 30 23:50:{i % 60:02d} xo xo-server[{pid}]:   err: Error: connect ECONNREFUSED "
                       f"10.0.3.{i % 250}:10809")
            out.append(f"Apr 30 23:50:{i % 60:02d} xo xo-server[{pid}]: }}")
        elif kind == 3:
            out.append(f"{stamp} xo:a INFO got RequestAbortedError after {i} ms from 192.168.1.{i % 250}:443")
        else:
            out.append(f"Apr 30 23:50:{i % 60:02d} xcp-a xapi: [ info||{i} HTTPS 10.0.0.1->:::80|VDI.export "
                       f"R:0123456789ab|xapi_http] export /export_raw_vdi/{_IDS[i % 5]}?session_id="
                       f"OpaqueRef:{_IDS[(i + 2) % 5]} raised INTERNAL_ERROR")
    return out


@needs_lane
def test_prematch_is_only_a_cache() -> None:
    """Rows are the same with a Pre, without one, and with a Pre made before the list changed (a line the
    Pre has no result for, or a result for another object, is matched by the lane itself)."""
    lines = _lane_friendly(400) + _MIXED * 3 + [None, 42]  # not str: the lane leaves them to Python
    plain = _framed([x for x in lines if isinstance(x, str)])
    assert plain == _framed([x for x in lines if isinstance(x, str)], pre=lambda lane, ls: lane.prematch(ls))
    # a tuple (the reader's batches): the Pre reads its lines in place, with no reference of its own
    assert plain == _framed(tuple(x for x in lines if isinstance(x, str)), pre=lambda lane, ls: lane.prematch(ls))
    assert plain == _framed(tuple(x for x in lines if isinstance(x, str)))

    def stale(lane: object, ls: list) -> object:
        pre = lane.prematch(ls)
        ls[3], ls[5] = ls[5], ls[3]  # other objects in those places now
        ls[7] = "Apr 30 23:50:09 xo xo-server[812]: 2026-04-30T21:50:09.000Z xo:b INFO fresh"
        return pre

    swapped = [x for x in lines if isinstance(x, str)]
    expected = list(swapped)
    expected[3], expected[5] = expected[5], expected[3]
    expected[7] = "Apr 30 23:50:09 xo xo-server[812]: 2026-04-30T21:50:09.000Z xo:b INFO fresh"
    assert _framed(swapped, pre=stale) == _framed(expected)
    cols = plain[0]
    assert plain[4] >= 300  # the lane wrote these rows itself (fast rows, data rows, xapi rows)
    assert cols["error_code"].count("ECONNRESET") >= 15 and cols["message"].count("hosts") >= 15
    assert cols["error_code"].count("VDI_IN_USE") >= 35 and cols["error_name"].count("Error") >= 35
    assert sum(len(v) for v in cols["export_names"]) >= 35 and sum(len(v) for v in cols["vm"]) >= 35
    assert cols["error_code"].count("VDI_CBT_DISABLED") >= 35 and cols["message"].count("Error in openNbdCBT") >= 35
    assert sum(1 for f in cols["frames"] if f and f[0]["function"] == "retry") >= 35
    lane, _framer = _lane_and_framer()
    assert lane.prematch(lines).lines == len(lines)  # non-str items are skipped, not an error
    mixed = (*_MIXED, None, 42, b"bytes", *_MIXED)
    pre = lane.prematch(mixed)
    other, _other_framer = _lane_and_framer()
    assert pre.lines == len(mixed) and lane.run(mixed, 0, 1, pre) == other.run(list(mixed), 0, 1)

    import sys

    held = tuple(_lane_friendly(50))
    counts = [sys.getrefcount(x) for x in held]
    pres = [lane.prematch(held) for _ in range(3)]
    assert [sys.getrefcount(x) for x in held] == counts  # a tuple's lines: no reference per line
    del pres
    assert [sys.getrefcount(x) for x in held] == counts


@needs_lane
def test_prematch_misuse_is_an_error_not_a_crash() -> None:
    lane, _framer = _lane_and_framer()
    other, _framer2 = _lane_and_framer()
    lines = list(_MIXED)
    with pytest.raises(TypeError):
        lane.prematch("not a list")
    with pytest.raises(TypeError):
        lane.run("not a list", 0, 1)
    with pytest.raises(ValueError, match="prematch"):
        lane.run(tuple(lines), 0, 1, lane.prematch(lines))  # the list's Pre, not the tuple's
    with pytest.raises(ValueError, match="prematch"):
        lane.run(lines, 0, 1, other.prematch(lines))  # another lane's
    with pytest.raises(ValueError, match="prematch"):
        lane.run(lines, 0, 1, lane.prematch(list(lines)))  # another list's
    with pytest.raises(ValueError, match="prematch"):
        lane.run(lines, 0, 1, object())
    with pytest.raises(RuntimeError):
        type(lane).__new__(type(lane)).prematch(lines)
    assert lane.run(lines, 0, 1, lane.prematch(lines)) >= 1


@needs_lane
def test_prematched_runs_one_helper_thread_and_always_joins_it() -> None:
    import threading

    lane, _framer = _lane_and_framer()
    batches = [list(_MIXED), list(reversed(_MIXED)), list(_MIXED[:3])]
    before = threading.active_count()
    got = list(fastlane.prematched(lane, iter(batches)))
    assert [b for b, _ in got] == batches and all(p.lines == len(b) for b, p in got)
    assert threading.active_count() == before
    pulled = 0

    def counted(items: list) -> Iterator[list]:
        nonlocal pulled
        for item in items:
            pulled += 1
            yield item

    many = [list(_MIXED)] * 8
    for i, (batch, pre) in enumerate(fastlane.prematched(lane, counted(many))):
        assert pre.lines == len(batch) and pulled <= i + 1 + fastlane.AHEAD  # bounded read-ahead
    assert pulled == len(many)
    early = fastlane.prematched(lane, iter(batches))
    next(early)
    early.close()  # the reader stopped early (a closed pipe, an error)
    assert threading.active_count() == before

    class Failing:
        def prematch(self, lines: list) -> object:
            raise MemoryError

    assert [p for _, p in fastlane.prematched(Failing(), iter(batches))] == [None, None, None]
    assert threading.active_count() == before
    saved = fastlane.PREMATCH
    try:
        fastlane.PREMATCH = False
        assert [p for _, p in fastlane.prematched(lane, iter(batches))] == [None, None, None]
    finally:
        fastlane.PREMATCH = saved


@needs_lane
def test_compiled_facts_share_strings_and_survive_a_full_cache() -> None:
    """Ids and error names come from a string cache: equal values are one object, values past its size
    limit are made afresh, and emptying a full cache loses nothing."""
    facts = fastlane.facts()
    text = f"VDI {_IDS[0].upper()} and vm={_IDS[1]}"
    a, b = facts.extract_ids(text), facts.extract_ids(text)
    assert a[4][0] == _IDS[0] and a[4][0] is b[4][0]
    long_name = "Very" + "Long" * 60 + "Error"
    for sample in (f"{long_name}: boom", f"x {long_name}: boom"):
        name, code, message = facts.error_facts(sample)
        ref = E.error_from_text_py(sample)
        assert (name, code, message) == (ref.name, ref.code, ref.message)
    for i in range(70_000):  # past the cache's 65536 values
        uuid = f"{i:08x}-0000-4000-8000-{i:012X}"
        assert facts.extract_ids(f"vdi {uuid}")[1] == [uuid.lower()]
    assert facts.extract_ids(text)[4][0] == _IDS[0]


@needs_lane
def test_a_pid_too_long_for_a_number_is_missing_not_a_crash(tmp_path: Path) -> None:
    """A pid of more digits than any real one (int64 cannot hold 19+) leaves the pid cell empty, on both
    paths (it once stopped the whole parse with an OverflowError)."""
    lines = [f"Apr 30 23:50:0{i} xo xo-server[{pid}]: 2026-04-30T21:50:0{i}.000Z xo:a INFO m{i}"
             for i, pid in enumerate(["9" * 18, "9" * 19, "1" * 25, "812"])]
    lines.append("Apr 30 23:50:05 xcp-a xapi[" + "7" * 30 + "]: [ info||1 |VDI.export R:0123456789ab|xapi] ok")
    path = tmp_path / "pids.journal"
    path.write_text("\n".join(lines) + "\n")
    table = _assert_same([str(path)], ReadOptions(year=2026))
    assert table["pid"].tolist()[:4] == [int("9" * 18), pd.NA, pd.NA, 812] and table["pid"].isna().iloc[4]
    assert table["raw"].str.contains("9" * 19).sum() == 1  # the text keeps it


@needs_lane
@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0b", "AB557129-6FE3-4420-9733-FA0FA3519C11", "-",
                                 "0", "9", "a", "F", "g", "x", " ", "deadbeef", "'", "\n", "é", "OpaqueRef:"]),
                max_size=16))
@example(["a3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0b-9d8e-4f70-8a6b-5c4d3e2f1a0bc"])  # leftmost, no overlap
@example(["3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0", "3f2a1b0c-9d8e-4f70-8a6b-5c4d3e2f1a0b1"])  # one short, then one
def test_mask_ids_is_the_python_mask(parts: list[str]) -> None:
    from xodiag.parse import inspect

    text = "".join(parts)
    got = fastlane._module().mask_ids(text)
    assert got == (inspect._mask(text) if text.isascii() else None)


_PIECES = ["", "\n", "a", "xo-server[12]: ok", "\r", "\r\n", " ", "é", "\u2028", "\x00", "\U0001f600", "\x85",
           "\n\n"]


@needs_lane
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12), st.lists(st.sampled_from(_PIECES[2:5]), max_size=3))
def test_split_lines_is_str_split_with_a_carry(parts: list[str], carried: list[str]) -> None:
    text, carry = "".join(parts), "".join(carried).replace("\n", "")
    got = fastlane._module().split_lines(text, carry)
    if not (text + carry).isascii():
        assert got is None  # str.split's turn
        return
    want = (carry + text).split("\n")
    assert got == (tuple(want[:-1]), want[-1])


@needs_lane
def test_split_lines_big_text_and_misuse() -> None:
    split = fastlane._module().split_lines
    text = "".join(f"line {i} " + "x" * (i % 300) + "\n" for i in range(20000)) + "tail"
    lines, rest = split(text, "head ")
    assert list(lines) == ("head " + text).split("\n")[:-1] and rest == "tail"
    with pytest.raises(TypeError):
        split(b"a\nb", "")
    with pytest.raises(TypeError):
        split("a\nb")


def test_line_batches_cut_anywhere_give_the_same_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of any size (a line, or a CRLF pair, cut between two) give the lines of str.splitlines, with
    and without the compiled split."""
    from xodiag.sources import inputs

    text = "".join(f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]: line {i}" + ("\r\n" if i % 3 else "\n")
                   for i in range(300)) + "last é\r\n" + "no newline"
    path = tmp_path / "crlf.log"
    path.write_bytes(text.encode())
    want = text.replace("\r\n", "\n").split("\n")
    for chunk in (7, 64, 1000, 1 << 20):
        monkeypatch.setattr(inputs, "CHUNK", chunk)
        for enabled in (True, False):
            monkeypatch.setattr(fastlane, "ENABLED", enabled)
            (inp,) = list(inputs.open_inputs([str(path)]))
            got = [line for batch in inp.line_batches() for line in batch]
            assert got == want, (chunk, enabled)


@needs_lane
def test_ints_reads_a_column_in_line_order() -> None:
    import numpy as np

    ints = fastlane.module().ints
    values = [5, 7, -3, 2**62]
    out = np.empty(4, dtype=np.int64)
    ints(out, values, np.array([3, 0, 2, 1]))
    assert out.tolist() == [2**62, 5, -3, 7] and values == [5, 7, -3, 2**62]  # the list is left as it was
    pids, missing = np.empty(3, dtype=np.int64), np.empty(3, dtype=bool)
    ints(pids, [None, 812, None], None, missing)
    assert pids.tolist() == [0, 812, 0] and missing.tolist() == [True, False, True]
    for bad in (
        lambda: ints(np.empty(3, dtype=np.int32), [1, 2, 3]),  # not int64
        lambda: ints(np.empty(2, dtype=np.int64), [1, 2, 3]),  # too short
        lambda: ints(np.empty(3, dtype=np.int64), [1, 2, 3], np.array([0, 1, 3])),  # out of range
        lambda: ints(np.empty(3, dtype=np.int64), [1, None, 3]),  # None without a missing array
        lambda: ints(np.empty(3, dtype=np.int64), [1, "2", 3]),
        lambda: ints(np.empty(1, dtype=np.int64), [2**63]),
        lambda: ints(np.empty(2, dtype=np.int64), [1, 2], None, np.empty(2, dtype=np.int8)),
    ):
        with pytest.raises((ValueError, TypeError, OverflowError)):
            bad()


@needs_lane
def test_int_column_is_a_sequence_that_keeps_every_value() -> None:
    """The builder's IntColumn (line numbers, times) gives back what was put in, int64 cells or not."""
    import numpy as np

    mod = fastlane.module()
    values = [1, -(2**63), 2**63, None, "Apr 30 23:50:00", 3.5, True, 2**62, -7]
    col = mod.IntColumn(2)  # grows past its capacity
    for v in values:
        col.append(v)
    assert len(col) == len(values) and list(col) == values and col == values and values == col
    assert [type(x) for x in col] == [type(x) for x in values]  # True stays a bool, 3.5 a float
    assert col[-1] == -7 and col[-9] == 1
    col[-1] += 1  # reader.extend_last: col[-1] += 1 on span
    col[3], col[4] = 5, None  # an object cell becomes a number, a number cell an object
    assert list(col) == [1, -(2**63), 2**63, 5, None, 3.5, True, 2**62, -6]
    assert col != values and col != list(col)[:-1] and not (col == {})
    for bad in (lambda: col[9], lambda: col.__setitem__(-10, 1), lambda: col.__delitem__(0)):
        with pytest.raises((IndexError, TypeError)):
            bad()
    ints = mod.ints
    plain = mod.IntColumn()
    for v in (4, 9, 2**40):
        plain.append(v)
    out = np.empty(3, dtype=np.int64)
    ints(out, plain)
    assert out.tolist() == [4, 9, 2**40]
    ints(out, plain, np.array([2, 0, 1]))
    assert out.tolist() == [2**40, 4, 9]
    mixed = mod.IntColumn()
    for v in (None, 812, None):
        mixed.append(v)
    pids, missing = np.empty(3, dtype=np.int64), np.empty(3, dtype=bool)
    ints(pids, mixed, np.array([1, 0, 2]), missing)
    assert pids.tolist() == [812, 0, 0] and missing.tolist() == [False, True, True]
    with pytest.raises(TypeError):
        ints(np.empty(3, dtype=np.int64), mixed)  # None without a missing array
    with pytest.raises(TypeError):
        ints(np.empty(1, dtype=np.int64), (1,))  # neither a list nor an IntColumn
    with pytest.raises(ValueError):
        ints(np.empty(2, dtype=np.int64), plain)  # too short


@needs_lane
def test_builder_times_and_line_numbers_survive_the_int_columns(tmp_path: Path) -> None:
    """The lane writes times and line numbers as C integers (a continuation line moves line_end and span):
    the table is the pure-Python path's, cell for cell."""
    rows = []
    for i in range(300):
        head = f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]: "
        if i % 50 == 0:  # a record of four lines, closed after the next record starts (other pid)
            rows += [head + f"2026-04-30T21:50:{i % 60:02d}.{i:03d}Z xo:backups ERROR step failed {{",
                     head + "  error: Error: boom",
                     f"Apr 30 23:50:{i % 60:02d} xo xo-server[900]: 2026-04-30T21:50:{i % 60:02d}.{i:03d}Z "
                     "xo:api INFO other process",
                     head + "      at Object.<anonymous> (/opt/xo/a.js:1:2)",
                     head + "}"]
        else:
            rows.append(head + f"2026-04-30T21:50:{i % 60:02d}.{i:03d}Z xo:backups INFO step {i}")
    path = tmp_path / "xo.journal"
    path.write_text("\n".join(rows) + "\n")
    fast = _assert_same([str(path)])
    assert len(fast) == 306 and fast["span"].tolist().count(4) == 6 and fast["line_end"].sub(fast["line"]).max() == 4
    assert str(fast["time"].iloc[-1]) == "2026-04-30 21:50:59.299000+00:00"


@needs_lane
def test_lane_rows_with_the_same_data_share_their_frames(tmp_path: Path) -> None:
    """A trace logged many times over is parsed once and its frames list is shared by those rows (list
    cells are read-only): not a list of dicts per row."""
    record = [
        "Apr 30 23:50:{s:02d} xo xo-server[812]: 2026-04-30T21:50:{s:02d}.000Z xo:backups WARN unhandled error {{",
        "Apr 30 23:50:{s:02d} xo xo-server[812]:   err: Error: stream has ended without data",
        "Apr 30 23:50:{s:02d} xo xo-server[812]:       at readChunkStrict (/opt/xo/read-chunk/index.js:83:13)",
        "Apr 30 23:50:{s:02d} xo xo-server[812]:       at async NbdClient.connect (/opt/xo/nbd-client/index.mjs:120:5)",
        "Apr 30 23:50:{s:02d} xo xo-server[812]: }}",
    ]
    path = tmp_path / "traces.journal"
    path.write_text("".join(line.format(s=i % 60) + "\n" for i in range(300) for line in record))
    table = _assert_same([str(path)])
    frames = table["frames"].tolist()
    assert all(f == frames[0] for f in frames) and [f["function"] for f in frames[0]] == [
        "readChunkStrict", "NbdClient.connect"]
    from collections import Counter

    assert Counter(map(id, frames)).most_common(1)[0][1] >= 290  # one list, bar records at batch ends


@needs_lane
def test_lane_data_facts_survive_a_full_table(tmp_path: Path) -> None:
    """More distinct util.inspect data texts than the lane's table of their facts holds (4096), each seen
    twice, inline and on lines of their own: it starts again, and the table is still Python's."""
    lines = []
    for _ in range(2):
        for i in range(4300):
            stamp = f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]: 2026-04-30T21:50:{i % 60:02d}.000Z"
            if i % 2:
                lines.append(f"{stamp} xo:backups WARN failed {{ code: 'E{i}', message: 'boom {i}' }}")
            else:
                lines += [f"{stamp} xo:backups WARN unhandled error {{",
                          f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]:   err: Error: stream {i} has ended",
                          f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]:       at read (/opt/xo/r.js:{i}:13)",
                          f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]: }}"]
    path = tmp_path / "many-data.journal"
    path.write_text("\n".join(lines) + "\n")
    table = _assert_same([str(path)])
    assert table["error_code"].tolist().count("E4299") == 2
    assert table["error_message"].tolist().count("stream 4298 has ended") == 2


@needs_lane
def test_same_table_on_the_lanes_own_shapes(tmp_path: Path) -> None:
    """Every record shape the lane writes itself (plain, data below the header, data at the end of the line,
    an Error inside the message, lines below a message with no data head, xapi lines) as Python writes it."""
    path = tmp_path / "shapes.journal"
    path.write_text("\n".join(_lane_friendly(600)) + "\n")
    table = _assert_same([str(path)], ReadOptions(year=2026))
    assert (table["message"].str.endswith("  ")).sum() >= 50  # "rest" unstripped when no data head splits it


@needs_lane
def test_prematch_from_many_threads_at_once() -> None:
    """Lanes prematch on their own threads at the same time (each with its own match data); a lane asked
    twice at once refuses the second call instead of sharing its match data."""
    import threading

    lines = _lane_friendly(300)
    expected = _framed(list(lines))
    results: list[object] = []
    refused: list[str] = []
    shared, _framer = _lane_and_framer()

    def own_lane() -> None:
        for _ in range(5):
            results.append(_framed(list(lines), pre=lambda lane, ls: lane.prematch(ls)))

    def same_lane() -> None:
        for _ in range(40):
            try:
                assert shared.prematch(lines).lines == len(lines)
            except RuntimeError as exc:
                refused.append(str(exc))

    threads = [threading.Thread(target=fn) for fn in (own_lane, same_lane) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 15 and all(r == expected for r in results)
    assert all("already running" in r for r in refused)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_prematch_only_where_a_second_core_can_take_it() -> None:
    import subprocess

    code = ("import os; os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}}) if {one} else None; "
            "from xodiag.sources import fastlane; print(fastlane.PREMATCH)")
    one = subprocess.run([sys.executable, "-c", code.format(one=True)], capture_output=True, text=True, timeout=60)
    assert one.stdout.strip() == "False", one.stderr
    if len(os.sched_getaffinity(0)) > 1:
        many = subprocess.run([sys.executable, "-c", code.format(one=False)], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "XODIAG_NO_PREMATCH": ""})
        assert many.stdout.strip() == "True", many.stderr
        off = subprocess.run([sys.executable, "-c", code.format(one=False)], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "XODIAG_NO_PREMATCH": "1"})
        assert off.stdout.strip() == "False", off.stderr


def _xensource_with_backtraces(n: int, seed: int, disrupt: float = 1.0) -> list[str]:
    """xapi backtrace records as xensource.log writes them (lines of one thread on one host), interleaved
    with other threads and hosts, plain xapi lines, xo-server lines, blank lines, escapes and odd frames."""
    import random

    rng = random.Random(seed)
    out: list[str] = []
    i = 0
    while len(out) < n:
        i += 1
        host = rng.choice(["xcp-a", "xcp-a", "xcp-b"])
        tid = rng.choice([20839, 20839, 20840, 31])
        head = (f"Apr 30 23:50:{i % 60:02d} {host} xapi: [error||{tid} HTTPS 10.0.1.50->:::80|VM.snapshot "
                f"R:c1597fc9181a|backtrace] ")
        depth = rng.randint(1, 6)
        out.append(head + f"VM.snapshot R:c1597fc9181a failed with exception Api_errors.Server_error("
                          f"\"INTERNAL_ERROR\", [\"VDI {_IDS[i % 5]} busy\"])")
        for k in range(1, depth + 1):
            line = rng.choice(["113", "9", "1" * 70 if rng.random() < disrupt else "12"]) if k == depth else str(k * 7)
            out.append(head + rng.choice([
                f"{k}/{depth} xapi Raised at file ocaml/xapi/server_helpers.ml, line {line}",
                f"{k}/{depth} xapi Called from file ocaml/xapi-client/client.ml, line {line}, characters 4-9",
                f"   {k}/{depth} xapi Re-raised at file ocaml/libs/stdext.ml, line {line}   ",
                "Raised Api_errors.Server_error(\"INTERNAL_ERROR\", [\"Unix.Unix_error(Unix.EPIPE)\"])",
                "  Raised by the task's own thread  ",  # a message line keeps its blanks
            ]))
        roll = rng.random()
        if roll < 0.15:  # a plain xapi line of another thread closes the record
            out.append(f"Apr 30 23:50:{i % 60:02d} {host} xapi: [ info||{tid + 1} |VDI.export "
                       f"R:0123456789ab|xapi] export of VDI {_IDS[(i + 1) % 5]}")
        elif roll < 0.15 + 0.25 * disrupt:  # what makes the lane hand the record to Python
            what = rng.choice(["gap", "blank", "escapes", "prose"])
            if what == "gap":  # an xo-server record, then the same thread again: a line in between
                out.append(f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]: "
                           f"2026-04-30T21:50:{i % 60:02d}.000Z xo:a INFO {i} {{")
                out.append(f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]:   code: 'EIO'")
                out.append(head + f"9/9 xapi Called from file after-a-gap.ml, line {i}")
                out.append(f"Apr 30 23:50:{i % 60:02d} xo xo-server[812]: }}")
            elif what == "blank":
                out.append("")
                out.append(head + "1/1 xapi Called from file after-a-blank.ml, line 3")
            elif what == "escapes":
                out.append(head + "vhd-tool: internal error#012  End_of_file#012")
            else:
                out.append("plain prose between the records")
    return out


@needs_lane
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_table_on_backtrace_records(tmp_path: Path, seed: int) -> None:
    """The lane groups backtrace lines by thread and host as LineFramer does (an xo-server record may stand
    between two lines of one record), closes the record where Python would (another thread or host, a
    plain xapi line, an xo-server header), hands it to Python where it must (escapes, a frame line number
    past 63 digits, a record still open when it stops) and writes the same rows."""
    path = tmp_path / "xensource.log"
    path.write_text("\n".join(_xensource_with_backtraces(3000, seed)) + "\n")
    table = _assert_same([str(path)], ReadOptions(year=2026))
    bts = table[table["kind"] == "backtrace"]
    assert len(bts) > 300 and (bts["span"] > 1).mean() > 0.7
    assert bts["frames"].map(len).sum() > 500 and bts["error_code"].eq("INTERNAL_ERROR").sum() > 300
    cols, _kinds, _values, _unparsed, lane_rows = _framed(_xensource_with_backtraces(3000, seed, disrupt=0))
    assert lane_rows >= 0.95 * len(cols["kind"]) and cols["kind"].count("backtrace") > 300  # the lane's own rows


@needs_lane
@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc"
                    or "libasan" in os.environ.get("LD_PRELOAD", ""), reason="glibc's own malloc only")
def test_keep_freed_memory_stops_the_page_fault_round_trips() -> None:
    """After keep_freed_memory (console.py calls it), chunk-sized blocks freed and allocated again come
    back from the heap: no page faults. By default glibc trims them off and faults them in again."""
    script = (
        "import resource, sys\n"
        "from xodiag import _fastlane\n"
        "kept = _fastlane.keep_freed_memory() if sys.argv[1] == 'keep' else None\n"
        "def chunk():\n"
        "    blocks = [bytearray(1 << 20) for _ in range(16)]\n"
        "    del blocks\n"
        "chunk(); chunk()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(8):\n"
        "    chunk()\n"
        "print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    runs = {}
    for mode in ("keep", "default"):
        out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True)
        kept, faults = out.stdout.split()
        runs[mode] = (kept, int(faults))
    assert runs["keep"][0] == "True"
    assert runs["default"][1] > 8 * 16 * 128  # 16 MiB trimmed and faulted in again, each round
    assert runs["keep"][1] < 1000


@needs_lane
@pytest.mark.parametrize(("name", "make"), [("vm", lambda mod: mod.SparseColumn(None)), ("line", lambda mod: []),
                                            ("error_code", lambda mod: [])])
def test_lane_refuses_a_builder_with_other_columns(name: str, make) -> None:
    """The lane writes the builder's columns in C: a column of another kind, or a SparseColumn of another
    default, is a clear error, not memory written through the wrong type."""
    cols_before = _framed(["Apr 30 23:50:00 xo xo-server[812]: 2026-04-30T21:50:00.000Z xo:b INFO one"])[0]
    assert len(cols_before["vm"]) == 1  # the builder as it is works
    import datetime as dt

    from xodiag.events import EventBuilder
    from xodiag.sources.lines import LineFramer
    from xodiag.sources.records import Sink, emit
    from xodiag.times import YearContext

    sink = Sink("x", "xo-journal", EventBuilder(), YearContext(None, 2026, None, dt.UTC))
    sink.builder.cols[name] = make(fastlane.module())
    framer = LineFramer(lambda rec: emit(rec, sink), lambda n: False)
    lane = fastlane.make_lane(framer, sink)
    with pytest.raises(RuntimeError, match=f"builder has no column {name}"):
        lane.run(["Apr 30 23:50:00 xo xo-server[812]: 2026-04-30T21:50:00.000Z xo:b INFO one"], 0, 1)
