#!/usr/bin/env python3
"""Seeded, dependency-free generator of synthetic XO and xapi logs for the parse benchmark.

Usage::

    python tests/bench/gen_logs.py --out DIR [--lines 1000000] [--seed 42]

Writes, each with about ``--lines`` physical lines (a record is never cut, so a file may run a few
lines over):

- ``DIR/xo-server.journal``: ``journalctl -u xo-server`` short output. Every physical line carries the
  yearless, host-local (UTC+2) journald prefix ``Mon DD HH:MM:SS xo xo-server[PID]: ``; records are
  ``<ISO UTC time> <namespace> <LEVEL> <message>``. About 2 % of the records carry a multi-line
  ``util.inspect`` data block (mostly ``unhandled error event`` + ``RequestAbortedError``). A second PID
  (30211) appears now and then, sometimes one of its lines lands inside another record's block.
- ``DIR/xensource.log``: xapi's syslog output (``Mon DD HH:MM:SS xcp-a xapi: [level||tid thread|task|brand]
  message``), with backtrace groups, ``#012`` escapes and ``message repeated N times`` lines.
- ``DIR/meta.json``: the parameters and the resulting line counts and sizes.

The messages follow the shapes in docs/domain log-formats.md (sections 2, 3 and 5) but the values and
many message texts are invented: this is benchmark data, not a fixture for diagnosis rules.
The same ``--lines`` and ``--seed`` always give byte-identical files.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

GENERATOR_VERSION = 1

XO_FILE = "xo-server.journal"
XAPI_FILE = "xensource.log"
META_FILE = "meta.json"

# 2026-04-30T21:50:00Z: host-local (UTC+2) is Apr 30 23:50, so the local day and month roll over
# ("May  1", space-padded) after ten minutes, and the UTC day two hours later.
START_EPOCH_S = 1777585800
LOCAL_OFFSET_S = 2 * 3600

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

XO_HOST = "xo"
XO_MAIN_PID = 812
XO_OTHER_PID = 30211
XAPI_HOST = "xcp-a"

FLUSH_EVERY = 8192  # physical lines buffered before one write()


# --------------------------------------------------------------------------------------------------
# helpers


class Clock:
    """Monotonic millisecond clock with per-second caches of the formatted time strings."""

    def __init__(self, start_ms: int) -> None:
        self.ms = start_ms
        self._sec = -1
        self._iso_sec = ""
        self._local = ""

    def _refresh(self, sec: int) -> None:
        self._sec = sec
        u = time.gmtime(sec)
        self._iso_sec = (
            f"{u.tm_year:04d}-{u.tm_mon:02d}-{u.tm_mday:02d}T{u.tm_hour:02d}:{u.tm_min:02d}:{u.tm_sec:02d}"
        )
        lt = time.gmtime(sec + LOCAL_OFFSET_S)
        self._local = (
            f"{MONTHS[lt.tm_mon - 1]} {lt.tm_mday:>2} {lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}"
        )

    def iso(self) -> str:
        """``2026-04-14T00:22:11.402Z``."""
        sec, ms = divmod(self.ms, 1000)
        if sec != self._sec:
            self._refresh(sec)
        return f"{self._iso_sec}.{ms:03d}Z"

    def local(self) -> str:
        """Yearless host-local syslog time, ``Apr 14 02:22:11`` / ``May  1 00:00:03``."""
        sec = self.ms // 1000
        if sec != self._sec:
            self._refresh(sec)
        return self._local


class Weighted(Generic[T]):
    """Weighted choice with precomputed cumulative weights (one ``random()`` per pick)."""

    def __init__(self, items: Sequence[tuple[float, T]]) -> None:
        self.values = [v for _, v in items]
        total = 0.0
        self.cum: list[float] = []
        for w, _ in items:
            total += w
            self.cum.append(total)
        self.total = total

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.total)]


def make_uuids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def make_hex(rng: random.Random, n: int, width: int) -> list[str]:
    return [f"{rng.getrandbits(width * 4):0{width}x}" for _ in range(n)]


class LineWriter:
    """Buffered line sink that counts physical lines."""

    def __init__(self, path: Path) -> None:
        self.fh = path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self.buf: list[str] = []
        self.count = 0

    def add(self, line: str) -> None:
        self.buf.append(line)
        if len(self.buf) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.count += len(self.buf)
            self.buf.append("")
            self.fh.write("\n".join(self.buf))
            self.buf = []

    def close(self) -> int:
        self.flush()
        self.fh.close()
        return self.count


# --------------------------------------------------------------------------------------------------
# xo-server journal

# Frames of the RequestAbortedError stack (xo-export-path.md 7.2), innermost first; the last one opens
# the error's own-properties object.
RAE_FRAMES = (
    "at BodyReadable.destroy (/opt/xo/node_modules/undici/lib/api/readable.js:51:13)",
    "at QcowStream.close (/opt/xo/node_modules/@xen-orchestra/qcow2/dist/disk/QcowStream.mjs:40:22)",
    "at XapiQcow2StreamSource.close "
    "(/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskPassthrough.mjs:86:28)",
    "at XapiQcow2StreamSource.close (/opt/xo/@xen-orchestra/xapi/disks/XapiQcow2StreamSource.mjs:61:18)",
    "at DiskLargerBlock.close "
    "(/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskLargerBlock.mjs:87:28)",
    "at TimeoutDisk.close "
    "(/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskPassthrough.mjs:34:29)",
    "at XapiStreamNbdSource.close "
    "(/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskPassthrough.mjs:34:29)",
    "at XapiStreamNbdSource.init (/opt/xo/@xen-orchestra/xapi/disks/XapiStreamNbd.mjs:66:17)",
    "at async #openNbdStream (/opt/xo/@xen-orchestra/xapi/disks/Xapi.mjs:108:7) {",
)
RAE_BLOCK = (
    "  error: RequestAbortedError [AbortError]: Request aborted",
    *("      " + f for f in RAE_FRAMES),
    "    code: 'UND_ERR_ABORTED',",
    "    [Symbol(undici.error.UND_ERR)]: true,",
    "    [Symbol(undici.error.UND_ERR_ABORT)]: true,",
    "    [Symbol(undici.error.UND_ERR_ABORTED)]: true",
    "  }",
    "}",
)

NBD_HANDSHAKE_FRAMES = (
    "      at readChunkStrict (/opt/xo/node_modules/@vates/read-chunk/index.js:83:13)",
    "      at async #handshake (/opt/xo/node_modules/@vates/nbd-client/index.mjs:209:20)",
    "      at async NbdClient.connect (/opt/xo/node_modules/@vates/nbd-client/index.mjs:120:5)",
    "      at async MultiNbdClient._connect (/opt/xo/node_modules/@vates/nbd-client/multi.mjs:53:9)",
)
NBD_ERRORS = (
    "Error: stream has ended without data, was looking for 134 bytes",
    "Error: stream has ended without data, was looking for 134 bytes",
    "Error: stream has ended without data, was looking for 16 bytes",
    "Error: read ECONNRESET",
    "Error: operation timed out",
)

CBT_MESSAGE = "Error in openNbdCBT Error: CBT is disabled"
CBT_BLOCK = (
    "    at XapiVhdCbtSource.init (/opt/xo/@xen-orchestra/xapi/disks/XapiVhdCbt.mjs:72:13)",
    "    at async #openNbdCBT (/opt/xo/@xen-orchestra/xapi/disks/Xapi.mjs:229:7) {",
    "  code: 'CBT_DISABLED',",
)

XAPI_FRAMES = (
    "      at XapiError.wrap (/opt/xo/packages/xen-api/_XapiError.mjs:16:12)",
    "      at default (/opt/xo/packages/xen-api/_getTaskResult.mjs:13:29)",
    "      at Xapi._addRecordToCache (/opt/xo/packages/xen-api/index.mjs:1078:24)",
    "      at Xapi._watchEvents (/opt/xo/packages/xen-api/index.mjs:1244:14) {",
)


class XoJournalGen:
    """Builds the xo-server journal, record by record."""

    def __init__(self, rng: random.Random, out: LineWriter, clock: Clock) -> None:
        self.rng = rng
        self.out = out
        self.clock = clock
        self.vdi_uuids = make_uuids(rng, 96)
        self.vm_uuids = make_uuids(rng, 24)
        self.job_uuids = make_uuids(rng, 4)
        self.refs = ["OpaqueRef:" + u for u in make_uuids(rng, 160)]
        self.nbd_ips = [f"10.0.2.{i}" for i in (11, 12, 13, 14)]
        self.ui_ips = [f"::ffff:10.0.1.{i}" for i in (20, 21, 35, 77)]
        self.prev_ns = "xo:xo-server"
        self.prev_level = "INFO"
        self._prefix_sec = -1
        self._prefix: dict[int, str] = {}
        r = rng
        ref = self.refs
        vdi = self.vdi_uuids
        vm = self.vm_uuids

        def c(x: Sequence[str]) -> str:
            return x[r.randrange(len(x))]

        disks, nbd, worker, vmb = (
            "xo:xapi:xapi-disks",
            "vates:nbd-client",
            "xo:backups:worker",
            "xo:backups:VmBackup",
        )
        xo, jobs = "xo:xo-server", self.job_uuids
        # (weight, (namespace, level, message factory))
        single: list[tuple[float, tuple[str, str, Callable[[], str]]]] = [
            (9, (disks, "INFO", lambda: "export through qcow2")),
            (9, (disks, "INFO", lambda: "export through vhd")),
            (3, (disks, "WARN", lambda: "can't connect through NBD, fall back to stream export")),
            (2, (disks, "DEBUG", lambda: f"Couldn't get image-format of {c(ref)}")),
            (1, (disks, "WARN", lambda: f"can't compute delta {c(ref)} from {c(ref)}, fallBack to a full")),
            (8, (nbd, "WARN", lambda: f"will retry reading block  {r.randrange(4096)}")),
            (
                3,
                (
                    nbd,
                    "INFO",
                    lambda: f"connected to {c(self.nbd_ips)}:10809 export /{c(vdi)}?session_id={c(ref)}",
                ),
            ),
            (
                2,
                (
                    nbd + ":multi",
                    "WARN",
                    lambda: "incomplete connection by multi Nbd, only 1 over 2 expected clients",
                ),
            ),
            (4, (worker, "INFO", lambda: "starting backup")),
            (4, (worker, "INFO", lambda: "backup has ended")),
            (2, (worker, "WARN", lambda: "worker process did not exit automatically, forcing...")),
            (5, (vmb, "INFO", lambda: f"snapshot of VM {c(vm)} is {c(ref)}")),
            (5, (vmb, "INFO", lambda: f"transfer of VDI {c(vdi)} done, {r.randrange(1 << 34)} bytes")),
            (
                3,
                (
                    "xo:backups:AbstractVmRunner",
                    "WARN",
                    lambda: f"writer step failed for VM {c(vm)} on {c(jobs)}",
                ),
            ),
            (5, ("xo:xapi:vdi", "INFO", lambda: f"{c(ref)} has been disconnected from dom0")),
            (2, ("xo:xapi:vdi", "INFO", lambda: f"{c(ref)} was already destroyed")),
            (
                4,
                (
                    "xo:xapi",
                    "DEBUG",
                    lambda: f"VDI.get_nbd_info({c(ref)}) returned {r.randrange(1, 3)} address(es)",
                ),
            ),
            (
                3,
                (
                    "xo:xapi",
                    "WARN",
                    lambda: f"retry VDI.destroy({c(ref)}) after VDI_IN_USE, attempt {r.randrange(9)}",
                ),
            ),
            (6, ("xo:main", "INFO", lambda: f"+ WebSocket connection ({c(self.ui_ips)})")),
            (6, ("xo:main", "INFO", lambda: f"- WebSocket connection ({c(self.ui_ips)})")),
            (4, (xo, "INFO", lambda: f"job {c(jobs)} run {c(vm)} started")),
            (2, (xo, "WARN", lambda: f"VM {c(vm)} has no snapshot matching schedule {c(jobs)}")),
            (1, (xo, "ERROR", lambda: f"task {c(vdi)} failed: Error: Request aborted")),
            (2, ("xo:backups:mergeWorker", "INFO", lambda: f"merging {c(vdi)}.vhd into {c(vdi)}.vhd")),
        ]
        self.singles = Weighted(single)
        self.blocks = Weighted(
            [
                (70, self._block_rae),
                (15, self._block_nbd),
                (9, self._block_vdiref),
                (3, self._block_xapi_error),
                (3, self._block_process_exit),
            ]
        )

    # -- prefix ------------------------------------------------------------------------------------

    def prefix(self, pid: int) -> str:
        sec = self.clock.ms // 1000
        if sec != self._prefix_sec:
            self._prefix_sec = sec
            self._prefix = {}
        p = self._prefix.get(pid)
        if p is None:
            p = f"{self.clock.local()} {XO_HOST} xo-server[{pid}]: "
            self._prefix[pid] = p
        return p

    # -- blocks: (first line's namespace, level, message ending with " {"), continuation lines -------

    def _block_rae(self) -> tuple[str, str, str, Sequence[str]]:
        ns = "xo:backups:worker" if self.rng.random() < 0.9 else "xo:xo-server"
        return ns, "ERROR", "unhandled error event {", RAE_BLOCK

    def _block_nbd(self) -> tuple[str, str, str, Sequence[str]]:
        r = self.rng
        err = NBD_ERRORS[r.randrange(len(NBD_ERRORS))]
        frames = NBD_HANDSHAKE_FRAMES[: 2 + r.randrange(3)]
        msg = "can't connect to one nbd client {"
        return "vates:nbd-client:multi", "WARN", msg, [f"  err: {err}", *frames, "}"]

    def _block_vdiref(self) -> tuple[str, str, str, Sequence[str]]:
        r = self.rng
        ref = self.refs
        vdi_ref = ref[r.randrange(len(ref))]
        if r.random() < 0.5:
            return (
                "xo:xapi:XapiStreamNbd",
                "WARN",
                "error while closing stream source {",
                [
                    f"  vdiRef: '{vdi_ref}',",
                    "  err: Error: Can't use the nbd client of a XapiVhdStreamNbdSource before init",
                    "      at XapiStreamNbdSource.close "
                    "(/opt/xo/@xen-orchestra/xapi/disks/XapiStreamNbd.mjs:77:13)",
                    "      at async #openNbdStream (/opt/xo/@xen-orchestra/xapi/disks/Xapi.mjs:121:9)",
                    "}",
                ],
            )
        vbd_ref = ref[r.randrange(len(ref))]
        return (
            "xo:xapi:vdi",
            "WARN",
            f"Couldn't disconnect {vdi_ref} from dom0 {{",
            [
                f"  vdiRef: '{vdi_ref}',",
                f"  vbdRef: '{vbd_ref}',",
                f"  err: XapiError: VBD_NOT_UNPLUGGABLE({vbd_ref})",
                *XAPI_FRAMES,
                "    code: 'VBD_NOT_UNPLUGGABLE',",
                f"    params: [ '{vbd_ref}' ],",
                "    call: undefined,",
                "    url: undefined,",
                "    task: undefined",
                "  }",
                "}",
            ],
        )

    def _block_xapi_error(self) -> tuple[str, str, str, Sequence[str]]:
        r = self.rng
        vdi_ref = self.refs[r.randrange(len(self.refs))]
        return (
            "xo:backups:AbstractVmRunner",
            "WARN",
            "writer step failed {",
            [
                f"  error: XapiError: VDI_IN_USE({vdi_ref}, data_destroy)",
                *XAPI_FRAMES,
                "    code: 'VDI_IN_USE',",
                f"    params: [ '{vdi_ref}', 'data_destroy' ],",
                "    call: { duration: 4012, method: 'VDI.data_destroy', params: [Array] },",
                "    url: undefined,",
                "    task: undefined",
                "  },",
                "  step: 'writer.transfer()',",
                "  writer: 'IncrementalRemoteWriter'",
                "}",
            ],
        )

    def _block_process_exit(self) -> tuple[str, str, str, Sequence[str]]:
        r = self.rng
        return (
            "xo:backups:worker",
            "INFO",
            "process will exit {",
            [
                f"  duration: {r.randrange(10_000_000, 900_000_000)},",
                "  exitCode: 0,",
                f"  resourceUsage: {{ userCPUTime: {r.randrange(10**7)}, "
                f"systemCPUTime: {r.randrange(10**6)}, maxRSS: {r.randrange(100_000, 400_000)} }},",
                "  summary: {",
                f"    duration: '{r.randrange(1, 59)}m',",
                f"    cpuUsage: '{r.randrange(1, 99)}%',",
                f"    memoryUsage: '{r.randrange(100, 400)} MiB'",
                "  }",
                "}",
            ],
        )

    # -- main loop ---------------------------------------------------------------------------------

    def run(self, target_lines: int) -> None:
        r = self.rng
        clock = self.clock
        out = self.out
        singles = self.singles
        written = 0
        while written < target_lines:
            # Time: a few ms per record, with the odd pause between bursts of activity.
            x = r.random()
            if x < 0.0008:
                clock.ms += r.randrange(2_000, 120_000)
            else:
                clock.ms += 1 + int(x * 8)
            pid = XO_OTHER_PID if r.random() < 0.03 else XO_MAIN_PID
            y = r.random()
            if y < 0.02:
                blockfn = self.blocks.pick(r)
                ns, level, msg, lines = blockfn()
                prefix = self.prefix(pid)
                out.add(f"{prefix}{clock.iso()} {ns} {level} {msg}")
                cut = r.randrange(1, len(lines)) if (len(lines) > 2 and r.random() < 0.05) else -1
                for i, line in enumerate(lines):
                    if i == cut:
                        # another process's line lands in the middle of this block
                        clock.ms += 1
                        other = XO_MAIN_PID if pid == XO_OTHER_PID else XO_OTHER_PID
                        ns2, level2, msg2 = singles.pick(r)
                        out.add(f"{self.prefix(other)}{clock.iso()} {ns2} {level2} {msg2()}")
                        prefix = self.prefix(pid)
                    out.add(prefix + line)
                written += 1 + len(lines) + (cut >= 0)
                self.prev_ns, self.prev_level = ns, level
            elif y < 0.024:
                # dedupe flush line: same namespace and level as the previous record
                out.add(
                    f"{self.prefix(pid)}{clock.iso()} {self.prev_ns} {self.prev_level} "
                    f"duplicates of the previous log were hidden {{ nDuplicates: {r.randrange(2, 40)} }}"
                )
                written += 1
            elif y < 0.026:
                # an Error passed as data prints its stack from the message line on
                vdi_ref = self.refs[r.randrange(len(self.refs))]
                prefix = self.prefix(pid)
                out.add(f"{prefix}{clock.iso()} xo:xapi:xapi-disks INFO {CBT_MESSAGE}")
                for line in CBT_BLOCK:
                    out.add(prefix + line)
                out.add(f"{prefix}  vdiRef: '{vdi_ref}'")
                out.add(f"{prefix}}}")
                written += 3 + len(CBT_BLOCK)
                self.prev_ns, self.prev_level = "xo:xapi:xapi-disks", "INFO"
            else:
                ns, level, msgfn = singles.pick(r)
                out.add(f"{self.prefix(pid)}{clock.iso()} {ns} {level} {msgfn()}")
                written += 1
                self.prev_ns, self.prev_level = ns, level


# --------------------------------------------------------------------------------------------------
# xensource.log

OCAML_FRAMES = (
    ("xapi", "ocaml/xapi/xapi_vdi.ml", 1017),
    ("xapi", "ocaml/xapi/message_forwarding.ml", 141),
    ("xapi", "ocaml/xapi/message_forwarding.ml", 1537),
    ("xapi", "ocaml/libs/xapi-stdext/lib/xapi-stdext-pervasives/pervasiveext.ml", 24),
    ("xapi", "ocaml/libs/xapi-stdext/lib/xapi-stdext-pervasives/pervasiveext.ml", 35),
    ("xapi", "ocaml/xapi/rbac.ml", 205),
    ("xapi", "ocaml/xapi/server_helpers.ml", 92),
    ("xapi", "ocaml/xapi/server_helpers.ml", 113),
    ("xapi", "ocaml/xapi/storage_access.ml", 513),
    ("xapi", "ocaml/xapi/sm_fs_ops.ml", 88),
    ("xapi", "ocaml/xapi/vhd_tool_wrapper.ml", 61),
)
XAPI_EXCEPTIONS = (
    "Server_error(VDI_IN_USE, [ {ref}; data_destroy ])",
    "Server_error(VDI_IN_USE, [ {ref}; destroy ])",
    "Server_error(SR_BACKEND_FAILURE_46, [ ; "
    "The VDI is not available [opterr=VDI {uuid} not detached cleanly]; ])",
    "Server_error(SESSION_INVALID, [ {ref} ])",
    "Server_error(HANDLE_INVALID, [ VBD; {ref} ])",
    'Api_errors.Server_error("INTERNAL_ERROR", ["Unix.Unix_error(Unix.EPIPE, \\"write\\", \\"\\")"])',
)
AUDIT_METHODS = (
    ("VDI.get_nbd_info", "vdi  = '{vdi}'"),
    ("VDI.get_by_uuid", "uuid = '{vdi}'"),
    ("VDI.get_record", "self = '{vdi}'"),
    ("VDI.data_destroy", "self = '{vdi}'"),
    ("VDI.destroy", "self = '{vdi}'"),
    ("VM.snapshot", "vm = '{vm}'; new_name = '{vm}'; ignore_vdis = ''"),
    ("VM.get_record", "self = '{vm}'"),
    ("task.create", "label = '[XO] Exporting content of VDI {vdi}'; description = ''"),
    ("task.destroy", "self = '{ref}'"),
    ("network.get_by_uuid", "uuid = '{vm}'"),
    ("host.get_servertime", "host = '{vm}'"),
)
UNIX_METHODS = (
    ("VBD.create", "VM = '{dom0}'; VDI = '{vdi}'; mode = 'RO'; type = 'Disk'; unpluggable = 'true'"),
    ("VBD.plug", "VBD = '{vbd}'"),
    ("VBD.unplug", "VBD = '{vbd}'"),
    ("VBD.destroy", "VBD = '{vbd}'"),
    ("session.get_uuid", "self = '{ref}'"),
    ("VDI.get_by_uuid", "uuid = '{vdi}'"),
)


class XensourceGen:
    """Builds xensource.log, scenario by scenario (a scenario emits 1-12 related lines)."""

    def __init__(self, rng: random.Random, out: LineWriter, clock: Clock) -> None:
        self.rng = rng
        self.out = out
        self.clock = clock
        self.written = 0
        self.vdi_uuids = make_uuids(rng, 96)
        self.vm_uuids = make_uuids(rng, 24)
        self.refs = ["OpaqueRef:" + u for u in make_uuids(rng, 160)]
        self.hex12 = make_hex(rng, 400, 12)
        self.trackids = make_hex(rng, 40, 32)
        self.dom0 = make_uuids(rng, 1)[0]
        self.xo_ips = ("10.0.1.50", "10.0.1.50", "10.0.1.50", "10.0.1.51")
        self._prefix_sec = -1
        self._prefix: dict[str, str] = {}
        self.scenarios = Weighted(
            [
                (26, self._audit_call),
                (22, self._event_from),
                (7, self._heartbeat),
                (6, self._nbd_vbd_cycle),
                (4, self._export),
                (6, self._xenopsd),
                (0.3, self._vdi_wait),
                (0.6, self._backtrace),
                (1.0, self._repeated),
                (2.0, self._warn),
                (0.6, self._escaped),
            ]
        )

    def c(self, seq: Sequence[str]) -> str:
        return seq[self.rng.randrange(len(seq))]

    def tick(self) -> None:
        x = self.rng.random()
        if x < 0.0004:
            self.clock.ms += self.rng.randrange(2_000, 120_000)
        else:
            self.clock.ms += int(x * 7)

    def emit(self, program: str, body: str) -> None:
        sec = self.clock.ms // 1000
        if sec != self._prefix_sec:
            self._prefix_sec = sec
            self._prefix = {}
        p = self._prefix.get(program)
        if p is None:
            p = f"{self.clock.local()} {XAPI_HOST} {program}: "
            self._prefix[program] = p
        self.out.add(p + body)
        self.written += 1

    def hdr(self, level: str, tid: int, thread: str, task: str, brand: str) -> str:
        f2 = ""
        if self.rng.random() < 0.02:
            f2 = f"00-{self.c(self.trackids)}-{self.c(self.hex12)}{self.c(self.hex12)[:4]}-01"
        return f"[{level}|{f2}|{tid} {thread}|{task}|{brand}]"

    def log(
        self, level: str, tid: int, thread: str, task: str, brand: str, msg: str, prog: str = "xapi"
    ) -> None:
        self.emit(prog, f"{self.hdr(level, tid, thread, task, brand)} {msg}")

    def https(self) -> str:
        return f"HTTPS {self.c(self.xo_ips)}->:::80"

    def tid(self) -> int:
        return self.rng.randrange(1000, 99999)

    # -- scenarios ---------------------------------------------------------------------------------

    def _audit_call(self) -> None:
        r = self.rng
        method, args = AUDIT_METHODS[r.randrange(len(AUDIT_METHODS))]
        tid = self.tid()
        ref12 = self.c(self.hex12)
        d12 = self.c(self.hex12)
        thread = self.https()
        task = f"{method} R:{ref12}"
        vdi = self.c(self.vdi_uuids)
        if r.random() < 0.5:
            msg = (
                f"task {task} (uuid:{self.c(self.vdi_uuids)}) created "
                f"(trackid={self.c(self.trackids)}) by task D:{d12}"
            )
            self.log(" info", tid, "INET :::80", f"dispatch:{method} D:{d12}", "taskhelper", msg)
            self.tick()
        args = args.format(vdi=vdi, vm=self.c(self.vm_uuids), ref=self.c(self.refs))
        self.log("debug", tid, thread, task, "audit", f"{method}: {args}")
        if r.random() < 0.3:
            self.tick()
            self.log(
                "debug",
                tid,
                thread,
                task,
                "xapi",
                f"Checking whether VDI {vdi} is locked by another operation",
            )

    def _event_from(self) -> None:
        d1, d2 = self.c(self.hex12), self.c(self.hex12)
        task = f"dispatch:event.from D:{d1}"
        self.log(
            "debug", self.tid(), self.https(), task, "dummytaskhelper", f"task {task} created by task D:{d2}"
        )

    def _heartbeat(self) -> None:
        msg = f"Sending heartbeat to master (live = true, timeout = {self.rng.randrange(20, 60)}s)"
        self.log("debug", 88, "heartbeat", "", "xapi", msg)

    def _nbd_vbd_cycle(self) -> None:
        r = self.rng
        tid = self.tid()
        vdi = self.c(self.vdi_uuids)
        vbd = self.c(self.refs)
        task = f"session.login_with_password D:{self.c(self.hex12)}"
        msg = (
            f"Session.create trackid={self.c(self.trackids)} pool=false uname= originator=xapi-nbd "
            "is_local_superuser=true auth_user_sid= parent=trackid=9834f5af41c964e225f24279aefe4e49"
        )
        self.log(" info", tid, "/var/lib/xcp/xapi", task, "xapi_session", msg)
        thread = "UNIX /var/lib/xcp/xapi"
        for _ in range(r.randrange(1, 4)):
            self.tick()
            method, args = UNIX_METHODS[r.randrange(len(UNIX_METHODS))]
            args = args.format(dom0=self.dom0, vdi=vdi, vbd=vbd, ref=self.c(self.refs))
            self.log("debug", tid, thread, f"{method} R:{self.c(self.hex12)}", "audit", f"{method}: {args}")
        self.tick()
        task = f"session.logout D:{self.c(self.hex12)}"
        self.log(
            " info", tid, thread, task, "xapi_session", f"Session.destroy trackid={self.c(self.trackids)}"
        )

    def _export(self) -> None:
        r = self.rng
        tid = self.tid()
        fmt_ = "qcow2" if r.random() < 0.5 else "vhd"
        task = f"[XO] Exporting content of VDI disk{r.randrange(4)} as {fmt_} R:{self.c(self.hex12)}"
        thread = self.https()
        self.log("debug", tid, thread, task, "export_raw_vdi", "Copying VDI contents...")
        self.tick()
        msg = f"with_vbds: attaching VDI {self.c(self.vdi_uuids)} to dom0 in RO mode"
        self.log("debug", tid, thread, task, "attach_helpers", msg)
        if fmt_ == "vhd":
            self.tick()
            msg = (
                "Executing /bin/vhd-tool stream --source-protocol none --source-format hybrid "
                f"--source /dev/sm/backend/{self.c(self.vm_uuids)}/{self.c(self.vdi_uuids)}"
            )
            self.log(" info", tid, thread, task, "vhd_tool_wrapper", msg)

    def _xenopsd(self) -> None:
        r = self.rng
        vm = self.c(self.vm_uuids)
        x = r.random()
        tid = r.randrange(10, 40)
        if x < 0.6:
            msg = f'Queue.pop returned ["VM_check_state", "{vm}"]'
            self.log("debug", tid, "", "", "xenops_server", msg, prog="xenopsd-xc")
        elif x < 0.9:
            msg = f"VM {vm} is not requesting any attention"
            task = f"events D:{self.c(self.hex12)}"
            self.log("debug", tid, "", task, "xenops_server", msg, prog="xenopsd-xc")
        else:
            msg = f"total_range = {r.randrange(10**9)} gamma = 1.000000 gamma' = 1.000000"
            self.log("debug", 3, "", "", "squeeze_xen", msg, prog="squeezed")

    def _vdi_wait(self) -> None:
        tid = self.tid()
        task = f"VDI.data_destroy R:{self.c(self.hex12)}"
        vdi = self.c(self.vdi_uuids)
        thread = self.https()
        fn = "wait_for_vbds_to_be_unplugged_and_destroyed"
        msg = f"{fn}: waiting for 1 VBD(s) of VDI {vdi} to be unplugged and destroyed"
        self.log("debug", tid, thread, task, "xapi_vdi", msg)
        self.clock.ms += 4000
        msg = f"{fn}: finished, VDI {vdi} has {self.rng.randrange(0, 2)} VBD(s)"
        self.log("debug", tid, thread, task, "xapi_vdi", msg)

    def _backtrace(self) -> None:
        r = self.rng
        tid = self.tid()
        ref12 = self.c(self.hex12)
        method = self.c(("VDI.data_destroy", "VDI.destroy", "VBD.unplug", "VM.snapshot", "VDI.get_nbd_info"))
        task = f"{method} R:{ref12}"
        thread = self.https() if r.random() < 0.7 else "UNIX /var/lib/xcp/xapi"
        exc = self.c(XAPI_EXCEPTIONS).format(ref=self.c(self.refs), uuid=self.c(self.vdi_uuids))
        h = self.hdr("error", tid, thread, task, "backtrace")
        self.emit("xapi", f"{h} {task} failed with exception {exc}")
        self.emit("xapi", f"{h} Raised {exc}")
        n = r.randrange(4, 10)
        start = r.randrange(len(OCAML_FRAMES))
        for k in range(1, n + 1):
            mod, path, line = OCAML_FRAMES[(start + k) % len(OCAML_FRAMES)]
            verb = "Raised at" if k == 1 else ("Re-raised at" if r.random() < 0.1 else "Called from")
            self.emit("xapi", f"{h} {k}/{n} {mod} {verb} file {path}, line {line}")

    def _repeated(self) -> None:
        n = self.rng.randrange(2, 60)
        h = self.hdr("debug", 88, "heartbeat", "", "xapi")
        msg = "Sending heartbeat to master (live = true, timeout = 30s)"
        self.emit("xapi", f"message repeated {n} times: [ {h} {msg}]")

    def _warn(self) -> None:
        tid = self.tid()
        if self.rng.random() < 0.5:
            task = f"VDI.get_nbd_info R:{self.c(self.hex12)}"
            msg = f"get_nbd_info: no network with purpose nbd or insecure_nbd on host {self.c(self.vm_uuids)}"
            self.log(" warn", tid, self.https(), task, "xapi", msg)
        else:
            msg = 'Unix.Unix_error(Unix.ECONNRESET, "read", "") while reading HTTP request from 10.0.1.50'
            self.log(" warn", tid, "INET :::80", "", "xapi", msg)

    def _escaped(self) -> None:
        task = f"[XO] VDI Export R:{self.c(self.hex12)}"
        if self.rng.random() < 0.7:
            msg = "vhd-tool output: vhd-tool: internal error, uncaught exception:#012  End_of_file#012"
        else:
            msg = "vhd-tool output: vhd-tool: internal error, uncaught exception:\\x0A  End_of_file\\x0A"
        self.log("error", self.tid(), self.https(), task, "vhd_tool_wrapper", msg)

    def run(self, target_lines: int) -> None:
        self.written = 0
        r = self.rng
        while self.written < target_lines:
            self.tick()
            self.scenarios.pick(r)()


# --------------------------------------------------------------------------------------------------


def generate(out_dir: Path, lines: int, seed: int) -> dict[str, object]:
    """Write both files into ``out_dir`` and return the metadata written to ``meta.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {"generator_version": GENERATOR_VERSION, "lines": lines, "seed": seed}
    files: dict[str, object] = {}
    makers: list[
        tuple[str, Callable[[random.Random, LineWriter, Clock], XoJournalGen | XensourceGen], int]
    ] = [
        (XO_FILE, XoJournalGen, 1),
        (XAPI_FILE, XensourceGen, 2),
    ]
    for name, cls, salt in makers:
        t0 = time.perf_counter()
        rng = random.Random(seed * 1000 + salt)
        path = out_dir / name
        sink = LineWriter(path)
        cls(rng, sink, Clock(START_EPOCH_S * 1000)).run(lines)
        n = sink.close()
        files[name] = {
            "lines": n,
            "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    meta["files"] = files
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    ap.add_argument("--lines", type=int, default=1_000_000, help="physical lines per file (default 1000000)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = ap.parse_args(argv)
    if args.lines < 1:
        ap.error("--lines must be positive")
    meta = generate(args.out, args.lines, args.seed)
    files = meta["files"]
    assert isinstance(files, dict)
    for name, info in files.items():
        mb = info["bytes"] / 1e6
        print(
            f"{args.out / name}: {info['lines']} lines, {mb:.1f} MB, {info['seconds']:.2f} s", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
