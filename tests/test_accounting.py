"""Line accounting: every physical line of an input is in exactly one event's span or counted unparsed.

``summary.lines == events.span.sum() + summary.unparsed`` for each input, whatever the text.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xodiag.reader import ReadOptions, event_table

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_FILES = sorted(
    p for p in SAMPLES.rglob("*")
    if p.is_file() and not p.name.startswith(".") and p.suffix != ".md" and p.name != "expected.json"
)
SAMPLE_BYTES = [p.read_bytes() for p in SAMPLE_FILES]
SAMPLE_LINES = sorted({ln for data in SAMPLE_BYTES for ln in data.decode("utf-8", "replace").split("\n")})


COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def physical_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def check_accounting(paths: list[Path], opts: ReadOptions | None = None) -> None:
    table, summaries = event_table([str(p) for p in paths], opts)
    assert len(summaries) == len(paths)
    assert sum(s.events for s in summaries) == len(table)
    for path, s in zip(paths, summaries, strict=True):
        assert s.path == str(path)
        rows = table[table["source"] == s.path]
        assert s.events == len(rows), s
        if s.error is not None:
            assert (s.lines, s.events, s.unparsed) == (0, 0, 0), s
            continue
        raw = path.read_bytes()
        if not raw.startswith(COMPRESSED_MAGIC):
            text = raw.decode("utf-8", "replace")
            assert s.lines == physical_lines(text.removeprefix("\ufeff")), s
        assert s.lines == int(rows["span"].sum()) + s.unparsed, (s, rows[["line", "line_end", "span"]])
        assert (rows["span"] >= 0).all()
        spanned = rows[rows["span"] > 0]
        assert (spanned["line"] <= spanned["line_end"]).all(), spanned[["line", "line_end", "span"]]
        assert (spanned["span"] <= spanned["line_end"] - spanned["line"] + 1).all()
        assert (spanned["line_end"] <= s.lines).all()
        assert (rows["line"] >= 1).all() and (rows["line"] <= max(s.lines, 1)).all()
        assert 0 <= s.unparsed <= s.lines
        assert all(1 <= n <= s.lines for n in s.unparsed_at), s
        assert len(set(s.unparsed_at)) == len(s.unparsed_at) == min(s.unparsed, 5)


# -- deterministic: every sample file, alone and all together ------------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[str(p.relative_to(SAMPLES)) for p in SAMPLE_FILES])
def test_sample_file_accounting(path):
    check_accounting([path])
    _table, (summary,) = event_table([str(path)])
    assert summary.lines > 0 and summary.events > 0, summary


def test_all_samples_together_accounting():
    assert len(SAMPLE_FILES) >= 10
    check_accounting(SAMPLE_FILES)


def test_accounting_with_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "xo-server.log"
    path.write_bytes(
        b"\xef\xbb\xbf2026-04-14T00:22:13.120Z xo:backups:worker INFO starting backup\r\n"
        b"\r\n"
        b"\r\n"
        b"2026-04-14T00:22:14.651Z vates:nbd-client:multi WARN can't connect to one nbd client {\r\n"
        b"  err: Error: connect EHOSTUNREACH 10.0.3.12:10809\r\n"
        b"}\r\n"
        b"\r\n"
        b"just words\r\n"
        b"\r\n"
        b"2026-04-14T00:22:20.010Z xo:backups:worker INFO backup has ended")
    check_accounting([path])
    table, (s,) = event_table([str(path)])
    assert s.lines == 10
    assert list(table["line"]) == [1, 4, 10]
    assert list(table["message"]) == [
        "starting backup", "can't connect to one nbd client", "backup has ended"]
    assert int(table["span"].sum()) + s.unparsed == 10
    assert 8 in s.unparsed_at  # the prose line


def test_accounting_over_chunk_boundaries(tmp_path, monkeypatch):
    """Small chunks: events and unparsed lines are counted once even when a record spans two chunks."""
    import xodiag.reader as reader

    monkeypatch.setattr(reader, "CHUNK_EVENTS", 3)
    monkeypatch.setattr(reader, "BATCH_LINES", 2)
    journal = SAMPLES / "april-2026-nbd-stream-init" / "xo-server.journal"
    whole, (ws,) = event_table([str(journal)])
    check_accounting([journal])
    chunked, (cs,) = event_table([str(journal)])
    assert (cs.lines, cs.events, cs.unparsed) == (ws.lines, ws.events, ws.unparsed)
    assert list(chunked["line"]) == list(whole["line"])


# -- property: random text never breaks the accounting ------------------------------------------
# Random runs: each run tries new examples (hypothesis prints the failing input to reproduce it).

CHARS = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x1F),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.sampled_from(list("{}[]()\t  :'\"\x1b\r\u00e9\u2014\ufeff\u2028\x85")),
    st.characters(min_codepoint=0x80, max_codepoint=0x2FFF),
)
printable_or_control = st.text(alphabet=st.one_of(CHARS, st.just("\n")), max_size=400)
one_line_of_noise = st.text(alphabet=CHARS.filter(lambda c: c != "\n"), max_size=120)

sample_line_mix = st.lists(
    st.one_of(
        st.sampled_from(SAMPLE_LINES),
        st.sampled_from(SAMPLE_LINES).flatmap(lambda s: st.integers(0, len(s)).map(lambda k: s[:k])),
        st.just(""),
        one_line_of_noise,
    ),
    max_size=60,
).map(lambda lines: ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))

truncated_sample = st.sampled_from(SAMPLE_BYTES).flatmap(
    lambda b: st.integers(0, len(b)).map(lambda k: b[:k]))


@st.composite
def interleaved_samples(draw: st.DrawFn) -> bytes:
    """The lines of two samples (or of one sample with itself), randomly interleaved."""
    a, b = draw(st.sampled_from(SAMPLE_BYTES)), draw(st.sampled_from(SAMPLE_BYTES))
    rnd = draw(st.randoms(use_true_random=False))
    bias = draw(st.sampled_from([0.1, 0.5, 0.9]))
    la, lb = a.split(b"\n"), b.split(b"\n")
    out: list[bytes] = []
    ia = ib = 0
    while ia < len(la) or ib < len(lb):
        if (rnd.random() < bias and ia < len(la)) or ib >= len(lb):
            out.append(la[ia])
            ia += 1
        else:
            out.append(lb[ib])
            ib += 1
    return b"\n".join(out)


random_inputs = st.one_of(
    sample_line_mix,
    printable_or_control.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    truncated_sample,
    interleaved_samples(),
)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=random_inputs, year=st.sampled_from([None, 2024]))
def test_random_text_accounting(tmp_path_factory, data, year):
    folder = tmp_path_factory.mktemp("acct")
    path = folder / "input.log"
    path.write_bytes(data)
    check_accounting([path], ReadOptions(year=year))


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=random_inputs, second=truncated_sample)
def test_random_text_accounting_two_inputs(tmp_path_factory, first, second):
    folder = tmp_path_factory.mktemp("acct2")
    paths = []
    for i, data in enumerate((first, second)):
        p = folder / f"input-{i}.log"
        p.write_bytes(data)
        paths.append(p)
    check_accounting(paths)


def test_interleaved_two_pid_journal_accounting(tmp_path):
    """Two processes' records interleaved line by line: spans skip the other process's lines."""
    a = [
        "Apr 14 02:22:13 xo xo-server[812]: 2026-04-14T00:22:13.120Z xo:backups:worker WARN first {",
        "Apr 14 02:22:13 xo xo-server[812]:   err: Error: read ECONNRESET",
        "Apr 14 02:22:13 xo xo-server[812]: }",
    ]
    b = [
        "Apr 14 02:22:13 xo xo-server[977]: 2026-04-14T00:22:13.200Z xo:main WARN second {",
        "Apr 14 02:22:13 xo xo-server[977]:   code: 'ECONNREFUSED'",
        "Apr 14 02:22:13 xo xo-server[977]: }",
    ]
    path = tmp_path / "xo-server.journal"
    path.write_text("\n".join(itertools.chain.from_iterable(zip(a, b, strict=True))) + "\n")
    check_accounting([path])
    table, (s,) = event_table([str(path)])
    got = [(int(r.line), int(r.line_end), int(r.span), int(r.pid)) for r in table.itertuples()]
    assert got == [(1, 5, 3, 812), (2, 6, 3, 977)]
    assert (s.lines, s.events, s.unparsed) == (6, 2, 0)


@pytest.mark.parametrize("text", [
    # xapi backtrace with a tapdisk line in the middle
    "Jan  1 00:00:02 xcp1 xapi: [error||7320 HTTPS 10.0.0.5->:::80|[XO] VDI Export R:1a2b3c4d5e6f|backtrace] "
    "[XO] VDI Export R:1a2b3c4d5e6f failed with exception Server_error(VDI_IO_ERROR, [ Device I/O errors ])\n"
    "Jan  1 00:00:02 xcp1 tapdisk[21873]: ERROR: errno -5 at __tapdisk_vbd_complete_td_request: read error\n"
    "Jan  1 00:00:02 xcp1 xapi: [error||7320 HTTPS 10.0.0.5->:::80|[XO] VDI Export R:1a2b3c4d5e6f|backtrace] "
    "Raised Server_error(VDI_IO_ERROR, [ Device I/O errors ])\n",
    # pasted JSON block with a journal line in the middle
    '  "data": {\nApr 12 02:27:44 xo xo-server[812]:     maxRSS: 268992,\n    "mode": "delta",\n',
    # pasted stack frames with a rsyslog repeat line in the middle
    "at TimeoutDisk.close (/opt/xo/DiskPassthrough.mjs:34:29)\n"
    "Jan  1 00:00:00 xcp1 xapi: message repeated 3 times: [ [debug||88 heartbeat||xapi] heartbeat ok]\n"
    "at async #readBlockResponse (/opt/xo/index.mjs:263:22)\n",
], ids=["backtrace", "json-block", "frames"])
def test_interleaved_line_inside_multiline_event_counted_once(tmp_path, text):
    path = tmp_path / "paste.log"
    path.write_text(text)
    table, (s,) = event_table([str(path)])
    assert s.lines == 3
    assert int(table["span"].sum()) + s.unparsed == 3, table[["line", "line_end", "span", "kind"]]
