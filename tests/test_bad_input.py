"""Bad inputs through the real CLI: the tool reports them in one line each and never crashes."""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from pathlib import Path
from typing import Any

import pytest

from xodiag.reader import event_table

XO_LINES = [
    "2026-04-14T00:22:13.120Z xo:backups:worker INFO starting backup",
    "2026-04-14T00:22:13.133Z xo:xapi:xapi-disks WARN can't connect through NBD, fall back to stream export",
    "2026-04-14T00:22:20.010Z xo:backups:worker INFO backup has ended",
]
PROSE = (
    "Hello everyone,\n"
    "my nightly backup stopped working after the last update.\n"
    "\n"
    "Any idea what I should look at first?\n"
    "Thanks in advance\n"
)


def iso(ts: Any) -> str | None:
    """A pandas timestamp as the CLI's jsonl writes it."""
    if ts is None or ts != ts:  # NaT
        return None
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(run_cli, tmp_path: Path, *inputs: str | Path
          ) -> tuple[int, list[dict[str, Any]], list[str], list[dict]]:
    """Run ``parse ... --format jsonl --summary-json``: (code, rows, stderr lines, summaries)."""
    summary_path = tmp_path / "summary.json"
    code, out, err = run_cli(["parse", *map(str, inputs), "--format", "jsonl",
                              "--summary-json", summary_path])
    assert "Traceback" not in out and "Traceback" not in err, err
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    summaries = json.loads(summary_path.read_text()) if summary_path.exists() else []
    return code, rows, err.splitlines(), summaries


def assert_accounting(rows: list[dict[str, Any]], summaries: list[dict]) -> None:
    """Every physical line of an input is in one event's span or counted unparsed."""
    for s in summaries:
        mine = [r for r in rows if r["source"] == s["path"]]
        assert s["events"] == len(mine), s
        assert s["lines"] == sum(r["span"] for r in mine) + s["unparsed"], s
        for r in mine:
            assert 1 <= r["line"] <= max(s["lines"], 1), r
            if r["span"] > 0:
                assert r["line"] <= r["line_end"] <= s["lines"], r
    assert sum(s["events"] for s in summaries) == len(rows)


def test_empty_file(run_cli, tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    code, rows, err, summaries = parse(run_cli, tmp_path, path)
    assert code == 0  # an empty file could be read: it just holds nothing
    assert rows == []
    assert len(err) == 1
    assert err[0].startswith(f"{path}: ")
    assert "0 lines, 0 events, 0 unparsed" in err[0]
    assert "empty input" in err[0]
    assert [(s["path"], s["lines"], s["events"], s["unparsed"], s["error"]) for s in summaries] == [
        (str(path), 0, 0, 0, None)
    ]
    assert_accounting(rows, summaries)


def _binary_blob(head: bytes) -> bytes:
    """64 KiB of random bytes with a NUL every 37 bytes, after ``head``."""
    data = bytearray(random.Random(7).randbytes(65536))
    data[::37] = b"\x00" * len(data[::37])
    return head + bytes(data)


def test_binary_file(run_cli, tmp_path):
    path = tmp_path / "core.dump"
    path.write_bytes(_binary_blob(b"\x00\x01\x02\x00\x7fELF"))
    code, rows, err, summaries = parse(run_cli, tmp_path, path)
    assert code == 2  # the only input could not be read
    assert rows == []
    assert err == [f"{path}: error: binary file, not a log"]
    assert summaries[0]["error"] == "binary file, not a log"
    assert summaries[0]["lines"] == 0
    assert_accounting(rows, summaries)


def test_binary_file_with_printable_header(run_cli, tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(_binary_blob(b"SQLite format 3\x00"))
    code, rows, err, _summaries = parse(run_cli, tmp_path, path)
    assert err == [f"{path}: error: binary file, not a log"]
    assert code == 2
    assert rows == []


def test_binary_among_good_input_still_exits_zero(run_cli, tmp_path):
    good = tmp_path / "xo-server.log"
    good.write_text("\n".join(XO_LINES) + "\n")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(_binary_blob(b"\x00\x00\x00\x00\x00\x00"))
    code, rows, err, summaries = parse(run_cli, tmp_path, binary, good)
    assert code == 0
    assert [r["message"] for r in rows] == ["starting backup",
                                           "can't connect through NBD, fall back to stream export",
                                           "backup has ended"]
    assert err == [f"{binary}: error: binary file, not a log",
                   f"{good}: xo-console, 3 lines, 3 events, 0 unparsed"]
    assert_accounting(rows, summaries)


def test_prose_only_is_read_but_unparsed(run_cli, tmp_path):
    path = tmp_path / "forum-post.txt"
    path.write_text(PROSE)
    code, rows, err, summaries = parse(run_cli, tmp_path, path)
    assert code == 0  # read: its lines are counted as unparsed
    assert rows == []
    assert len(err) == 1
    assert err[0].startswith(f"{path}: unknown, 5 lines, 0 events, 5 unparsed (lines 1, 2, 3, 4, 5)")
    assert "no events: unknown format" in err[0]
    (s,) = summaries
    assert (s["format"], s["lines"], s["events"], s["unparsed"], s["error"]) == ("unknown", 5, 0, 5, None)
    assert s["unparsed_lines"] == [1, 2, 3, 4, 5]
    assert_accounting(rows, summaries)


def test_invalid_utf8_inside_console_log(run_cli, tmp_path):
    path = tmp_path / "xo-server.log"
    first = (XO_LINES[0] + "\n").encode()
    bad = b"2026-04-14T00:22:13.133Z xo:xapi:xapi-disks WARN VDI label caf\xe9 \xff\xfe broken\n"
    path.write_bytes(first + bad + (XO_LINES[2] + "\n").encode())
    code, rows, err, summaries = parse(run_cli, tmp_path, path)
    assert code == 0
    assert [(r["line"], r["line_end"], r["level"]) for r in rows] == [
        (1, 1, "INFO"), (2, 2, "WARN"), (3, 3, "INFO")]
    assert rows[1]["message"] == "VDI label caf\ufffd \ufffd\ufffd broken"
    assert rows[1]["time"] == "2026-04-14T00:22:13.133Z"
    assert rows[2]["message"] == "backup has ended"
    offset = len(first) + bad.index(b"\xe9")
    assert err == [f"{path}: xo-console, 3 lines, 3 events, 0 unparsed; invalid UTF-8 (first near byte "
                   f"{offset}); replaced with U+FFFD"]
    assert_accounting(rows, summaries)


@pytest.mark.parametrize("shape", ["prose", "xo-record"])
def test_single_10mb_line(run_cli, tmp_path, shape):
    path = tmp_path / "huge.log"
    big = "lorem ipsum " * (10_000_000 // 12)
    if shape == "prose":
        path.write_text(big + "\n")
    else:
        path.write_text(XO_LINES[0] + "\n" + "2026-04-14T00:22:14.000Z xo:backups:worker INFO " + big + "\n"
                        + XO_LINES[2] + "\n")
    code, rows, err, summaries = parse(run_cli, tmp_path, path)
    assert code == 0
    assert len(err) == 1
    (s,) = summaries
    if shape == "prose":
        assert (s["lines"], s["events"], s["unparsed"]) == (1, 0, 1)
        assert err[0].startswith(f"{path}: unknown, 1 lines, 0 events, 1 unparsed")
    else:
        assert (s["format"], s["lines"], s["events"], s["unparsed"]) == ("xo-console", 3, 3, 0)
        assert [r["line"] for r in rows] == [1, 2, 3]
        assert rows[1]["message"] == big
        assert rows[1]["time"] == "2026-04-14T00:22:14.000Z"
    assert_accounting(rows, summaries)


def test_truncated_gzip_keeps_what_was_readable(run_cli, tmp_path, samples):
    plain = samples / "april-2026-nbd-stream-init" / "xo-server.journal"
    packed = gzip.compress(plain.read_bytes())
    path = tmp_path / "xo-server.journal.gz"
    path.write_bytes(packed[: len(packed) // 2])
    code, rows, err, summaries = parse(run_cli, tmp_path, path)
    assert code == 0
    assert len(err) == 1
    assert err[0].startswith(f"{path}: xo-journal, ")
    assert "truncated gzip stream" in err[0]
    (s,) = summaries
    full_lines = plain.read_text().splitlines()
    assert 0 < s["lines"] < len(full_lines)
    assert len(rows) >= 3
    full, _ = event_table([str(plain)])
    by_line = {int(r.line): r for r in full.itertuples()}
    # Every event except the last (which may be cut) is the same as in the whole file.
    for r in rows[:-1]:
        ref = by_line[r["line"]]
        assert (r["line_end"], r["kind"], r["message"], r["time"], r["time_quality"]) == (
            int(ref.line_end), ref.kind, ref.message, iso(ref.time), ref.time_quality)
    assert_accounting(rows, summaries)


def test_corrupt_gzip_with_nothing_readable_is_an_error(run_cli, tmp_path):
    path = tmp_path / "xensource.log.gz"
    path.write_bytes(b"\x1f\x8b" + b"this is not deflate data at all" * 20)
    code, rows, err, _summaries = parse(run_cli, tmp_path, path)
    assert rows == []
    assert len(err) == 1 and err[0].startswith(f"{path}: error: ")
    assert code == 2


def test_missing_file(run_cli, tmp_path):
    path = tmp_path / "nope" / "xensource.log"
    code, rows, err, summaries = parse(run_cli, tmp_path, path)
    assert code == 2
    assert rows == []
    assert err == [f"{path}: error: no such file"]
    assert summaries == [{"path": str(path), "format": "unknown", "lines": 0, "events": 0, "unparsed": 0,
                          "unparsed_lines": [], "notes": [], "error": "no such file", "year_source": None}]


@pytest.mark.parametrize("content", ["nothing", "only-skipped"])
def test_directory_without_logs(run_cli, tmp_path, content):
    folder = tmp_path / "bundle"
    folder.mkdir()
    if content == "only-skipped":
        (folder / ".hidden.log").write_text(XO_LINES[0] + "\n")
        (folder / "graph.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        (folder / "sub").mkdir()
    code, rows, err, summaries = parse(run_cli, tmp_path, folder)
    assert code == 2
    assert rows == []
    assert err == [f"{folder}: error: directory holds no log files"]
    assert_accounting(rows, summaries)


def test_good_sample_and_missing_file(run_cli, tmp_path, samples):
    good = samples / "success-nbd" / "xo-server.journal"
    missing = tmp_path / "daemon.log"
    code, rows, err, summaries = parse(run_cli, tmp_path, good, missing)
    alone, (alone_summary,) = event_table([str(good)])
    assert code == 0
    assert len(rows) == len(alone) > 0
    assert {r["source"] for r in rows} == {str(good)}
    assert [r["message"] for r in rows] == list(alone["message"])
    assert [r["time"] for r in rows] == [iso(t) for t in alone["time"]]
    assert "starting backup" in [r["message"] for r in rows]
    assert len(err) == 2
    assert err[0] == alone_summary.one_line()
    assert err[1] == f"{missing}: error: no such file"
    assert "no such file" in err[1] and str(missing) in err[1]
    assert_accounting(rows, summaries)


def test_missing_file_first_then_good_file(run_cli, tmp_path):
    missing = tmp_path / "gone.log"
    good = tmp_path / "xo-server.log"
    good.write_text("\n".join(XO_LINES) + "\n")
    code, rows, err, _summaries = parse(run_cli, tmp_path, missing, good)
    assert code == 0
    assert len(rows) == 3
    assert err == [f"{missing}: error: no such file", f"{good}: xo-console, 3 lines, 3 events, 0 unparsed"]


def test_control_characters_in_member_name_stay_on_one_line(run_cli, tmp_path):
    bundle = tmp_path / "bundle.tar.gz"
    data = (XO_LINES[0] + "\n").encode()
    with tarfile.open(bundle, "w:gz") as tar:
        info = tarfile.TarInfo("var/log/xo\nserver\x1b[31m.log")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    code, rows, err, _summaries = parse(run_cli, tmp_path, bundle)
    assert code == 0
    assert len(rows) == 1
    assert len(err) == 1
    assert "\x1b" not in err[0]


def test_truncated_bundle_keeps_complete_members(run_cli, tmp_path):
    bundle = tmp_path / "support.tar.gz"
    first = ("\n".join(XO_LINES) + "\n").encode()
    rnd = random.Random(3)
    filler = "".join(f"{rnd.getrandbits(128):032x}\n" for _ in range(20000)).encode()  # incompressible
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in (("var/log/a-xo-server.log", first), ("var/log/z-big.log", filler)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    packed = bundle.read_bytes()
    bundle.write_bytes(packed[: len(packed) // 2])
    code, rows, _err, _summaries = parse(run_cli, tmp_path, bundle)
    assert code == 0
    assert [r["message"] for r in rows if r["source"].endswith("!var/log/a-xo-server.log")] == [
        "starting backup", "can't connect through NBD, fall back to stream export", "backup has ended"]
