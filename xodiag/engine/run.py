"""Run scenarios under policies on a fresh loopback pool each, and check them.

One run: make (or reuse) the seeded disk and its VHD/qcow2 images; start the pool (nbdkit per host, the
faults), the HTTP export endpoint; run XO's export under the policy with the nemesis striking at the
chosen moments; stop every process by pid; check the copy; write the engine's xo-server log and job log,
and read them back with ``xodiag analyze``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xodiag.engine import disk as diskmod
from xodiag.engine import joblog, streams
from xodiag.engine.checker import RunResult, check
from xodiag.engine.export import Export, Outcome, Timeouts
from xodiag.engine.history import History
from xodiag.engine.httpexport import HttpExport
from xodiag.engine.nbd_client import NbdClient
from xodiag.engine.policies import Policy
from xodiag.engine.pool import Pool
from xodiag.engine.scenarios import Scenario
from xodiag.engine.tools import require
from xodiag.engine.xolog import XoLog

VDI = "3f2b1c4e-5a6d-4e7f-8a9b-0c1d2e3f4a5b"
VM = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
HANG_FACTOR = 6.0  # a run is 'hung' past this many scaled connect timeouts plus the copy's own time


@dataclass
class DiskSet:
    raw: Path
    vhd: Path
    qcow2: Path
    sha256: str
    size: int


def prepare_disk(cache: Path, size: int, seed: int) -> DiskSet:
    """The seeded raw disk and its images, reused between runs of one invocation."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = cache / f"disk-{size}-{seed}"
    raw, vhd, qcow2 = stem.with_suffix(".raw"), stem.with_suffix(".vhd"), stem.with_suffix(".qcow2")
    sha = diskmod.make_disk(raw, size, seed)
    streams.write_vhd(raw, vhd)
    streams.write_qcow2(raw, qcow2)
    return DiskSet(raw, vhd, qcow2, sha, size)


def _host_options(s: Scenario, hosts: int) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for i in range(hosts):
        fault = s.fault_of(i + 1)
        if not fault:
            continue
        kind = fault["kind"]
        if kind in ("dead", "refused"):
            out[i] = {"mode": kind}
        elif kind == "cut":
            out[i] = {"proxy": {"at": fault["at"], "action": fault.get("action", "rst")}}
        elif kind == "tls-failure":
            out[i] = {"proxy": {"at": "after-starttls", "action": "garble"}}
        elif kind == "busy":
            out[i] = {"limit": 1}
        elif kind == "read-errors":
            out[i] = {"read_errors": fault["rate"], "errors_armed": fault.get("at", 0.0) <= 0.0}
        elif kind == "slow":
            out[i] = {"read_delay": fault["rdelay"]}
    return out


class _Client(NbdClient):
    """NbdClient plus the get_nbd_info record it was made from (for reconnects)."""

    info: dict[str, Any]


class Env:
    """The pool as XO sees it, plus the nemesis's hooks."""

    def __init__(self, s: Scenario, pool: Pool, http: HttpExport, history: History) -> None:
        self.s = s
        self.pool = pool
        self.http = http
        self.h = history
        self.timeouts = Timeouts()
        self.fired: set[str] = set()
        self.fillers: list[Any] = []

    async def nbd_info(self) -> list[dict[str, Any]]:
        if self.s.nbd_info == "empty":
            return []
        if self.s.nbd_info == "error":
            raise RuntimeError("INTERNAL_ERROR(Db_exn.Read_missing_uuid(\"network\", \"\", \"deadbeef\"))")
        return self.pool.nbd_info()

    async def open_stream(self, fmt: str) -> Any:
        url = self.http.url(fmt, session_id=self.pool.session_ref)
        inactivity = self.timeouts.http_inactivity

        def opener() -> Any:
            resp = urllib.request.urlopen(url, timeout=inactivity)  # the pool's loopback endpoint
            stream = streams.open_stream(resp, fmt)
            stream.init()
            return stream

        return await asyncio.to_thread(opener)

    def client(self, info: dict[str, Any], t: Timeouts) -> Any:
        c = _Client(info["address"], info["port"], info["exportname"], tls=True, cert=info["cert"],
                    connect_timeout=t.connect, message_timeout=t.message)
        c.info = info
        return c

    async def progress(self, done: int, total: int) -> None:
        frac = done / max(1, total)
        for i in range(len(self.pool.hosts)):
            fault = self.s.fault_of(i + 1)
            if not fault or fault["kind"] not in ("read-errors", "kill"):
                continue
            key = f"{fault['kind']}-{i}"
            if key in self.fired or frac < fault.get("at", 0.0):
                continue
            if fault["kind"] == "read-errors" and fault.get("at", 0.0) > 0:
                self.fired.add(key)
                self.pool.nbd(i).trigger_errors(True)
                self.h.info("nemesis", "read-errors-on", {"host": i + 1, "at": round(frac, 3)})
            elif fault["kind"] == "kill":
                self.fired.add(key)
                self.pool.nbd(i).kill()
                self.h.info("nemesis", "kill-nbd-server", {"host": i + 1, "at": round(frac, 3)})

    async def hold_slots(self) -> None:
        """Server busy: another client holds the one connection slot of every 'busy' host (nbdkit's limit
        filter counts a connection once its export is open, so the holder opens it fully)."""
        infos = {i["address"]: i for i in self.pool.nbd_info()}
        for i, h in enumerate(self.pool.hosts):
            fault = self.s.fault_of(i + 1)
            if fault and fault["kind"] == "busy":
                holder = self.client(infos[h.address], Timeouts(connect=10.0, message=10.0))
                await holder.connect()
                self.fillers.append(holder)
                self.h.info("nemesis", "hold-connection-slot", {"host": i + 1})

    async def close(self) -> None:
        for c in self.fillers:
            with contextlib.suppress(Exception):
                await c.disconnect()


async def run_one(s: Scenario, policy: Policy, disk: DiskSet, *, hosts: int = 2, time_scale: float = 0.05,
                  seed: int = 1, out_dir: Path | None = None, workdir: Path | None = None,
                  net: str = "127.0.0") -> RunResult:
    """One run. Hosts are at ``<net>.2``, ``<net>.3``...; ``net`` must be inside 127.0.0.0/8."""
    require("nbdkit", "certtool")
    history = History()
    log = XoLog()
    own_tmp = workdir is None
    tmp = Path(tempfile.mkdtemp(prefix="xodiag-run-")) if own_tmp else workdir  # type: ignore[assignment]
    pool = Pool(tmp / "pool", hosts=hosts, raw_path=disk.raw, vdi_uuid=VDI,
                session_ref=f"OpaqueRef:{uuid.UUID(int=seed)}", host_options=_host_options(s, hosts),
                addresses=[f"{net}.{2 + i}" for i in range(hosts)])
    image = disk.qcow2 if s.fmt == "qcow2" else disk.vhd
    fault = s.stream_fault or {}
    size = image.stat().st_size
    http = HttpExport(f"{net}.2", VDI, {"vhd": disk.vhd, "qcow2": disk.qcow2},
                      abort_after=int(size * fault["at"]) if fault.get("kind") == "abort" else None,
                      stall_after=int(size * fault["at"]) if fault.get("kind") == "stall" else None)
    env = Env(s, pool, http, history)
    env.timeouts = Timeouts().scaled(time_scale)
    started = time.monotonic()
    outcome = Outcome()
    try:
        await pool.astart()
        http.start()
        await env.hold_slots()
        history.info("nemesis", "faults", {"hosts": _host_options(s, hosts), "nbd_info": s.nbd_info,
                                           "stream": s.stream_fault})
        export = Export(env, policy, s.fmt, s.concurrency, env.timeouts, seed, history, log)
        bound = env.timeouts.connect * HANG_FACTOR + 60.0
        try:
            outcome = await asyncio.wait_for(export.run(), timeout=bound)
        except TimeoutError:
            outcome = export.result
            outcome.outcome = "hung"
            outcome.error = f"no progress within {bound:.0f} s"
            history.info("xo", "hung", outcome.error)
    finally:
        await env.close()
        http.stop()
        await pool.aclose()
        duration = time.monotonic() - started
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    result = check(s.name, policy.name, outcome, disk.sha256, duration, time_scale, seed)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{s.name}--{policy.name}"
        log.write(out_dir / f"{stem}.xo-server.log")
        origin_ms = int(log.origin.timestamp() * 1000)
        joblog.write(out_dir / f"{stem}.job.json",
                     joblog.job_log(origin_ms, int(duration * 1000), VM, VDI, result.outcome, result.path,
                                    result.error))
        history.write(out_dir / f"{stem}.history.json")
        from xodiag.engine.plot import draw_run

        draw_run(history.entries, f"{s.name} under {policy.name}: {result.outcome} via {result.path}",
                 out_dir / f"{stem}.png")
    return result


def analyze_run(out_dir: Path, result: RunResult) -> tuple[str, str]:
    """``xodiag analyze`` on the run's own logs: (outcome, nbd)."""
    from xodiag.diagnose import diagnose
    from xodiag.reader import event_table
    from xodiag.timeline import build

    stem = f"{result.scenario}--{result.policy}"
    files = [str(out_dir / f"{stem}.xo-server.log"), str(out_dir / f"{stem}.job.json")]
    table, summaries = event_table(files)
    diag = diagnose(build(table, summaries), summaries)
    return diag.verdict.outcome, diag.verdict.nbd
