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
        "  xodiag analyze xo-server.log backup-job.json\n\n"
        "  journalctl -u xo-server -o short-iso | xodiag analyze -\n\n"
        "  xodiag report support-bundle.tar.gz --out report/\n\n"
        "  xodiag rules XD101\n\n"
        "  xodiag parse /var/log/xo-server.log --format table"
    ),
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
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
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    if ctx.invoked_subcommand != "parse":
        import gc

        gc.enable()  # the console script starts with it off (xodiag/console.py); parse keeps it off


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
    opts = _options(input_format, year, tz)
    from xodiag.reader import read_events
    from xodiag.render.jsonl import write_jsonl
    from xodiag.render.table import write_csv, write_table

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
            del df  # this chunk's memory is free before read_events builds the next one
        if summaries:
            sys.stderr.write(summaries[-1].one_line() + "\n")
        if fmt is TableFormat.csv and header:
            write_csv(None, out, True)  # no event at all: still the header row
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


class AnalyzeFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class MatrixFormat(StrEnum):
    text = "text"
    json = "json"


class Color(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def _options(input_format: str | None, year: int | None, tz: str):  # -> ReadOptions
    from xodiag.times import parse_zone

    if input_format is not None and input_format not in FORMAT_NAMES:
        fail(f"unknown --input-format {input_format!r}; choose one of: {', '.join(FORMAT_NAMES)}")
    if year is not None and not 1970 <= year <= 2100:
        fail(f"--year {year} is out of range (1970-2100)")
    try:
        zone = parse_zone(tz)
    except ValueError as exc:
        fail(str(exc))
    from xodiag.reader import ReadOptions

    return ReadOptions(input_format=input_format, year=year, tz=zone)


PROGRESS_BYTES = 4 * 1024 * 1024


def _diagnose(files: list[str], opts: object):  # -> Diagnosis
    """Read, build the timeline and run the rules; progress on stderr for big inputs when it is a TTY."""
    import os

    from xodiag.diagnose import diagnose
    from xodiag.reader import event_table
    from xodiag.timeline import build

    total = 0
    for f in files:
        try:
            total += os.path.getsize(f) if f != "-" and os.path.isfile(f) else 0
        except OSError:
            pass
    status = None
    if total > PROGRESS_BYTES and sys.stderr.isatty():
        from rich.console import Console

        status = Console(stderr=True).status(f"reading {total / 1e6:.0f} MB of logs...")
        status.start()
    try:
        table, summaries = event_table(files, opts)  # type: ignore[arg-type]
        if status is not None:
            status.update(f"analysing {len(table)} events...")
        timeline = build(table, summaries)
        del table  # the timeline holds its own sorted copy: the pointer arrays of this one can go
        diag = diagnose(timeline, summaries)
    finally:
        if status is not None:
            status.stop()
    return diag, summaries


@app.command(
    "analyze",
    epilog=(
        "Examples:\n\n"
        "  xodiag analyze samples/april-2026-nbd-stream-init/\n\n"
        "  xodiag analyze xo-server.log backup-job.json xensource.log --tz Europe/Paris\n\n"
        "  journalctl -u xo-server -o short-iso | xodiag analyze - --format markdown\n\n"
        "Exit status: 0 no failure identified, 1 a failure identified, 2 usage error or unreadable input, "
        "3 verdict incomplete (more than 20% of the input lines unparsed, or no event at all). "
        "--exit-zero forces 0."
    ),
)
def analyze_cmd(
    files: list[str] = typer.Argument(..., metavar="FILE...",
                                      help="Logs: xo-server output, job log JSON, xensource.log, daemon.log; "
                                           "directories, .tar.gz bundles, or - for stdin."),
    fmt: AnalyzeFormat = typer.Option(AnalyzeFormat.text, "--format", "-f", help="text, markdown or json."),
    input_format: str | None = typer.Option(None, "--input-format", "-i", metavar="NAME",
                                            help="Force the input format: " + ", ".join(FORMAT_NAMES) + "."),
    year: int | None = typer.Option(None, "--year", metavar="YYYY", help="Year for yearless syslog times."),
    tz: str = typer.Option("UTC", "--tz", metavar="ZONE", help="Time zone of host logs (UTC, +02:00, Europe/Paris)."),
    color: Color = typer.Option(Color.auto, "--color", help="Colour in text output: auto, always or never."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when a failure is identified."),
    no_redact: bool = typer.Option(False, "--no-redact",
                                   help="Show session ids and passwords (and, in markdown and json, IP addresses "
                                        "and host names) as logged."),
) -> None:
    """Name the real failure ahead of the cleanup noise, say whether NBD was used, with evidence lines."""
    opts = _options(input_format, year, tz)
    diag, summaries = _diagnose(files, opts)
    from xodiag.render.redact import redactor_for

    # On the terminal only secrets are hidden (the user knows their hosts); markdown and json, which get
    # pasted into bug reports, also replace IP addresses and host names.
    red = redactor_for(diag.timeline.df, enabled=not no_redact, identities=fmt is not AnalyzeFormat.text)
    for s in summaries:
        if s.error:
            sys.stderr.write(s.one_line() + "\n")
    if summaries and all(s.error for s in summaries):
        raise typer.Exit(2)
    try:
        if fmt is AnalyzeFormat.json:
            from xodiag.render.report_json import analysis

            sys.stdout.write(json.dumps(red.walk(analysis(diag)), indent=2, ensure_ascii=False) + "\n")
        elif fmt is AnalyzeFormat.markdown:
            from xodiag.render.markdown import render

            sys.stdout.write(red.text(render(diag)))
        else:
            from xodiag.render.text import render as render_text

            render_text(diag, sys.stdout, color=str(color), redactor=red)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()
        raise typer.Exit(0) from None
    if exit_zero:
        raise typer.Exit(0)
    if diag.incomplete:
        raise typer.Exit(3)
    raise typer.Exit(1 if diag.verdict.outcome == "failed" else 0)


@app.command(
    "report",
    epilog=(
        "Examples:\n\n"
        "  xodiag report samples/april-2026-nbd-stream-init/ --out report/\n\n"
        "  xodiag report xo-server.log backup-job.json --out /tmp/bug-1234 --no-redact\n\n"
        "Writes report.md, timeline.png, timeline.svg and analysis.json into DIR (created if needed). "
        "Exit status: 0 when written, 2 on a usage error or when no input could be read."
    ),
)
def report_cmd(
    files: list[str] = typer.Argument(..., metavar="FILE...", help="Logs, directories, bundles, or - for stdin."),
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR", help="Directory for the report files."),
    input_format: str | None = typer.Option(None, "--input-format", "-i", metavar="NAME",
                                            help="Force the input format: " + ", ".join(FORMAT_NAMES) + "."),
    year: int | None = typer.Option(None, "--year", metavar="YYYY", help="Year for yearless syslog times."),
    tz: str = typer.Option("UTC", "--tz", metavar="ZONE", help="Time zone of host logs."),
    no_redact: bool = typer.Option(False, "--no-redact",
                                   help="Keep session ids, passwords, IP addresses and host names."),
) -> None:
    """Write a bug-report bundle: report.md, timeline.png, timeline.svg and analysis.json (redacted)."""
    opts = _options(input_format, year, tz)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {out}: {exc.strerror or exc}")
    diag, summaries = _diagnose(files, opts)
    for s in summaries:
        if s.error:
            sys.stderr.write(s.one_line() + "\n")
    if summaries and all(s.error for s in summaries):
        raise typer.Exit(2)
    from xodiag.render.markdown import render
    from xodiag.render.plot import draw
    from xodiag.render.redact import redactor_for
    from xodiag.render.report_json import analysis

    red = redactor_for(diag.timeline.df, enabled=not no_redact)
    try:
        (out / "analysis.json").write_text(json.dumps(red.walk(analysis(diag)), indent=2, ensure_ascii=False) + "\n")
        text = red.text(render(diag))
        text += "\n![timeline](timeline.png)\n"
        if not no_redact:
            text += "\n_Redacted by xodiag: session ids, passwords and tokens removed; IP addresses and host " \
                    "names replaced by ip-N / host-N._\n"
        (out / "report.md").write_text(text)
        draw(diag, out / "timeline.png", out / "timeline.svg", red)
    except OSError as exc:
        fail(f"cannot write into {out}: {exc.strerror or exc}")
    sys.stderr.write(f"wrote {out}/report.md, timeline.png, timeline.svg, analysis.json\n")


def rules_markdown() -> str:
    from xodiag.rules import RULES

    out = ["# Rule catalogue", "", "Generated by `xodiag rules --markdown` from the rule modules in xodiag/rules/.", ""]
    for r in RULES:
        out += [f"## {r.ID}: {r.TITLE}", "",
                f"Category `{r.CATEGORY}`, default role `{r.ROLE}`. Fixture: `{r.FIXTURE}`.", "",
                " ".join(r.DOC.split()), "", "**Next:** " + " ".join(r.NEXT.split()), ""]
    return "\n".join(out)


@app.command("rules", epilog="Examples:\n\n  xodiag rules\n\n  xodiag rules XD101\n\n"
                             "  xodiag rules --markdown > docs/rules.md")
def rules_cmd(
    rule_id: str | None = typer.Argument(None, metavar="[ID]", help="A rule ID such as XD101."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the whole catalogue as Markdown."),
) -> None:
    """List the diagnosis rules, or explain one."""
    from xodiag.rules import RULES, by_id

    if markdown:
        sys.stdout.write(rules_markdown())
        return
    if rule_id is None:
        for r in RULES:
            sys.stdout.write(f"{r.ID}  {r.ROLE:<12} {r.CATEGORY:<20} {r.TITLE}\n")
        return
    rule = by_id(rule_id)
    if rule is None:
        fail(f"no rule {rule_id!r}; `xodiag rules` lists them")
        return
    import textwrap

    body = [f"{rule.ID}: {rule.TITLE}", "", f"category: {rule.CATEGORY}    default role: {rule.ROLE}",
            f"fixture: {rule.FIXTURE}", "", "What it means and why:"]
    body += textwrap.wrap(" ".join(rule.DOC.split()), 100, initial_indent="  ", subsequent_indent="  ")
    body += ["", "What to collect or do next:"]
    body += textwrap.wrap(" ".join(rule.NEXT.split()), 100, initial_indent="  ", subsequent_indent="  ")
    sys.stdout.write("\n".join(body) + "\n")


def _size(text: str) -> int:
    """256M, 1G, 65536K, or bytes."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        fail(f"bad size {text!r} (use e.g. 256M or 1G)")
        return 0


@app.command(
    "reproduce",
    epilog=(
        "Examples:\n\n"
        "  xodiag reproduce --list\n\n"
        "  xodiag reproduce --scenario april-2026 --policy all\n\n"
        "  xodiag reproduce --scenario all --policy all --format json --out runs/\n\n"
        "  xodiag reproduce --from samples/april-2026-nbd-stream-init/xo-server.journal\n\n"
        "Needs nbdkit, qemu-img and certtool (apt-get install nbdkit qemu-utils gnutls-bin). Everything runs on "
        "127.0.0.0/8. Exit status: 0 when every run finished (whatever its outcome), 2 on a usage error or a "
        "missing tool."
    ),
)
def reproduce_cmd(
    scenario: str = typer.Option("all", "--scenario", "-s", metavar="NAME|all", help="Scenario to run."),
    policy: str = typer.Option("all", "--policy", "-p", metavar="NAME|all", help="Policy to run it under."),
    hosts: int = typer.Option(2, "--hosts", min=1, max=8, help="Pool size (hosts at 127.0.0.2, .3, ...)."),
    disk_size: str = typer.Option("256M", "--disk-size", metavar="SIZE", help="Virtual disk size (e.g. 256M)."),
    time_scale: float = typer.Option(0.05, "--time-scale", min=0.001, max=1.0,
                                     help="Factor on XO's timeouts (60 s connect and message, 1 s reconnect)."),
    seed: int = typer.Option(1, "--seed", help="Seed of the disk and of XO's random host choice."),
    fmt: MatrixFormat = typer.Option(MatrixFormat.text, "--format", "-f", help="text (a matrix) or json."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="DIR",
                                    help="Write each run's history, logs and plot here."),
    list_: bool = typer.Option(False, "--list", help="List the scenarios and policies and exit."),
    from_: Path | None = typer.Option(None, "--from", metavar="LOG_OR_ANALYSIS_JSON",
                                      help="Build the scenario from an analysed incident; run every policy."),
) -> None:
    """Re-run a disk export on loopback against real NBD servers with faults, under XO's policy and fixes."""
    from xodiag.engine.policies import POLICIES
    from xodiag.engine.scenarios import BY_NAME, SCENARIOS

    if list_:
        for sc in SCENARIOS:
            sys.stdout.write(f"scenario {sc.name:<22} {sc.summary}\n")
        for p in POLICIES.values():
            sys.stdout.write(f"policy   {p.name:<22} {p.summary}\n")
        return
    size = _size(disk_size)
    if size < 4 * 1024 * 1024 or size % 512:
        fail("--disk-size must be at least 4M and a multiple of 512 bytes")
    if from_ is not None:
        if not from_.is_file():
            fail(f"{from_}: no such file")
        from xodiag.engine.fromincident import scenario_from

        built, hosts, why = scenario_from(from_)
        sys.stderr.write(f"scenario from {from_}: {why}\n")
        scenarios = [built]
        policies = list(POLICIES.values())
    else:
        if scenario != "all" and scenario not in BY_NAME:
            fail(f"unknown scenario {scenario!r}; `xodiag reproduce --list` names them")
        if policy != "all" and policy not in POLICIES:
            fail(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}, all")
        scenarios = list(SCENARIOS) if scenario == "all" else [BY_NAME[scenario]]
        policies = list(POLICIES.values()) if policy == "all" else [POLICIES[policy]]
    from xodiag.engine.tools import MissingTool, require

    try:
        require("nbdkit", "qemu-img", "certtool")
    except MissingTool as exc:
        fail(str(exc))
    from xodiag.engine.matrix import run_matrix

    run_matrix(scenarios, policies, hosts=hosts, size=size, time_scale=time_scale, seed=seed,
               out=out, json_out=fmt is MatrixFormat.json)


INTERNAL_ERROR = 101


def main() -> None:
    try:
        app()  # usage errors: typer's own message, exit 2
    except KeyboardInterrupt:
        sys.stderr.write("xodiag: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # never a traceback: one line, and an exit code of its own
        sys.stderr.write(f"xodiag: internal error: {type(exc).__name__}: {exc} (please report it)\n")
        sys.exit(INTERNAL_ERROR)


def _exit_now(code: int) -> None:
    """Flush, run the exit handlers, and leave without tearing the interpreter down.

    Freeing a million-row event table object by object (and the cyclic GC pass of finalisation) costs
    more than a tenth of a second on a big input and changes nothing the user sees. Everything Python
    does at exit that matters is done here: the output streams are flushed and the ``atexit`` handlers
    run (the engine's safety net among them). When a thread is still running, the normal exit waits
    for it, so that path is kept.
    """
    import atexit
    import os
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to say there
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def entry() -> None:
    """What the ``xodiag`` console script (``xodiag/console.py``) runs: ``main``, then a quick exit.

    numpy's OpenBLAS would start a thread per core at import; xodiag does no linear algebra, so one
    is enough unless the environment says otherwise.
    """
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise
        code = exc.code or 0
    _exit_now(code)


if __name__ == "__main__":
    entry()
