"""The column-wise jsonl writer against pandas' own ``to_json`` (the reference it replaced), plus the
values pandas never had to handle: escapes, line separators inside text, lone surrogates."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from xodiag.events import COLUMNS
from xodiag.reader import event_table
from xodiag.render.jsonl import write_jsonl

REPO = Path(__file__).resolve().parents[1]


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


def test_same_values_as_pandas_on_every_bundled_log() -> None:
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
def test_text_is_escaped_and_one_event_stays_one_line(tmp_path: Path, text: str) -> None:
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


def test_a_lone_surrogate_is_escaped_not_an_error(tmp_path: Path) -> None:
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


def test_an_empty_table_writes_nothing() -> None:
    table, _ = event_table([])
    buf = io.StringIO()
    write_jsonl(table, buf)
    assert buf.getvalue() == ""
