"""The jsonl writers against pandas' own ``to_json`` (the reference they replaced), plus the values
pandas never had to handle: escapes, line separators inside text, lone surrogates.

Two writers: the compiled one (``_fastlane.jsonl``) and the Python one, used when the extension is not
built. Every test runs on both, and a property test requires the same output from both."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xodiag.events import COLUMNS
from xodiag.reader import event_table
from xodiag.render import jsonl
from xodiag.render.jsonl import write_jsonl
from xodiag.sources import fastlane

REPO = Path(__file__).resolve().parents[1]
WRITERS = ["compiled", "python"]


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which jsonl writer runs: the compiled one (skipped when not built) or the Python one."""
    if request.param == "compiled" and fastlane.module() is None:
        pytest.skip("the compiled extension is not built here")
    monkeypatch.setattr(fastlane, "ENABLED", request.param == "compiled")
    return request.param


def _reference(df: pd.DataFrame) -> list[dict]:
    text = df[list(COLUMNS)].to_json(orient="records", lines=True, date_format="iso", date_unit="ms",
                                     force_ascii=False)
    return [json.loads(line) for line in text.split("\n") if line]


def _ours(df: pd.DataFrame) -> tuple[str, list[dict]]:
    buf = io.StringIO()
    write_jsonl(df, buf)
    text = buf.getvalue()
    assert text.endswith("\n")
    rows = [json.loads(line) for line in text.split("\n")[:-1]]  # one event per "\n"-terminated line
    return text, rows


def _logs() -> list[str]:
    out = []
    for root in ("samples", "tests/fixtures", "tests/scenarios", "tests/holdout"):
        out += [str(p) for p in sorted((REPO / root).rglob("*"))
                if p.is_file() and p.suffix not in (".md", ".png", ".svg") and p.stat().st_size < 5 << 20]
    return out


def test_same_values_as_pandas_on_every_bundled_log(writer: str) -> None:
    table, _ = event_table(_logs())
    assert len(table) > 1000
    ref = _reference(table)
    _, ours = _ours(table)
    assert len(ours) == len(ref) == len(table)
    for i, (a, b) in enumerate(zip(ref, ours, strict=True)):
        assert list(b) == list(COLUMNS), i
        assert a == b, (i, {k: (a[k], b[k]) for k in a if a[k] != b[k]})
    kinds = {type(v).__name__ for row in ours for v in row.values()}
    assert kinds >= {"str", "int", "NoneType", "list"}  # the comparison covered every kind of cell
    assert any(row["pid"] is None for row in ours) and any(isinstance(row["pid"], int) for row in ours)
    assert any(row["time"] is None for row in ours) and any(row["frames"] for row in ours)


@pytest.mark.parametrize("text", [
    "esc \x1b[31mred\x1b[0m bell \x07 nul-free",
    "line\u2028separator and next\u0085line",
    "accents éàü and emoji \U0001F4BE",
    'quotes " and back\\slash and /slash',
])
def test_text_is_escaped_and_one_event_stays_one_line(tmp_path: Path, text: str, writer: str) -> None:
    log = tmp_path / "xo.log"
    log.write_text(f"2026-04-14T00:22:13.120Z xo:backups:worker INFO {text}\n"
                   "2026-04-14T00:22:14.000Z xo:backups:worker INFO next\n", encoding="utf-8")
    table, _ = event_table([str(log)])
    out, rows = _ours(table)
    assert len(rows) == 2
    assert rows[0]["raw"].endswith(text)  # raw keeps escape sequences as read
    assert rows == _reference(table)
    assert not any(ch in out for ch in "\x1b\x07")  # no control character reaches a terminal
    assert "é" in out or "é" not in text  # non-ASCII text is kept as is


def test_a_lone_surrogate_is_escaped_not_an_error(tmp_path: Path, writer: str) -> None:
    """A job log may hold "\\ud800" (valid JSON, not encodable as UTF-8): that event's line is written
    with ASCII escapes, the others as they are, and the stream stays valid UTF-8."""
    log = tmp_path / "xo.log"
    log.write_text("2026-04-14T00:22:13.120Z xo:backups:worker INFO a\n"
                   "2026-04-14T00:22:14.000Z xo:backups:worker INFO b\n")
    table, _ = event_table([str(log)])
    table.loc[1, "message"] = "bad \ud800 here"
    table.loc[0, "message"] = "café"
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    write_jsonl(table, out)
    out.flush()
    text = raw.getvalue().decode("utf-8")
    lines = text.split("\n")[:-1]
    assert [json.loads(x)["message"] for x in lines] == ["café", "bad \ud800 here"]
    assert "café" in lines[0] and "\\ud800" in lines[1]


def test_an_empty_table_writes_nothing(writer: str) -> None:
    table, _ = event_table([])
    buf = io.StringIO()
    write_jsonl(table, buf)
    assert buf.getvalue() == ""


def test_bytes_go_straight_to_a_utf8_stream_after_pending_text(tmp_path: Path, writer: str) -> None:
    """On a UTF-8 text stream the compiled writer writes bytes to its buffer: text written before must
    come out first. Any other encoding gets text through the stream's own encoder."""
    log = tmp_path / "xo.log"
    log.write_text("2026-04-14T00:22:13.120Z xo:backups:worker INFO café\n", encoding="utf-8")
    table, _ = event_table([str(log)])
    for encoding in ("utf-8", "latin-1"):
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding=encoding, newline="")
        out.write("before\n")
        write_jsonl(table, out)
        out.write("after\n")
        out.flush()
        lines = raw.getvalue().decode(encoding).split("\n")
        assert lines[0] == "before" and lines[2] == "after" and lines[3] == ""
        assert json.loads(lines[1])["raw"].endswith("café")


_CELL = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.text(max_size=40), st.text(alphabet=st.characters(codec=None), max_size=12),  # surrogates too
    st.lists(st.text(max_size=8), max_size=3), st.lists(st.integers(), max_size=2),
    st.floats(allow_nan=True), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@pytest.mark.skipif(fastlane.module() is None, reason="the compiled extension is not built here")
@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(_CELL, _CELL, _CELL), min_size=1, max_size=6))
def test_compiled_writer_matches_the_python_encoder(rows: list[tuple]) -> None:
    """Cell by cell, the compiled writer gives the Python encoder's JSON text; where a cell cannot be
    UTF-8 (a lone surrogate) it falls back to ASCII escapes, and the values still read back equal."""
    keys = ['{"a":', ',"b":', ',"c":']
    columns = [list(col) for col in zip(*rows, strict=True)]
    data = fastlane.module().jsonl(columns, keys, "}\n", jsonl._other_utf8)
    text = data.decode("utf-8")  # always valid UTF-8
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == len(rows) + 1
    for line, row in zip(lines, rows, strict=False):
        expect = [jsonl._strings([cell], repeating=False)[0] for cell in row]
        try:
            "".join(expect).encode("utf-8")
        except UnicodeEncodeError:
            assert json.loads(line) == json.loads("{" + ",".join(
                f'"{k}":{e}' for k, e in zip("abc", expect, strict=True)) + "}")
            continue
        assert line == "".join(k + e for k, e in zip(keys, expect, strict=True)) + "}"


@pytest.mark.skipif(fastlane.module() is None, reason="the compiled extension is not built here")
def test_compiled_writer_edge_cells() -> None:
    """Integers at and past the 64-bit limits, every control character, quote and backslash at every
    offset of the eight-byte scan, and non-ASCII text: the Python encoder's text, byte for byte."""
    ints = [-1, 0, 1, -9, 10, -(1 << 63), (1 << 63) - 1, 1 << 63, -(1 << 63) - 1, 10**20, True, False]
    texts = [("x" * at) + chr(c) + "yz" for c in [*range(0x20), 0x22, 0x5C, 0x7F, 0xE9, 0x2028]
             for at in range(10)]
    cells = ints + texts + [["a\"b", "\\\\"], [], ["é"]]
    data = fastlane.module().jsonl([cells], ['{"v":'], "}\n", jsonl._other_utf8)
    expect = "".join('{"v":' + jsonl._strings([c], repeating=False)[0] + "}\n" for c in cells)
    assert data.decode("utf-8") == expect
    assert json.loads(data.decode().split("\n")[0]) == {"v": -1}


_FIRST_NS = pd.Timestamp("1678-01-01T00:00:00Z").value  # times.FIRST_YEAR .. LAST_YEAR: the others are NaT
_LAST_NS = pd.Timestamp("2262-01-01T00:00:00Z").value - 1


@pytest.mark.skipif(fastlane.module() is None, reason="the compiled extension is not built here")
@settings(max_examples=500, deadline=None)
@given(stamps=st.lists(st.one_of(st.integers(min_value=_FIRST_NS, max_value=_LAST_NS),
                                 st.integers(min_value=-10**12, max_value=10**12), st.just(None)),
                       min_size=1, max_size=20))
def test_compiled_times_match_numpy(stamps: list[int | None]) -> None:
    """The compiled writer formats epoch ns itself: the same text as the Python writer (numpy's
    millisecond cast, floored), over the years a table time can hold, around 1970 and for NaT."""
    import numpy as np

    nat = np.iinfo(np.int64).min
    ns = np.array([nat if s is None else s for s in stamps], dtype=np.int64)
    series = pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"))
    data = fastlane.module().jsonl([ns.tolist()], ['{"t":'], "}\n", jsonl._other_utf8, 0)
    assert data.decode().split("\n")[:-1] == ['{"t":' + t + "}" for t in jsonl._times(series)]


@pytest.mark.skipif(fastlane.module() is None, reason="the compiled extension is not built here")
@pytest.mark.parametrize("victim", ["columns", "keys"])
def test_compiled_writer_survives_lists_changed_while_read(victim: str) -> None:
    """Reading a column may run Python code (its __iter__) that empties the list of columns or of keys:
    the writer works on the lists as they were when called (a review found a crash here)."""
    class Evil:
        def __iter__(self) -> Iterator[int]:
            (columns if victim == "columns" else keys).clear()
            return iter([1])

    columns: list = [Evil(), [2]]
    keys = ['{"a":', ',"b":']
    assert fastlane.module().jsonl(columns, keys, "}\n", repr) == b'{"a":1,"b":2}\n'


def test_a_big_chunk_is_written_in_slices_in_order(tmp_path: Path, writer: str) -> None:
    """A chunk past the writer's slice size (jsonl.write_jsonl writes a few thousand rows at a time, so
    its output buffer stays small) comes out whole and in order, on a text stream and on a UTF-8 one."""
    n = 2 * jsonl._SLICE_ROWS + 123
    log = tmp_path / "xo.log"
    log.write_text("".join(f"2026-04-14T00:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z xo:a INFO row {i} "
                           f"caf\u00e9\n" for i in range(n)), encoding="utf-8")
    table, _ = event_table([str(log)])
    assert len(table) == n
    text, rows = _ours(table)
    assert rows == _reference(table) and [r["message"] for r in rows] == [f"row {i} café" for i in range(n)]
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    write_jsonl(table, out)
    out.flush()
    assert raw.getvalue().decode("utf-8") == text
