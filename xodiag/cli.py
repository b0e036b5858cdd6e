"""Command line: argument handling only; the work is done by the stages it calls.

pandas, matplotlib and lark are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

from xodiag import __version__

app = typer.Typer(
    name="xodiag",
    help=(
        "Diagnose failed Xen Orchestra backups from the logs you already have: xo-server output "
        "(journald or console), the backup job log JSON, xensource.log and xapi-nbd's daemon.log."
    ),
    epilog=(
        "Examples:\n\n"
        "  xodiag parse /var/log/xo-server.log --format table\n\n"
        "  journalctl -u xo-server -o short-iso | xodiag parse - --format jsonl\n\n"
        "  xodiag parse bundle.tar.gz --summary-json summary.json --format none"
    ),
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


class TableFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    table = "table"
    none = "none"


FORMAT_NAMES = ("xo-console", "xo-journal", "journal-json", "fragment", "job-json", "xensource", "xapi-nbd")


def fail(message: str, code: int = 2) -> None:
    """One line on stderr, then exit; never a traceback."""
    sys.stderr.write(f"xodiag: error: {message}\n")
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"xodiag {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass


@app.command(
    "parse",
    epilog=(
        "Examples:\n\n"
        "  xodiag parse samples/april-2026-nbd-stream-init/ --format table\n\n"
        "  xodiag parse xensource.log.gz --tz Europe/Paris --format csv > events.csv\n\n"
        "  journalctl -u xo-server -o json | xodiag parse - --format jsonl\n\n"
        "The per-input summary (format, lines, events, unparsed lines) goes to stderr. "
        "Exit status: 0 when at least one input could be read, 2 otherwise."
    ),
)
def parse_cmd(
    files: list[str] = typer.Argument(..., metavar="FILE...",
                                      help="Log files, directories, .tar.gz bundles, or - for stdin."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f",
                                    help="Output: jsonl (one event per line), csv, table, or none."),
    input_format: str | None = typer.Option(
        None, "--input-format", "-i", metavar="NAME",
        help="Force the input format instead of detecting it: " + ", ".join(FORMAT_NAMES) + "."),
    year: int | None = typer.Option(None, "--year", metavar="YYYY",
                                    help="Year for yearless syslog times when the inputs hold no dated line."),
    tz: str = typer.Option("UTC", "--tz", metavar="ZONE",
                           help="Time zone of host logs (xensource, daemon.log): UTC, +02:00, Europe/Paris."),
    summary_json: Path | None = typer.Option(None, "--summary-json", metavar="PATH",
                                             help="Also write the per-input summary as JSON."),
) -> None:
    """Read logs into one event table (one row per log entry) and print it."""
    from xodiag.times import parse_zone

    if input_format is not None and input_format not in FORMAT_NAMES:
        fail(f"unknown --input-format {input_format!r}; choose one of: {', '.join(FORMAT_NAMES)}")
    if year is not None and not 1970 <= year <= 2100:
        fail(f"--year {year} is out of range (1970-2100)")
    try:
        zone = parse_zone(tz)
    except ValueError as exc:
        fail(str(exc))
        return
    from xodiag.reader import ReadOptions, read_events
    from xodiag.render.table import write_csv, write_jsonl, write_table

    opts = ReadOptions(input_format=input_format, year=year, tz=zone)
    out = sys.stdout
    summaries = []
    header = True
    try:
        for summary, df in read_events(files, opts):
            if not summaries or summaries[-1] is not summary:
                if summaries:
                    sys.stderr.write(summaries[-1].one_line() + "\n")
                summaries.append(summary)
            if df is None or not len(df):
                continue
            if fmt is TableFormat.jsonl:
                write_jsonl(df, out)
            elif fmt is TableFormat.csv:
                write_csv(df, out, header)
                header = False
            elif fmt is TableFormat.table:
                write_table(df, out)
        if summaries:
            sys.stderr.write(summaries[-1].one_line() + "\n")
        out.flush()
    except BrokenPipeError:
        sys.stderr.close()
        raise typer.Exit(0) from None
    if summary_json is not None:
        try:
            summary_json.write_text(json.dumps([s.as_json() for s in summaries], indent=2) + "\n")
        except OSError as exc:
            fail(f"cannot write {summary_json}: {exc.strerror or exc}")
    if summaries and all(s.error is not None for s in summaries):
        raise typer.Exit(2)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("xodiag: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
