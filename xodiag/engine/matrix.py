"""Run a scenario x policy matrix and print it (text table or the documented JSON)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from xodiag.engine.checker import RunResult
from xodiag.engine.policies import Policy
from xodiag.engine.run import analyze_run, prepare_disk, run_one
from xodiag.engine.scenarios import Scenario
from xodiag.render.sanitize import one_line

SCHEMA_VERSION = 1
JSON_KEYS = ("scenario", "policy", "outcome", "path", "data_verified", "sha256_source", "sha256_copy",
             "connects", "failed_connects", "retries", "error", "duration_s")


def run_matrix(scenarios: list[Scenario], policies: list[Policy], *, hosts: int, size: int, time_scale: float,
               seed: int, out: Path | None, json_out: bool) -> list[RunResult]:
    cache = Path(tempfile.mkdtemp(prefix="xodiag-disk-"))
    logs = out if out is not None else Path(tempfile.mkdtemp(prefix="xodiag-logs-"))
    results: list[RunResult] = []
    try:
        disk = prepare_disk(cache, size, seed)
        for s in scenarios:
            for p in policies:
                if sys.stderr.isatty() and not json_out:
                    sys.stderr.write(f"\r{s.name} / {p.name} ...\x1b[K")
                r = asyncio.run(run_one(s, p, disk, hosts=hosts, time_scale=time_scale, seed=seed, out_dir=logs))
                r.analyze_outcome, r.analyze_nbd = analyze_run(logs, r)
                results.append(r)
        if sys.stderr.isatty() and not json_out:
            sys.stderr.write("\r\x1b[K")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if out is None:
            shutil.rmtree(logs, ignore_errors=True)
    if json_out:
        doc = {"schema_version": SCHEMA_VERSION, "time_scale": time_scale, "disk_size": size, "hosts": hosts,
               "runs": [_json_run(r) for r in results]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(render_matrix(results, time_scale))
    if out is not None:
        (out / "matrix.json").write_text(json.dumps([r.as_json() for r in results], indent=1) + "\n")
    return results


def _json_run(r: RunResult) -> dict[str, Any]:
    d = {k: getattr(r, k) for k in JSON_KEYS}
    d.update(reconnects=r.reconnects, duration_real_s=r.duration_real_s, logged_abort_noise=r.logged_abort_noise,
             seed=r.seed, analyze_outcome=r.analyze_outcome, analyze_nbd=r.analyze_nbd)
    return d


def render_matrix(results: list[RunResult], time_scale: float) -> str:
    head = (f"{'scenario':<21} {'policy':<19} {'outcome':<9} {'path':<6} {'data':<4} {'conn/fail':>9} "
            f"{'retries':>7} {'time s':>7} {'real s':>7} {'abort-log':<9} {'vs xo':<7} error")
    lines = [head, "-" * len(head)]
    base = {r.scenario: r for r in results if r.policy == "xo-2026.04"}
    for r in results:
        ref = base.get(r.scenario)
        change = "" if ref is None or r.policy == "xo-2026.04" else (
            "same" if (ref.outcome, ref.path) == (r.outcome, r.path) else "CHANGED")
        data = "ok" if r.data_verified else "-"
        lines.append(
            f"{r.scenario:<21} {r.policy:<19} {r.outcome:<9} {r.path:<6} {data:<4} "
            f"{f'{r.connects}/{r.failed_connects}':>9} {r.retries:>7} {r.duration_s:>7.2f} {r.duration_real_s:>7.1f} "
            f"{'yes' if r.logged_abort_noise else 'no':<9} {change:<7} {one_line(r.error or '')[:60]}")
    lines.append("")
    lines.append(f"time s: measured with XO's timeouts x {time_scale}; real s: the same run with XO's real timeouts. "
                 "abort-log: the run logged the 'unhandled error event' RequestAbortedError. "
                 "vs xo: whether the outcome or path differs from xo-2026.04 for that scenario.")
    return "\n".join(lines) + "\n"
