"""Every way of handing a log to xodiag (stdin, compressed files, folders, bundles) gives the same events."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import tarfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from xodiag.reader import event_table

KEY = ("line", "line_end", "span", "kind", "level", "namespace", "message", "time", "time_quality")


def iso(ts: Any) -> str | None:
    if ts is None or ts != ts:  # NaT
        return None
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reference(paths: list[Path]) -> tuple[dict[str, list[tuple]], dict[str, Any]]:
    """Events (as KEY tuples) and summaries per input, read in-process from plain files."""
    table, summaries = event_table([str(p) for p in paths])
    events: dict[str, list[tuple]] = defaultdict(list)
    for row in table.itertuples():
        values = {k: getattr(row, k) for k in KEY}
        values["time"] = iso(values["time"])
        events[row.source].append(tuple(None if v is None or v != v else v for v in values.values()))
    return events, {s.path: s for s in summaries}


def cli_events(run_cli, tmp_path: Path, args: list, stdin: bytes | None = None
               ) -> tuple[int, dict[str, list[tuple]], list[str], list[dict]]:
    """``parse *args --format jsonl``: (code, KEY tuples per source, stderr lines, summary JSON)."""
    summary = tmp_path / "summary.json"
    summary.unlink(missing_ok=True)
    code, out, err = run_cli(["parse", *args, "--format", "jsonl", "--summary-json", summary], stdin)
    summaries = json.loads(summary.read_text())
    assert "Traceback" not in err
    events: dict[str, list[tuple]] = defaultdict(list)
    for line in out.splitlines():
        row = json.loads(line)
        events[row["source"]].append(tuple(row[k] for k in KEY))
    return code, events, err.splitlines(), summaries


def log_files(folder: Path) -> list[Path]:
    """The files of a sample folder that are logs (not its README.md or expected.json)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix != ".md" and p.name != "expected.json")


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@pytest.fixture(scope="module")
def journal(samples) -> Path:
    return samples / "april-2026-nbd-stream-init" / "xo-server.journal"


@pytest.mark.parametrize("sample", ["april-2026-nbd-stream-init/xo-server.journal",
                                    "april-2026-nbd-stream-init/xcp-a.xensource.log",
                                    "success-nbd/backup-job.json"])
def test_compressed_copies_give_the_same_events(run_cli, tmp_path, samples, sample):
    plain = samples / sample
    data = plain.read_bytes()
    copies = {
        ".gz": gzip.compress(data),
        ".bz2": bz2.compress(data),
        ".xz": lzma.compress(data),
    }
    paths = [plain]
    st = plain.stat()
    for suffix, packed in copies.items():
        p = tmp_path / (plain.name + suffix)
        p.write_bytes(packed)
        os.utime(p, (st.st_atime, st.st_mtime))
        paths.append(p)
    code, events, err, summaries = cli_events(run_cli, tmp_path, paths)
    assert code == 0
    assert len(err) == 4
    base = events[str(plain)]
    assert len(base) > 3
    ref, ref_summaries = reference([plain])
    assert base == ref[str(plain)]
    for p in paths[1:]:
        assert events[str(p)] == base, p
    rows = {s["path"]: s for s in summaries}
    for p in paths:
        s = rows[str(p)]
        assert s["lines"] == physical_lines(data)
        assert (s["format"], s["events"], s["unparsed"], s["notes"], s["error"]) == (
            ref_summaries[str(plain)].format, len(base), ref_summaries[str(plain)].unparsed, [], None)


@pytest.mark.parametrize("compress", [False, True])
def test_stdin_gives_the_same_events(run_cli, tmp_path, journal, compress):
    data = journal.read_bytes()
    stdin = gzip.compress(data) if compress else data
    code, events, err, summaries = cli_events(run_cli, tmp_path, ["-"], stdin)
    assert code == 0
    ref, ref_summaries = reference([journal])
    assert list(events) == ["-"]
    assert events["-"] == ref[str(journal)]
    assert len(events["-"]) > 10
    (s,) = summaries
    want = ref_summaries[str(journal)]
    assert (s["path"], s["format"], s["lines"], s["events"], s["unparsed"]) == (
        "-", "xo-journal", physical_lines(data), want.events, want.unparsed)
    assert err == ["-" + want.one_line()[len(str(journal)):]]


def test_directory_gives_the_same_events(run_cli, tmp_path, samples):
    src = samples / "april-2026-nbd-stream-init"
    folder = tmp_path / "collected"
    shutil.copytree(src, folder / "var" / "log")  # copy2: mtimes kept
    (folder / "var" / "log" / ".xo-server.journal.swp").write_bytes(b"\x00" * 100)
    (folder / "screenshot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    files = log_files(folder / "var" / "log")
    assert len(files) >= 5
    code, events, err, summaries = cli_events(run_cli, tmp_path, [folder])
    assert code == 0
    assert [s["path"] for s in summaries] == [str(p) for p in files]
    assert len(err) == len(files)
    ref, ref_summaries = reference(files)
    assert dict(events) == dict(ref)
    for s in summaries:
        want = ref_summaries[s["path"]]
        assert (s["format"], s["lines"], s["events"], s["unparsed"]) == (
            want.format, physical_lines(Path(s["path"]).read_bytes()), want.events, want.unparsed)
    # the same folder given as plain files, in the same order
    code2, events2, _, _ = cli_events(run_cli, tmp_path, files)
    assert code2 == 0
    assert dict(events2) == dict(events)


@pytest.mark.parametrize("suffix,mode", [("tar.gz", "w:gz"), ("tar.xz", "w:xz")])
def test_support_bundle_gives_the_same_events(run_cli, tmp_path, samples, suffix, mode):
    src = samples / "april-2026-nbd-stream-init"
    files = log_files(src)
    bundle = tmp_path / f"xo-support.{suffix}"
    with tarfile.open(bundle, mode) as tar:
        for p in files:
            tar.add(p, arcname=f"xcp-ng-bundle/var/log/{p.name}")
        tar.add(files[0], arcname="xcp-ng-bundle/graphs/cpu.png")  # skipped by its suffix
        tar.add(files[0], arcname="xcp-ng-bundle/NOTES.md")  # skipped by its suffix
    code, events, err, summaries = cli_events(run_cli, tmp_path, [bundle])
    assert code == 0
    names = [f"{bundle}!xcp-ng-bundle/var/log/{p.name}" for p in files]
    assert [s["path"] for s in summaries] == names
    assert len(err) == len(files)
    for line, name in zip(err, names, strict=True):
        assert line.startswith(name + ": ")
    ref, ref_summaries = reference(files)
    for p, name in zip(files, names, strict=True):
        assert events[name] == ref[str(p)], name
        s = next(s for s in summaries if s["path"] == name)
        want = ref_summaries[str(p)]
        assert (s["format"], s["lines"], s["events"], s["unparsed"], s["error"]) == (
            want.format, physical_lines(p.read_bytes()), want.events, want.unparsed, None)
    assert sum(len(v) for v in events.values()) == sum(len(v) for v in ref.values()) > 100


KNOWN = """\
2026-04-14T00:22:13.120Z xo:backups:worker INFO starting backup
2026-04-14T00:22:14.651Z vates:nbd-client:multi WARN can't connect to one nbd client {
  err: Error: connect EHOSTUNREACH 10.0.3.12:10809
      at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)
}
some prose the user typed
and another remark
2026-04-14T00:22:20.010Z xo:backups:worker INFO backup has ended
"""

XENSOURCE = """\
Mar  3 02:00:12 xcp1 xapi: [debug||1818 UNIX /var/lib/xcp/xapi|VBD.plug R:9a8b7c6d5e4f|audit] VBD.plug: \
VBD = '3d1b0a52-7c1e-4f0e-9a55-1b2c3d4e5f60'
Mar  3 02:00:13 xcp1 xapi: [ info||1790 /var/lib/xcp/xapi|session.logout D:2c4e6a8b0d1f|xapi_session] \
Session.destroy trackid=0123456789abcdef0123456789abcdef
"""


def test_summary_json_numbers(run_cli, tmp_path):
    console = tmp_path / "xo-server.log"
    console.write_text(KNOWN)
    host = tmp_path / "xensource.log"
    host.write_text(XENSOURCE)
    missing = tmp_path / "absent.log"
    summary = tmp_path / "out" / "summary.json"
    summary.parent.mkdir()
    code, out, err = run_cli(["parse", console, host, missing, "--format", "none", "--summary-json", summary])
    assert code == 0
    assert out == ""
    data = json.loads(summary.read_text())
    assert isinstance(data, list) and len(data) == 3
    for item in data:
        assert {"path", "format", "lines", "events", "unparsed", "unparsed_lines", "notes", "error",
                "year_source"} <= set(item)
    assert data[0] == {"path": str(console), "format": "xo-console", "lines": 8, "events": 3, "unparsed": 2,
                       "unparsed_lines": [6, 7], "notes": [], "error": None, "year_source": None}
    keys = ("path", "format", "lines", "events", "unparsed", "error", "year_source")
    assert {k: data[1][k] for k in keys} == {
        "path": str(host), "format": "xensource", "lines": 2, "events": 2, "unparsed": 0, "error": None,
        "year_source": "anchor"}  # the year comes from xo-server.log's ISO times
    assert {k: data[2][k] for k in ("path", "lines", "events", "error")} == {
        "path": str(missing), "lines": 0, "events": 0, "error": "no such file"}
    assert err.splitlines() == [
        f"{console}: xo-console, 8 lines, 3 events, 2 unparsed (lines 6, 7)",
        f"{host}: xensource, 2 lines, 2 events, 0 unparsed",
        f"{missing}: error: no such file",
    ]


def test_summary_json_unwritable_path(run_cli, tmp_path):
    console = tmp_path / "xo-server.log"
    console.write_text(KNOWN)
    code, _out, err = run_cli(["parse", console, "--format", "none", "--summary-json",
                              tmp_path / "no-such-dir" / "s.json"])
    assert code == 2
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == f"{console}: xo-console, 8 lines, 3 events, 2 unparsed (lines 6, 7)"
    assert len(lines) == 2 and lines[1].startswith("xodiag: error: cannot write ")


@pytest.mark.parametrize("seekable", [True, False])
def test_plain_streams_read_the_same_lines_seekable_or_not(seekable: bool) -> None:
    """A plain file is read as it is (no copy through a wrapper); a stream that cannot seek back over the
    bytes sniffed for compression gets them put back in front. Both give every line, in order."""
    import io

    from xodiag.sources.inputs import Input

    data = "".join(f"line {i} " + "x" * (i % 97) + ("\r\n" if i % 3 else "\n") for i in range(40_000)).encode()

    class OneWay(io.RawIOBase):
        def __init__(self) -> None:
            self._b = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self._b.read(min(len(b), 7919))  # short reads, as a pipe gives
            b[: len(chunk)] = chunk
            return len(chunk)

    opener = (lambda: io.BytesIO(data)) if seekable else (lambda: io.BufferedReader(OneWay()))
    inp = Input(name="x", opener=opener, size=len(data))
    lines = [ln for batch in inp.line_batches() for ln in batch]
    assert lines == data.decode().replace("\r\n", "\n").split("\n")[:-1]
    assert [ln for batch in inp.line_batches() for ln in batch] == lines  # read again from the start


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("compress", [False, True])
def test_a_pipe_gives_the_same_events(run_cli, tmp_path, journal, compress):
    """A named pipe or a shell's <(zcat ...) can be read once: it is read whole, not sniffed and reopened
    (that used to report it as an empty input, or wait for a writer that had gone)."""
    import threading

    data = journal.read_bytes()
    fifo = tmp_path / "xo.pipe"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as fh:
            fh.write(gzip.compress(data) if compress else data)

    threading.Thread(target=writer, daemon=True).start()
    code, _out, err = run_cli(["parse", "--format", "none", fifo], timeout=30)  # fails rather than hangs
    want = reference([journal])[1][str(journal)]
    assert code == 0 and err.strip() == f"{fifo}" + want.one_line()[len(str(journal)):], err


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for <(...)")
def test_process_substitution_on_the_command_line(tmp_path, journal):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    cmd = f"{sys.executable} -m xodiag.cli parse --format none <(gzip -c {journal})"
    proc = subprocess.run(["bash", "-c", cmd], cwd=repo, capture_output=True, text=True, timeout=60)
    want = reference([journal])[1][str(journal)]
    assert proc.returncode == 0 and f", {want.events} events" in proc.stderr and "empty input" not in proc.stderr
