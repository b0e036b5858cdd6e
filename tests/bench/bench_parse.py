#!/usr/bin/env python3
"""Benchmark ``xodiag parse`` against lnav, ``wc -l`` and ``grep -c`` on synthetic XO and xapi logs.

Usage::

    python tests/bench/bench_parse.py [--data DIR] [--lines N] [--xodiag PATH] [--repeat K]

Generates the data with ``gen_logs.py`` when it is missing (default ``<repo>/bench-data``, git-ignored),
then runs every tool as its own child process on each file and reports wall time, lines/s and that
tool's own peak RSS (``ru_maxrss`` of that one process, see ``Launcher``), with ratios against lnav.
This is a benchmark, not a test: it always exits 0 unless its own arguments are wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_DATA = REPO / "bench-data"
DEFAULT_XODIAG = REPO / ".venv" / "bin" / "xodiag"

LNAV_QUERY = ";SELECT count(*) FROM all_logs"
TARGET_FILE = "xo-server.journal"
TARGET_TOOL = "xodiag parse --format none"
TARGET_SPEED = 0.5  # xodiag lines/s >= 0.5 x lnav
TARGET_RSS = 2.0  # xodiag peak RSS <= 2 x lnav


@dataclass
class Tool:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    ok_codes: frozenset[int] = frozenset({0})
    discard_stdout: bool = False
    result_from: str = "stdout"  # which stream's last line to show as the result
    show_rc: bool = False  # prefix the result with a non-zero exit code
    crash_marker: str = ""  # text in stderr that makes a run count as failed whatever its exit code


@dataclass
class Run:
    wall: float = 0.0
    maxrss_kib: int = 0
    rss_upper_bound: bool = False
    rc: int = 0
    stdout: str = ""
    stderr: str = ""
    error: str = ""  # set when the child could not be started or was killed


@dataclass
class Row:
    tool: Tool
    runs: list[Run] = field(default_factory=list)
    failure: str = ""

    @property
    def wall(self) -> float:
        return min(r.wall for r in self.runs)

    @property
    def rss_mb(self) -> float:
        return min(r.maxrss_kib for r in self.runs) / 1024

    @property
    def rss_text(self) -> str:
        bound = any(r.rss_upper_bound for r in self.runs)
        return ("<=" if bound else "") + f"{self.rss_mb:.1f}"

    def result(self) -> str:
        last = self.runs[-1]
        text = last.stdout if self.tool.result_from == "stdout" else last.stderr
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        res = lines[-1] if lines else ""
        if last.rc and self.tool.show_rc:
            res = f"(rc {last.rc}) {res}"
        return res


# --------------------------------------------------------------------------------------------------
# data


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xodiag_bench_gen_logs", HERE / "gen_logs.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench_parse: cannot load {HERE / 'gen_logs.py'}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ensure_data(data: Path, lines: int, seed: int) -> None:
    """Generate the files unless ``meta.json`` says they match ``lines``, ``seed`` and the generator."""
    gen = load_generator()
    meta_path = data / gen.META_FILE
    wanted = {"generator_version": gen.GENERATOR_VERSION, "lines": lines, "seed": seed}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        current = all(meta.get(k) == v for k, v in wanted.items()) and all(
            (data / name).is_file() for name in (gen.XO_FILE, gen.XAPI_FILE)
        )
    except (OSError, ValueError):
        current = False
    if current:
        print(f"data: {data} (existing, {lines} lines, seed {seed})", file=sys.stderr)
        return
    print(f"data: generating {lines} lines per file into {data} (seed {seed}) ...", file=sys.stderr)
    t0 = time.perf_counter()
    # In a child process: generating in-process would grow this process's RSS, which direct children
    # inherit as their starting ru_maxrss (see Launcher).
    cmd = [sys.executable, str(HERE / "gen_logs.py"), "--out", str(data), "--lines", str(lines)]
    subprocess.run([*cmd, "--seed", str(seed)], check=True)
    print(f"data: generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def count_lines(path: Path) -> int:
    """Count newlines (and warm the page cache for the first timed run)."""
    n = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


# --------------------------------------------------------------------------------------------------
# running one child


class Launcher:
    """Starts a child and gets its own wall time and peak RSS.

    A process created by fork/vfork+exec starts its ``ru_maxrss`` at the RSS of the process that
    forked it (Linux records the old mm's high-water mark at exec), so ``os.wait4`` on a child of
    this Python process reports at least this process's RSS (~10-15 MB): right for lnav and xodiag,
    wrong for ``wc``/``grep`` (~2 MB). When GNU time is available, each tool is therefore started
    through ``/usr/bin/time``, a small process that forks the tool and writes the tool's own
    ``ru_maxrss`` (its ``wait4`` figure) to a file. Without it, ``os.wait4`` on the direct child is
    used, and figures not above this process's own peak RSS are shown as upper bounds (``<=``).
    """

    def __init__(self, use_gnu_time: bool = True) -> None:
        self.gnu_time = self._probe_gnu_time() if use_gnu_time else None

    @staticmethod
    def _probe_gnu_time() -> str | None:
        path = shutil.which("time", path="/usr/bin:/bin:/usr/local/bin")
        if not path:
            return None
        with tempfile.NamedTemporaryFile("r", suffix=".time") as fh:
            try:
                cp = subprocess.run(
                    [path, "-q", "-f", "%M", "-o", fh.name, "--", "true"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=10,
                    check=False,
                )
                ok = cp.returncode == 0 and fh.read().strip().isdigit()
            except (OSError, subprocess.SubprocessError):
                ok = False
        return path if ok else None

    def describe(self) -> str:
        if self.gnu_time:
            return f"peak RSS: each tool's own ru_maxrss, measured by {self.gnu_time} (GNU time) around it"
        return (
            "peak RSS: os.wait4 on each direct child (GNU time not used; apt-get install time); "
            "'<=' marks figures that may be this script's inherited RSS rather than the tool's"
        )

    def run_once(self, tool: Tool, timeout: float) -> Run:
        with (
            tempfile.TemporaryFile() as out,
            tempfile.TemporaryFile() as err,
            tempfile.NamedTemporaryFile("r", suffix=".time") as rss_file,
        ):
            argv = tool.argv
            if self.gnu_time:
                argv = [self.gnu_time, "-q", "-f", "%M", "-o", rss_file.name, "--", *argv]
            t0 = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL if tool.discard_stdout else out,
                    stderr=err,
                    env=tool.env,
                    start_new_session=True,  # own process group: a timeout kills the tool under time too
                )
            except OSError as exc:
                return Run(error=f"cannot start: {exc}")
            lock = threading.Lock()
            reaped = False
            killed = False

            def kill_on_timeout() -> None:
                nonlocal killed
                with lock:
                    if not reaped:
                        killed = True
                        os.killpg(proc.pid, signal.SIGKILL)

            timer = threading.Timer(timeout, kill_on_timeout)
            timer.start()
            # Wait without reaping, so the timer can never signal a recycled pid; then reap with rusage.
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
            wall = time.perf_counter() - t0
            with lock:
                reaped = True
                _, status, usage = os.wait4(proc.pid, 0)
            timer.cancel()
            rc = os.waitstatus_to_exitcode(status)
            proc.returncode = rc  # already reaped: keep Popen from waiting on it again
            maxrss = usage.ru_maxrss  # KiB on Linux
            upper_bound = False
            if self.gnu_time:
                fields = rss_file.read().split()
                maxrss = int(fields[-1]) if fields and fields[-1].isdigit() else 0
                if rc > 128:  # GNU time exits 128+N when the tool died from signal N
                    rc = -(rc - 128)
            else:
                upper_bound = maxrss <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out.seek(0)
            err.seek(0)
            run = Run(
                wall=wall,
                maxrss_kib=maxrss,
                rss_upper_bound=upper_bound,
                rc=rc,
                stdout=out.read(1 << 16).decode("utf-8", "replace"),
                stderr=err.read(1 << 16).decode("utf-8", "replace"),
            )
            if killed:
                run.error = f"killed after the {timeout:g} s timeout"
            elif rc < 0:
                run.error = f"killed by signal {-rc}"
            elif self.gnu_time and rc == 127 and "cannot run" in run.stderr:
                run.error = run.stderr.strip().splitlines()[-1]
            elif tool.crash_marker and tool.crash_marker in run.stderr:
                run.error = f"crashed (rc {rc})"
            return run


def measure(launcher: Launcher, tools: list[Tool], repeat: int, timeout: float) -> list[Row]:
    """Each tool ``repeat`` times, in rounds: every tool runs once per round, in order. This machine's
    speed drifts over seconds; with the runs of all tools interleaved, each tool's best run comes from
    the same stretch of time as the others', instead of one tool's runs landing in a slow stretch and
    another's in a fast one. A tool that fails is not run again."""
    rows = [Row(tool) for tool in tools]
    for _ in range(repeat):
        for row in rows:
            if row.failure:
                continue
            run = launcher.run_once(row.tool, timeout)
            if run.error or run.rc not in row.tool.ok_codes:
                msg = run.error or f"rc {run.rc}"
                detail = [ln.strip() for ln in run.stderr.splitlines() if ln.strip()]
                if detail:
                    msg += ": " + detail[-1][:160]
                row.failure = msg
                continue
            row.runs.append(run)
    return rows


# --------------------------------------------------------------------------------------------------
# report


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def print_table(name: str, nlines: int, nbytes: int, rows: list[Row]) -> None:
    print(f"\n== {name}: {nlines:,} lines, {nbytes / 1e6:.1f} MB")
    lnav = next((r for r in rows if r.tool.name == "lnav" and not r.failure), None)
    head = (
        f"{'tool':<28} {'wall s':>8} {'lines/s':>10} {'peak RSS MB':>12} "
        f"{'speed/lnav':>11} {'RSS/lnav':>9}  result"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        if row.failure:
            print(f"{row.tool.name:<28} FAILED ({row.failure})")
            continue
        lps = nlines / row.wall if row.wall > 0 else float("inf")
        speed = rss = "-"
        if lnav is not None:
            lnav_lps = nlines / lnav.wall
            speed = f"{lps / lnav_lps:.2f}x"
            rss = f"{row.rss_mb / lnav.rss_mb:.2f}x" if lnav.rss_mb else "-"
        print(
            f"{row.tool.name:<28} {row.wall:>8.3f} {fmt_rate(lps):>10} {row.rss_text:>12} "
            f"{speed:>11} {rss:>9}  {row.result()[:60]}"
        )


def target_check(rows: list[Row]) -> None:
    """PASS/FAIL for the parse target on the xo-server journal (informational; exit code stays 0)."""
    print(f"\n== target on {TARGET_FILE}: {TARGET_TOOL}")
    print(f"   lines/s >= {TARGET_SPEED}x lnav, peak RSS <= {TARGET_RSS}x lnav")
    lnav = next((r for r in rows if r.tool.name == "lnav"), None)
    xo = next((r for r in rows if r.tool.name == TARGET_TOOL), None)
    if lnav is None or lnav.failure:
        print("target: n/a (no lnav figure)")
        return
    if xo is None or xo.failure:
        print(f"target: n/a (no {TARGET_TOOL} figure)")
        return
    speed = lnav.wall / xo.wall  # same line count, so the lines/s ratio is the inverse wall ratio
    rss = xo.rss_mb / lnav.rss_mb
    print(f"speed: {'PASS' if speed >= TARGET_SPEED else 'FAIL'} ({speed:.2f}x lnav lines/s)")
    print(f"memory: {'PASS' if rss <= TARGET_RSS else 'FAIL'} ({rss:.2f}x lnav peak RSS)")


# --------------------------------------------------------------------------------------------------


def build_tools(path: Path, lnav: str | None, xodiag: Path | None, lnav_env: dict[str, str]) -> list[Tool]:
    f = str(path)
    c_env = {**os.environ, "LC_ALL": "C"}
    tools = [
        Tool("wc -l", ["wc", "-l", f], env=c_env),
        # grep exits 1 when nothing matches (xensource.log has no RequestAbortedError)
        Tool(
            "grep -c RequestAbortedError",
            ["grep", "-c", "RequestAbortedError", f],
            env=c_env,
            ok_codes=frozenset({0, 1}),
        ),
    ]
    if lnav:
        tools.append(Tool("lnav", [lnav, "-n", "-c", LNAV_QUERY, f], env=lnav_env))
    if xodiag:
        x_env = {**os.environ, "NO_COLOR": "1"}
        # 0 = nothing found, 1 = failure identified, 3 = partly parsed: all are finished runs
        codes = frozenset({0, 1, 3})
        crash = "Traceback (most recent call last)"
        tools.append(
            Tool(
                TARGET_TOOL,
                [str(xodiag), "parse", f, "--format", "none"],
                env=x_env,
                ok_codes=codes,
                crash_marker=crash,
                show_rc=True,
                result_from="stderr",
            )
        )
        floor = Path(__file__).resolve().with_name("table_floor.py")
        tools.append(
            Tool(
                "table floor (no parsing)",
                [str(xodiag.parent / "python"), str(floor), f],
                env=x_env,
                crash_marker=crash,
                result_from="stderr",
            )
        )
        tools.append(
            Tool(
                "xodiag parse --format jsonl",
                [str(xodiag), "parse", f, "--format", "jsonl"],
                env=x_env,
                ok_codes=codes,
                crash_marker=crash,
                show_rc=True,
                discard_stdout=True,
                result_from="stderr",
            )
        )
    return tools


def lane_status(xodiag: Path) -> str:
    """Whether that xodiag runs its compiled fast lane (xodiag/_fastlane.c) or the pure-Python framer."""
    python = xodiag.parent / "python"
    code = ("import os; from xodiag.sources import fastlane as f; "
            "print(('compiled fast lane' + (', prematch on a helper thread' if f.PREMATCH else "
            "', one thread (XODIAG_NO_PREMATCH set)')) if f.available() and f.ENABLED else "
            "'pure Python (XODIAG_PURE_PYTHON set)' if f.available() else 'pure Python (extension not built)')")
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return out.stdout.strip() or f"unknown ({out.stderr.strip().splitlines()[-1:]})"


def byte_compile(xodiag: Path) -> str:
    """Byte-compile that xodiag's package, as pip does for a regular install.

    An editable install (``pip install -e``) writes bytecode only when a module is first imported, and
    never where PYTHONDONTWRITEBYTECODE is set (some CI machines set it): each run would then compile
    the package from source again, about 30 ms that no installed copy pays.
    """
    python = xodiag.parent / "python"
    code = "import compileall, os, xodiag; print(compileall.compile_dir(os.path.dirname(xodiag.__file__), quiet=1))"
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not compiled ({exc})"
    return "compiled" if out.stdout.strip() == "True" else f"not compiled ({out.stderr.strip().splitlines()[-1:]})"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark xodiag parse against lnav, wc and grep.")
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"data directory (default {DEFAULT_DATA})"
    )
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines per generated file (default 1000000)")
    ap.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    ap.add_argument(
        "--xodiag", type=Path, default=DEFAULT_XODIAG, help=f"xodiag executable ({DEFAULT_XODIAG})"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the best (lowest) figure is kept")
    ap.add_argument(
        "--timeout", type=float, default=900.0, help="seconds before a run is killed (default 900)"
    )
    ap.add_argument(
        "--no-gnu-time",
        action="store_true",
        help="measure RSS with os.wait4 on the direct child even if /usr/bin/time is available",
    )
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.lines < 1:
        ap.error("--repeat and --lines must be positive")

    ensure_data(args.data, args.lines, args.seed)
    gen = load_generator()
    files = [args.data / gen.XO_FILE, args.data / gen.XAPI_FILE]

    launcher = Launcher(use_gnu_time=not args.no_gnu_time)
    lnav = shutil.which("lnav")
    if not lnav:
        print("lnav: not found on PATH (apt-get install lnav); skipping its rows and the ratios")
    xodiag: Path | None = args.xodiag
    if not (xodiag and xodiag.is_file() and os.access(xodiag, os.X_OK)):
        print(f"xodiag: not found at {args.xodiag} (pip install -e . into .venv, or pass --xodiag); skipping")
        xodiag = None

    if xodiag is not None:
        print(f"xodiag parse path: {lane_status(xodiag)}; its bytecode: {byte_compile(xodiag)}")

    with tempfile.TemporaryDirectory(prefix="xodiag-bench-home-") as home:
        # lnav writes its config and state under $HOME / $XDG_CONFIG_HOME: keep them in a throwaway dir.
        lnav_env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config")}
        if lnav:
            # Warm-up on a tiny file so lnav's first-run setup of its config dir is not timed.
            tiny = Path(home) / "warmup.log"
            tiny.write_text("2026-04-14T00:00:00.000Z warm-up line\n", encoding="utf-8")
            launcher.run_once(
                Tool("lnav", [lnav, "-n", "-c", LNAV_QUERY, str(tiny)], env=lnav_env), args.timeout
            )

        xo_rows: list[Row] = []
        for path in files:
            nlines = count_lines(path)
            rows = measure(launcher, build_tools(path, lnav, xodiag, lnav_env), args.repeat, args.timeout)
            print_table(path.name, nlines, path.stat().st_size, rows)
            if path.name == TARGET_FILE:
                xo_rows = rows
            sys.stdout.flush()

    target_check(xo_rows)
    print(
        f"\nnotes: warm page cache, best of {args.repeat} run(s) (the tools' runs interleaved); only ratios "
        f"measured side by side in one run mean anything.\n{launcher.describe()} (MB = 2^20 bytes)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
