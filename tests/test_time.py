"""Times: yearless syslog stamps get a year and a zone; ISO and epoch times are exact."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from xodiag.reader import ReadOptions, event_table
from xodiag.times import parse_zone

UTC = dt.UTC


def xapi_line(stamp: str, n: int, message: str) -> str:
    """A yearless xensource line (no ISO or compact xapi time in it, so it is no anchor)."""
    return (f"{stamp} xcp1 xapi: [debug||{1800 + n} UNIX /var/lib/xcp/xapi|VBD.plug R:9a8b7c6d5e{n:02x}"
            f"|audit] {message}")


XENSOURCE = "\n".join([
    xapi_line("Mar  3 02:00:12", 1, "VBD.plug: VBD = '3d1b0a52-7c1e-4f0e-9a55-1b2c3d4e5f60'"),
    xapi_line("Mar  3 02:00:13", 2, "VBD.unplug: VBD = '3d1b0a52-7c1e-4f0e-9a55-1b2c3d4e5f60'"),
]) + "\n"


def epoch_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=UTC).timestamp() * 1000)


def job_log(start_ms: int) -> str:
    return json.dumps({
        "data": {"mode": "delta", "reportWhen": "failure"},
        "id": str(start_ms),
        "jobId": "5c6d7e8f-0000-4000-8000-00000000abcd",
        "jobName": "nightly-test",
        "message": "backup",
        "scheduleId": "a1b2c3d4-0000-4000-8000-00000000dcba",
        "start": start_ms,
        "status": "success",
        "end": start_ms + 60_000,
    }, indent=2) + "\n"


def cli_rows(run_cli, tmp_path: Path, *args: Any) -> tuple[int, list[dict[str, Any]], list[str], list[dict]]:
    summary = tmp_path / "summary.json"
    code, out, err = run_cli(["parse", *map(str, args), "--format", "jsonl", "--summary-json", summary])
    assert "Traceback" not in err
    rows = [json.loads(line) for line in out.splitlines()]
    return code, rows, err.splitlines(), json.loads(summary.read_text()) if summary.exists() else []


def by_source(rows: list[dict[str, Any]], path: Path) -> list[tuple[str | None, str]]:
    return [(r["time"], r["time_quality"]) for r in rows if r["source"] == str(path)]


def set_mtime(path: Path, *when: int) -> None:
    ts = dt.datetime(*when, tzinfo=UTC).timestamp()
    os.utime(path, (ts, ts))


def test_year_from_job_log_in_another_input(run_cli, tmp_path):
    host = tmp_path / "xensource.log"
    host.write_text(XENSOURCE)
    set_mtime(host, 2019, 6, 1)  # the anchor must win over the file's mtime
    job = tmp_path / "job.json"
    job.write_text(job_log(epoch_ms(2025, 3, 3, 1, 0, 0)))
    code, rows, _err, summaries = cli_rows(run_cli, tmp_path, host, job)
    assert code == 0
    assert by_source(rows, host) == [("2025-03-03T02:00:12.000Z", "inferred-year"),
                                     ("2025-03-03T02:00:13.000Z", "inferred-year")]
    assert by_source(rows, job) == [("2025-03-03T01:00:00.000Z", "exact"),
                                    ("2025-03-03T01:01:00.000Z", "exact")]
    assert summaries[0]["year_source"] == "anchor"


def test_year_from_console_log_in_another_input_across_new_year(run_cli, tmp_path):
    console = tmp_path / "xo-server.log"
    console.write_text("2025-12-31T23:10:00.000Z xo:backups:worker INFO starting backup\n"
                       "2026-01-01T00:30:00.000Z xo:backups:worker INFO backup has ended\n")
    host = tmp_path / "daemon.log"
    host.write_text("Jan  1 00:20:06 xcp1 xapi-nbd[2311]: main: Got new client\n"
                    "Jan  1 00:20:07 xcp1 xapi-nbd[2311]: Server.serve: Serving new client\n")
    code, rows, _err, summaries = cli_rows(run_cli, tmp_path, console, host)
    assert code == 0
    assert by_source(rows, console) == [("2025-12-31T23:10:00.000Z", "exact"),
                                        ("2026-01-01T00:30:00.000Z", "exact")]
    # The anchor is 2025-12-31: "Jan  1" is nearest in 2026, not in 2025.
    assert by_source(rows, host) == [("2026-01-01T00:20:06.000Z", "inferred-year"),
                                     ("2026-01-01T00:20:07.000Z", "inferred-year")]
    assert [s["year_source"] for s in summaries] == [None, "anchor"]


def test_year_from_year_option_without_anchor(run_cli, tmp_path):
    host = tmp_path / "xensource.log"
    host.write_text(XENSOURCE)
    set_mtime(host, 2019, 6, 1)  # --year wins over the mtime
    code, rows, err, summaries = cli_rows(run_cli, tmp_path, host, "--year", "2023")
    assert code == 0
    assert by_source(rows, host) == [("2023-03-03T02:00:12.000Z", "inferred-year"),
                                     ("2023-03-03T02:00:13.000Z", "inferred-year")]
    assert summaries[0]["year_source"] == "--year"
    assert err == [f"{host}: xensource, 2 lines, 2 events, 0 unparsed"]


def test_anchor_wins_over_year_option(tmp_path):
    host = tmp_path / "xensource.log"
    host.write_text(XENSOURCE)
    job = tmp_path / "job.json"
    job.write_text(job_log(epoch_ms(2025, 3, 2, 23, 0, 0)))
    table, summaries = event_table([str(host), str(job)], ReadOptions(year=2019))
    times = table[table.source == str(host)]["time"]
    assert [t.isoformat() for t in times] == ["2025-03-03T02:00:12+00:00", "2025-03-03T02:00:13+00:00"]
    assert summaries[0].year_source == "anchor"


def test_year_from_mtime_without_anchor_or_option(run_cli, tmp_path):
    spring = tmp_path / "a-xensource.log"
    spring.write_text(XENSOURCE)
    set_mtime(spring, 2022, 6, 15)
    autumn = tmp_path / "b-xensource.log"
    autumn.write_text(xapi_line("Nov 20 04:05:06", 3, "VM.snapshot: VM = 'x'") + "\n")
    set_mtime(autumn, 2022, 6, 15)  # a log ends before its mtime: November is from 2021
    code, rows, _err, summaries = cli_rows(run_cli, tmp_path, spring, autumn)
    assert code == 0
    assert by_source(rows, spring) == [("2022-03-03T02:00:12.000Z", "inferred-year"),
                                       ("2022-03-03T02:00:13.000Z", "inferred-year")]
    assert by_source(rows, autumn) == [("2021-11-20T04:05:06.000Z", "inferred-year")]
    assert [s["year_source"] for s in summaries] == ["mtime", "mtime"]


ROLLOVER = "\n".join([
    xapi_line("Dec 31 23:59:58", 1, "tick one"),
    xapi_line("Dec 31 23:59:59", 2, "tick two"),
    xapi_line("Jan  1 00:00:01", 3, "tick three"),
    "Jan  1 00:00:02 xcp1 xapi-nbd[2311]: main: Got new client",
    xapi_line("Jan  1 00:00:05", 4, "tick four"),
    xapi_line("Feb  2 10:00:00", 5, "tick five"),
]) + "\n"


def test_year_rollover_inside_one_file(run_cli, tmp_path):
    host = tmp_path / "xensource.log"
    host.write_text(ROLLOVER)
    code, rows, _err, _summaries = cli_rows(run_cli, tmp_path, host, "--year", "2025")
    assert code == 0
    assert [r["time"] for r in rows] == [
        "2025-12-31T23:59:58.000Z", "2025-12-31T23:59:59.000Z", "2026-01-01T00:00:01.000Z",
        "2026-01-01T00:00:02.000Z", "2026-01-01T00:00:05.000Z", "2026-02-02T10:00:00.000Z"]
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {r["time_quality"] for r in rows} == {"inferred-year"}
    times = [r["time"] for r in rows]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_out_of_order_line_across_new_year_keeps_the_year(tmp_path):
    host = tmp_path / "xensource.log"
    host.write_text("\n".join([
        xapi_line("Dec 31 23:59:58", 1, "tick one"),
        xapi_line("Jan  1 00:00:01", 2, "tick two"),
        xapi_line("Dec 31 23:59:59", 3, "late tick from another thread"),
        xapi_line("Jan  1 00:00:05", 4, "tick three"),
    ]) + "\n")
    table, _ = event_table([str(host)], ReadOptions(year=2025))
    assert [t.isoformat() for t in table["time"]] == [
        "2025-12-31T23:59:58+00:00", "2026-01-01T00:00:01+00:00", "2025-12-31T23:59:59+00:00",
        "2026-01-01T00:00:05+00:00"]


JOURNAL = """\
Jun 14 02:20:00 xo systemd[1]: Started XO Server.
Jun 14 02:20:01 xo xo-server[812]: {
Jun 14 02:20:01 xo xo-server[812]:   err: Error: read ECONNRESET
Jun 14 02:20:01 xo xo-server[812]:       at TLSWrap.onStreamRead (node:internal/stream_base_commons:216:20)
Jun 14 02:20:01 xo xo-server[812]: }
Jun 14 02:22:11 xo xo-server[812]: 2026-06-14T00:22:11.402Z xo:xapi:xapi-disks INFO export through qcow2
Jun 14 02:22:13 xo xo-server[812]: 2026-06-14T00:22:13.120Z vates:nbd-client WARN can't connect to nbd {
Jun 14 02:22:13 xo xo-server[812]:   err: Error: stream has ended without data
Jun 14 02:22:13 xo xo-server[812]:       at readChunkStrict (/opt/xo/read-chunk/index.js:83:13)
Jun 14 02:22:13 xo xo-server[812]: }
Jun 14 02:22:14 xo xo-server[812]: {
Jun 14 02:22:14 xo xo-server[812]:   err: Error: Error in the source generator read ECONNRESET
Jun 14 02:22:14 xo xo-server[812]:       at SynchronizedDisk.next (/opt/xo/dist/synchronized.mjs:58:23)
Jun 14 02:22:14 xo xo-server[812]: }
Jun 14 02:22:20 xo xo-server[812]: 2026-06-14T00:22:20.010Z xo:backups:worker INFO backup has ended
"""


def test_journal_times_use_embedded_utc_and_learned_offset(run_cli, tmp_path):
    journal = tmp_path / "xo-server.journal"
    journal.write_text(JOURNAL)
    # --tz is for host logs: the journal's own offset (+2 h, learned from its records) wins.
    code, rows, err, _summaries = cli_rows(run_cli, tmp_path, journal, "--tz", "+05:00")
    assert code == 0
    got = [(r["line"], r["line_end"], r["kind"], r["process"], r["time"], r["time_quality"]) for r in rows]
    assert got == [
        (1, 1, "syslog", "systemd", "2026-06-14T00:20:00.000Z", "inferred-year"),
        (2, 5, "raw-stderr", "xo-server", "2026-06-14T00:20:01.000Z", "inferred-year"),
        (6, 6, "record", "xo-server", "2026-06-14T00:22:11.402Z", "exact"),
        (7, 10, "record", "xo-server", "2026-06-14T00:22:13.120Z", "exact"),
        (11, 14, "raw-stderr", "xo-server", "2026-06-14T00:22:14.000Z", "inferred-year"),
        (15, 15, "record", "xo-server", "2026-06-14T00:22:20.010Z", "exact"),
    ]
    assert rows[1]["message"] == "read ECONNRESET"
    assert rows[4]["error_message"] == "Error in the source generator read ECONNRESET"
    assert err == [f"{journal}: xo-journal, 15 lines, 6 events, 0 unparsed"]


def test_short_iso_journal_prefix_is_exact(tmp_path):
    journal = tmp_path / "xo-server.short-iso.log"
    journal.write_text(
        "2026-06-14T02:22:11+02:00 xo xo-server[812]: 2026-06-14T00:22:11.402Z xo:xapi-disks INFO export\n"
        "2026-06-14T02:22:14+02:00 xo xo-server[812]: {\n"
        "2026-06-14T02:22:14+02:00 xo xo-server[812]:   err: Error: read ECONNRESET\n"
        "2026-06-14T02:22:14+02:00 xo xo-server[812]: }\n")
    table, _ = event_table([str(journal)], ReadOptions(tz=parse_zone("-07:00")))
    assert [(t.isoformat(), q) for t, q in zip(table["time"], table["time_quality"], strict=True)] == [
        ("2026-06-14T00:22:11.402000+00:00", "exact"), ("2026-06-14T00:22:14+00:00", "exact")]
    assert list(table["kind"]) == ["record", "raw-stderr"]


HOST_TZ = "\n".join([
    xapi_line("Jan 10 12:00:00", 1, "winter line"),
    xapi_line("Jul 10 12:00:00", 2, "summer line"),
]) + "\n"


@pytest.mark.parametrize("tz,expected", [
    (None, ["2026-01-10T12:00:00.000Z", "2026-07-10T12:00:00.000Z"]),
    ("Europe/Paris", ["2026-01-10T11:00:00.000Z", "2026-07-10T10:00:00.000Z"]),
    ("+02:00", ["2026-01-10T10:00:00.000Z", "2026-07-10T10:00:00.000Z"]),
    ("-0530", ["2026-01-10T17:30:00.000Z", "2026-07-10T17:30:00.000Z"]),
])
def test_tz_option_shifts_host_logs_only(run_cli, tmp_path, tz, expected):
    host = tmp_path / "xensource.log"
    host.write_text(HOST_TZ)
    console = tmp_path / "xo-server.log"
    console.write_text("2026-01-10T11:00:00.000Z xo:backups:worker INFO starting backup\n")
    args: list[Any] = [host, console]
    if tz is not None:
        args += ["--tz", tz]
    code, rows, err, _summaries = cli_rows(run_cli, tmp_path, *args)
    assert code == 0
    assert by_source(rows, host) == [(t, "inferred-year") for t in expected]
    assert by_source(rows, console) == [("2026-01-10T11:00:00.000Z", "exact")]  # never shifted
    assert len(err) == 2


def test_dst_ambiguous_hour_keeps_a_time(tmp_path):
    host = tmp_path / "xensource.log"
    host.write_text(xapi_line("Oct 26 02:30:00", 1, "inside the repeated hour") + "\n")
    table, _ = event_table([str(host)], ReadOptions(year=2025, tz=parse_zone("Europe/Paris")))
    (t,) = table["time"]
    assert t == t  # not NaT
    assert dt.datetime(2025, 10, 26, 0, 30, tzinfo=UTC) <= t <= dt.datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
    assert list(table["time_quality"]) == ["inferred-year"]


@pytest.mark.parametrize("tz", ["Mars/Olympus", "+99:00", "", "Europe"])
def test_bad_tz_is_one_line_and_exit_2(run_cli, tmp_path, tz):
    host = tmp_path / "xensource.log"
    host.write_text(HOST_TZ)
    code, out, err = run_cli(["parse", host, "--format", "jsonl", "--tz", tz])
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("xodiag: error: ")
    assert "Traceback" not in err


def test_resolved_quality_cells_are_shared_strings() -> None:
    """time_quality holds three values: one str object each, not a new str per row (a 1M-row table would
    otherwise carry a million copies of "none")."""
    from xodiag.times import YearContext, resolve

    ctx = YearContext(None, 2026, None, dt.UTC)
    kinds = ["ns", None, "iso", None, "syslog", "ns"]
    values = [0, None, "2026-04-30T21:50:00Z", None, "Apr 30 23:50:00", 5]
    times, quality = resolve(kinds, values, ctx)
    assert list(quality) == ["exact", "none", "exact", "none", "inferred-year", "exact"]
    assert len({id(q) for q in quality}) == 3
    assert times[0].value == 0 and times[5].value == 5 and times[1] is pd.NaT and times[4].year == 2026
    _, all_ns = resolve(["ns"] * 4, [1, 2, 3, 4], ctx)
    assert len({id(q) for q in all_ns}) == 1
    _, untimed = resolve([None] * 4, [None] * 4, ctx)
    assert list(untimed) == ["none"] * 4 and len({id(q) for q in untimed}) == 1


_STAMPS = ["Dec 31 23:59:58", "Dec 31 23:59:59", "Jan  1 00:00:00", "Jan  1 00:00:01", "Mar 29 02:30:00",
           "Oct 25 02:30:00", "Oct 25 03:10:00", "Feb 29 12:00:00", "Apr 30 23:50:09"]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "+02:00"])
def test_syslog_times_per_run_of_stamps_match_per_row(zone: str) -> None:
    """resolve converts each run of equal stamps once and spreads it: the same times as converting every
    row (the year context is stateful: rollovers), whatever the runs and the zone."""
    import random

    import numpy as np

    from xodiag.times import YearContext, parse_zone, resolve

    rng = random.Random(7)
    for _ in range(30):
        stamps = [s for s in sorted(rng.sample(_STAMPS, rng.randint(1, len(_STAMPS))), key=_STAMPS.index)
                  for _ in range(rng.randint(1, 4))]
        ctx_a = YearContext(None, 2025, None, parse_zone(zone))
        ctx_b = YearContext(None, 2025, None, parse_zone(zone))
        got, quality = resolve(["syslog"] * len(stamps), stamps, ctx_a)
        local = [ctx_b.iso_of(stamp) for stamp in stamps]  # the per-row reference
        naive = pd.to_datetime(pd.Series(local, dtype=object), format="ISO8601", errors="coerce")
        if ctx_b.offset is not None:
            want = naive - pd.Timedelta(ctx_b.offset)
        else:
            want = naive.dt.tz_localize(ctx_b.zone, ambiguous=np.zeros(len(naive), dtype=bool),
                                        nonexistent="shift_forward").dt.tz_convert("UTC").dt.tz_localize(None)
        assert list(got.tz_localize(None)) == list(want), stamps
        assert set(quality) <= {"inferred-year", "none"}
