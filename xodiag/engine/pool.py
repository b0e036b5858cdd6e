"""A loopback XCP-ng 'pool' for the reference engine: real nbdkit hosts with TLS, and the faults.

- :class:`NbdHost`: one ``nbdkit`` serving a raw file read-only under the exact export name, with TLS and
  optional fault filters (error with a trigger file, delay, limit, no TLS). Started with ``Popen``
  (``-f --exit-with-parent -P pidfile``), stopped by its pid: SIGTERM, 2 s, SIGKILL, reap.
- :class:`FaultProxy`: an asyncio TCP proxy in front of an nbdkit that cuts (rst, fin), stalls or garbles
  a chosen connection at a protocol landmark (before/after STARTTLS, at the first NBD option inside TLS)
  or after N bytes server-to-client.
- :class:`Blackhole`: a 'dead' host (SYNs are dropped: the accept backlog is full) or a 'silent' one
  (accepts, never writes).
- :class:`Pool`: N hosts at 127.0.0.2, .3, ... on port 10809, their PKI, proxies and blackholes, and the
  ``VDI.get_nbd_info`` answer.

Everything listens on loopback only (127.0.0.0/8). See ../shared/domain/engine-notes.md sections 2, 3, 7, 8.

Pitfall: ``--exit-with-parent`` is ``PR_SET_PDEATHSIG``, which fires when the *thread* that started the
process exits. Start hosts from a long-lived thread (the main thread or the event-loop thread), not from a
short-lived worker.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from .pki import Pki, make_pki
from .tools import require

__all__ = [
    "DEFAULT_PORT",
    "PROXY_INTERNAL_PORT",
    "Blackhole",
    "FaultProxy",
    "HostError",
    "NbdHost",
    "Pool",
    "PoolHost",
    "ProxyEvent",
    "export_name",
    "is_listening",
    "nbd_uri",
]

DEFAULT_PORT = 10809
#: where the nbdkit behind a FaultProxy listens (same address as the proxy)
PROXY_INTERNAL_PORT = 20809

NBD_GREETING_LEN = 18  # NBDMAGIC + IHAVEOPT + 2 handshake flag bytes
NBD_STARTTLS_REPLY_LEN = 20  # option reply header for STARTTLS (ACK, 0 bytes of data)
NBD_OPT_EXPORT_NAME = 1
NBD_OPT_STARTTLS = 5
NBD_OPT_INFO = 6
NBD_OPT_GO = 7

CutAt = Literal["before-starttls", "after-starttls", "at-export-name", "after-bytes"]
Action = Literal["rst", "fin", "stall", "garble"]
HostMode = Literal["nbdkit", "refused", "dead", "silent"]

_CUT_POINTS = ("before-starttls", "after-starttls", "at-export-name", "after-bytes")
_ACTIONS = ("rst", "fin", "stall", "garble")
#: garble flips this many bytes, starting this far after the trigger point (for after-starttls that is
#: inside the ServerHello random, so the client's key schedule differs and the handshake fails)
GARBLE_SKIP = 11
GARBLE_LEN = 16


class HostError(RuntimeError):
    """An nbdkit host failed to start (its stderr tail is in the message)."""


def _check_loopback(address: str) -> None:
    ip = ipaddress.ip_address(address)
    if not (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("127.0.0.0/8")):
        raise ValueError(f"{address}: only loopback 127.0.0.0/8 addresses are allowed")


def export_name(vdi_uuid: str, session_ref: str) -> str:
    """The export name XAPI hands out: ``/<vdi-uuid>?session_id=OpaqueRef:<session>``."""
    ref = session_ref if session_ref.startswith("OpaqueRef:") else f"OpaqueRef:{session_ref}"
    return f"/{vdi_uuid}?session_id={ref}"


def nbd_uri(address: str, port: int, name: str, *, tls: bool = True, verify: bool = False) -> str:
    """An NBD URI for nbdinfo/nbdcopy; ``verify=False`` is XO's ``rejectUnauthorized: false``."""
    scheme = "nbds" if tls else "nbd"
    q = "?tls-verify-peer=false" if tls and not verify else ""
    return f"{scheme}://{address}:{port}/{urllib.parse.quote(name, safe='')}{q}"


def is_listening(address: str, port: int) -> bool:
    """Whether a TCP socket is in LISTEN on exactly ``address:port`` (reads /proc/net/tcp; no connect)."""
    want = f"{socket.htonl(int(ipaddress.IPv4Address(address))):08X}:{port:04X}"
    try:
        with open("/proc/net/tcp", encoding="ascii") as f:
            next(f, None)
            for line in f:
                parts = line.split()
                if len(parts) > 3 and parts[1] == want and parts[3] == "0A":
                    return True
    except OSError:
        pass
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------------------------- nbdkit


_LIVE_HOSTS: set[NbdHost] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:  # pragma: no cover - last-resort safety net
    with _LIVE_LOCK:
        hosts = list(_LIVE_HOSTS)
    for h in hosts:
        with contextlib.suppress(Exception):
            h.kill()


class NbdHost:
    """One nbdkit serving ``raw_path`` read-only on ``address:port`` under the export name ``exportname``.

    Fault options:
      - ``tls=False``: ``--tls=off`` (STARTTLS is refused with ERR_POLICY);
      - ``read_errors="100%"`` (or a float 0..1): ``--filter=error error=<errno> error-pread-rate=R
        error-pread-file=<trigger>``; errors happen only while the trigger file exists, see
        :meth:`trigger_errors` (``errors_armed=True`` creates it at start);
      - ``read_delay="20ms"``: ``--filter=delay rdelay=...``;
      - ``limit=N``: ``--filter=limit limit=N`` (client N+1 is closed at accept, before the greeting);
      - ``extra_filters``/``extra_params``: anything else (e.g. ``["ip"]``, ``["deny=all"]``).
    ``log=True`` puts ``--filter=log logfile=<workdir>/<name>.log`` first (the server's timeline).
    """

    def __init__(
        self,
        address: str,
        raw_path: Path | str,
        exportname: str,
        pki_dir: Path | str | None,
        workdir: Path | str,
        *,
        port: int = DEFAULT_PORT,
        name: str | None = None,
        tls: bool = True,
        log: bool = True,
        read_errors: str | float | None = None,
        error: str = "EIO",
        errors_armed: bool = False,
        read_delay: str | None = None,
        limit: int | None = None,
        extra_filters: Iterable[str] = (),
        extra_params: Iterable[str] = (),
        start_timeout: float = 10.0,
    ) -> None:
        _check_loopback(address)
        if tls and pki_dir is None:
            raise ValueError("tls=True needs pki_dir")
        self.address = address
        self.port = port
        self.raw_path = Path(raw_path)
        self.exportname = exportname
        self.pki_dir = Path(pki_dir) if pki_dir is not None else None
        self.workdir = Path(workdir)
        self.name = name or f"nbdkit-{address}-{port}"
        self.tls = tls
        self.start_timeout = start_timeout
        self.pidfile = self.workdir / f"{self.name}.pid"
        self.stderr_path = self.workdir / f"{self.name}.stderr"
        self.logfile: Path | None = self.workdir / f"{self.name}.log" if log else None
        self.trigger_file: Path | None = None
        self.errors_armed = errors_armed
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None

        filters: list[str] = []
        params: list[str] = []
        if self.logfile is not None:
            filters.append("--filter=log")
            params.append(f"logfile={self.logfile}")
        if limit is not None:
            filters.append("--filter=limit")
            params.append(f"limit={int(limit)}")
        if read_delay is not None:
            filters.append("--filter=delay")
            params.append(f"rdelay={read_delay}")
        if read_errors is not None:
            rate = read_errors if isinstance(read_errors, str) else f"{float(read_errors):.6f}"
            self.trigger_file = self.workdir / f"{self.name}.errors-on"
            filters.append("--filter=error")
            params += [f"error={error}", f"error-pread-rate={rate}", f"error-pread-file={self.trigger_file}"]
        filters += [f if f.startswith("--filter=") else f"--filter={f}" for f in extra_filters]
        params += list(extra_params)
        tls_args = ["--tls=require", "--tls-certificates", str(self.pki_dir)] if tls else ["--tls=off"]
        self.argv: list[str] = [
            "nbdkit", "-f", "--exit-with-parent", "-P", str(self.pidfile),
            "-i", address, "-p", str(port), "-r", *tls_args,
            *filters, "--filter=exportname",
            "file", f"file={self.raw_path}",
            f"exportname={exportname}", "exportname-strict=true", "exportname-list=explicit",
            *params,
        ]  # fmt: skip

    # -- lifecycle
    @property
    def pid(self) -> int | None:
        """The nbdkit pid (kept after it exits, for checks)."""
        return self._pid

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self) -> Self:
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        require("nbdkit")
        if not self.raw_path.is_file():
            raise FileNotFoundError(self.raw_path)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        if self.trigger_file is not None:
            self.trigger_errors(self.errors_armed)
        with open(self.stderr_path, "ab") as err:
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        self._pid = self._proc.pid
        with _LIVE_LOCK:
            _LIVE_HOSTS.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        # nbdkit writes the pidfile after bind()+listen(); it can exist and still be empty for a moment.
        # Readiness is checked in /proc/net/tcp, not by connecting: a probe would be a client connection
        # (it would show in the log filter and take a slot of the limit filter).
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            rc = self._proc.poll()
            if rc is not None:
                raise HostError(f"{self.name} exited with rc {rc} at start: {self.stderr_tail()}")
            try:
                ready = self.pidfile.read_text().strip() != ""
            except FileNotFoundError:
                ready = False
            if ready and is_listening(self.address, self.port):
                return
            if time.monotonic() > deadline:
                raise HostError(f"{self.name} not ready after {self.start_timeout} s: {self.stderr_tail()}")
            time.sleep(0.005)

    def stderr_tail(self, lines: int = 3) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no stderr)"
        return " | ".join(text[-lines:]) or "(empty stderr)"

    def stop(self, grace: float = 2.0) -> int | None:
        """SIGTERM (plus SIGCONT in case it is paused), wait ``grace`` s, SIGKILL, reap. Returns the rc.

        nbdkit does not exit on SIGTERM while clients are connected, hence the SIGKILL.
        """
        p = self._proc
        if p is None:
            return None
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
                p.send_signal(signal.SIGCONT)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                p.wait()
        self._forget()
        return p.returncode

    def kill(self) -> int | None:
        """SIGKILL now (the host dies mid-transfer; its listener goes too: later connects are refused)."""
        p = self._proc
        if p is None:
            return None
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
        p.wait()
        self._forget()
        return p.returncode

    def _forget(self) -> None:
        with _LIVE_LOCK:
            _LIVE_HOSTS.discard(self)
        self.pidfile.unlink(missing_ok=True)

    def pause(self) -> None:
        """SIGSTOP: the host hangs (connects still complete in the kernel, nothing is answered)."""
        if self.alive:
            assert self._proc is not None
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.alive:
            assert self._proc is not None
            self._proc.send_signal(signal.SIGCONT)

    def trigger_errors(self, on: bool) -> None:
        """Create (``on``) or remove the error filter's trigger file; reads fail only while it exists."""
        if self.trigger_file is None:
            raise RuntimeError(f"{self.name} was started without read_errors")
        if on:
            self.trigger_file.touch()
        else:
            self.trigger_file.unlink(missing_ok=True)
        self.errors_armed = on

    def uri(self, *, verify: bool = False) -> str:
        return nbd_uri(self.address, self.port, self.exportname, tls=self.tls, verify=verify)

    def log_lines(self) -> list[str]:
        """The log filter's lines so far (the server's view of the run)."""
        if self.logfile is None or not self.logfile.exists():
            return []
        return self.logfile.read_text(errors="replace").splitlines()

    def __repr__(self) -> str:
        return f"NbdHost({self.address}:{self.port}, pid={self._pid}, alive={self.alive})"


# ----------------------------------------------------------------------------------------------- proxy


@dataclass(frozen=True)
class ProxyEvent:
    t: float  # time.monotonic()
    conn: int  # 1-based accept order
    event: str  # accept, upstream-failed, fault, client-eof, server-eof, closed
    detail: str = ""


class _C2SParser:
    """Finds the client's first NBD option (EXPORT_NAME/GO/INFO) in the client-to-server byte stream.

    Plaintext: 4 client-flag bytes, then options (16-byte header + data). After NBD_OPT_STARTTLS the stream
    is TLS records (5-byte headers). The first option inside TLS is the first application-data record after
    the client's Finished, i.e. the record after the one that follows the client's ChangeCipherSpec, or (no
    CCS, TLS 1.3) the second application-data record. ``at_record=N`` overrides it: the N-th TLS record
    (engine-notes: 4 = ClientHello, CCS, Finished, first option).
    """

    MAX_RECORDS = 64

    def __init__(self, at_record: int | None) -> None:
        self.at_record = at_record
        self.base = 0  # absolute offset of the next byte fed
        self.phase = "flags"  # flags, opt, tls, done
        self.need = 4
        self.hdr = bytearray()
        self.item_start = 0
        self.skip = 0
        self.records = 0
        self.after_ccs = False
        self.finished = False

    def feed(self, data: bytes) -> int | None:
        """Index in ``data`` where the target item starts (0 if it started in an earlier chunk), or None."""
        i, n, base = 0, len(data), self.base
        self.base += n
        while i < n and self.phase != "done":
            if self.skip:
                k = min(self.skip, n - i)
                self.skip -= k
                i += k
                continue
            if not self.hdr:
                self.item_start = base + i
            k = min(self.need - len(self.hdr), n - i)
            self.hdr += data[i : i + k]
            i += k
            if len(self.hdr) < self.need:
                break
            hdr, self.hdr = bytes(self.hdr), bytearray()
            if self._item(hdr):
                self.phase = "done"
                return max(0, self.item_start - base)
        return None

    def _item(self, hdr: bytes) -> bool:
        if self.phase == "flags":
            self.phase, self.need = "opt", 16
            return False
        if self.phase == "opt":
            _magic, opt, length = struct.unpack(">QII", hdr)
            if opt in (NBD_OPT_EXPORT_NAME, NBD_OPT_GO, NBD_OPT_INFO):
                return True  # plaintext option (server without TLS)
            self.skip = length
            if opt == NBD_OPT_STARTTLS:
                self.phase, self.need = "tls", 5
            return False
        # TLS record
        ctype, _ver, length = struct.unpack(">BHH", hdr)
        self.skip = length
        self.records += 1
        if self.records > self.MAX_RECORDS:
            self.phase = "done"
            return False
        if self.at_record is not None:
            return self.records == self.at_record
        if self.finished and ctype == 23:
            return True
        if self.after_ccs:
            self.finished = True
        elif ctype == 23:
            self.finished = True
        self.after_ccs = ctype == 20
        return False


@dataclass
class _Conn:
    k: int
    armed: bool
    cr: asyncio.StreamReader
    cw: asyncio.StreamWriter
    ur: asyncio.StreamReader | None = None
    uw: asyncio.StreamWriter | None = None
    fired: bool = False
    stalled: bool = False
    s2c: int = 0
    c2s: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    """A TCP proxy on ``address:port`` forwarding to ``target_address:target_port`` (the real nbdkit).

    Fault (applied to connection ``conn`` in accept order, 1-based, or to every connection if None):
      - ``at="before-starttls"``: server-to-client byte 18, i.e. after the greeting is forwarded, when the
        STARTTLS reply arrives;
      - ``at="after-starttls"``: s2c byte 38, after the 20-byte STARTTLS reply, at the ServerHello;
      - ``at="at-export-name"``: at the client's first NBD option (inside TLS: the first application-data
        record after the client's Finished; ``at_record=N`` picks the N-th TLS record instead);
      - ``at="after-bytes"`` with ``after_bytes=N``: after N bytes server-to-client (mid-transfer).
    ``action``: ``rst`` (SO_LINGER 0 + abort: ECONNRESET; under TLS Python's ssl reports it as SSLEOFError,
    gnutls as "Error in the pull function"), ``fin`` (EOF; under TLS a non-properly-terminated one), ``stall``
    (stop forwarding, keep both sockets open until the client goes or the proxy stops), ``garble`` (flip
    16 bytes starting 11 bytes after the trigger and keep forwarding: at after-starttls the ServerHello
    random is corrupted and the TLS handshake fails).
    Bytes before the trigger point are forwarded and flushed before the action. ``at=None`` forwards only.
    Use it from the engine's event loop: ``await proxy.start()`` ... ``await proxy.stop()``.
    """

    def __init__(
        self,
        address: str,
        port: int = DEFAULT_PORT,
        target_address: str | None = None,
        target_port: int = PROXY_INTERNAL_PORT,
        *,
        at: CutAt | None = None,
        action: Action = "rst",
        conn: int | None = None,
        after_bytes: int | None = None,
        at_record: int | None = None,
        chunk: int = 256 * 1024,
    ) -> None:
        _check_loopback(address)
        self.address = address
        self.port = port
        self.target_address = target_address or address
        _check_loopback(self.target_address)
        self.target_port = target_port
        self.chunk = chunk
        self.configure(at=at, action=action, conn=conn, after_bytes=after_bytes, at_record=at_record)
        self.events: list[ProxyEvent] = []
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._conns: dict[int, _Conn] = {}

    def configure(
        self,
        *,
        at: CutAt | None,
        action: Action = "rst",
        conn: int | None = None,
        after_bytes: int | None = None,
        at_record: int | None = None,
    ) -> None:
        """Set the fault for connections accepted from now on."""
        if at is not None and at not in _CUT_POINTS:
            raise ValueError(f"at must be one of {_CUT_POINTS}, not {at!r}")
        if action not in _ACTIONS:
            raise ValueError(f"action must be one of {_ACTIONS}, not {action!r}")
        if at == "after-bytes" and (after_bytes is None or after_bytes < 0):
            raise ValueError("at='after-bytes' needs after_bytes >= 0")
        self.at = at
        self.action = action
        self.conn = conn
        self.after_bytes = after_bytes
        self.at_record = at_record

    def _s2c_trigger(self) -> int | None:
        if self.at == "before-starttls":
            return NBD_GREETING_LEN
        if self.at == "after-starttls":
            return NBD_GREETING_LEN + NBD_STARTTLS_REPLY_LEN
        if self.at == "after-bytes":
            return self.after_bytes
        return None

    @property
    def fired(self) -> list[int]:
        """Connections on which the fault fired."""
        return [e.conn for e in self.events if e.event == "fault"]

    def _ev(self, k: int, event: str, detail: str = "") -> None:
        self.events.append(ProxyEvent(time.monotonic(), k, event, detail))

    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._handle, self.address, self.port, reuse_address=True)
        return self

    async def stop(self) -> None:
        srv, self._server = self._server, None
        if srv is not None:
            srv.close()
        for c in list(self._conns.values()):
            self._abort(c)
            for t in c.tasks:
                t.cancel()
        tasks = [t for c in list(self._conns.values()) for t in c.tasks]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if srv is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 2)

    def close_now(self) -> None:
        """Synchronous best effort: close the listener and abort every connection (from the loop's thread)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for c in list(self._conns.values()):
            self._abort(c)
            for t in c.tasks:
                t.cancel()

    @property
    def listening(self) -> bool:
        return self._server is not None

    # -- per connection
    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        self.accepted += 1
        k = self.accepted
        c = _Conn(k=k, armed=self.at is not None and (self.conn is None or self.conn == k), cr=cr, cw=cw)
        self._conns[k] = c
        self._ev(k, "accept", str(cw.get_extra_info("peername")))
        try:
            try:
                c.ur, c.uw = await asyncio.open_connection(self.target_address, self.target_port)
            except OSError as e:
                self._ev(k, "upstream-failed", repr(e))
                self._abort(c)
                return
            # fault settings are captured per connection
            s2c_at = self._s2c_trigger() if c.armed else None
            parser = _C2SParser(self.at_record) if c.armed and self.at == "at-export-name" else None
            c.tasks = [
                asyncio.ensure_future(self._pump_s2c(c, s2c_at, self.action)),
                asyncio.ensure_future(self._pump_c2s(c, parser, self.action)),
            ]
            await asyncio.gather(*c.tasks, return_exceptions=True)
        finally:
            self._abort(c, rst=False)
            self._conns.pop(k, None)
            self._ev(k, "closed", f"s2c={c.s2c} c2s={c.c2s}")

    async def _pump_s2c(self, c: _Conn, trigger: int | None, action: Action) -> None:
        assert c.ur is not None
        garble = (trigger + GARBLE_SKIP, trigger + GARBLE_SKIP + GARBLE_LEN) if trigger is not None else None
        try:
            while True:
                data = await c.ur.read(self.chunk)
                if not data:
                    if not c.fired:
                        self._ev(c.k, "server-eof")
                    if not c.stalled:
                        with contextlib.suppress(Exception):
                            c.cw.write_eof()
                    return
                if c.stalled:
                    continue  # stall: swallow
                off = c.s2c
                if trigger is not None and action == "garble" and garble is not None:
                    data = self._garble(data, off, garble, c, "s2c")
                elif trigger is not None and not c.fired and off <= trigger < off + len(data):
                    cut = trigger - off
                    if cut:
                        c.cw.write(data[:cut])
                        c.s2c += cut
                    await self._fire(c, action, f"s2c byte {trigger}")
                    if action != "stall":
                        return
                    continue
                c.cw.write(data)
                c.s2c += len(data)
                await c.cw.drain()
        except (OSError, asyncio.IncompleteReadError):
            self._abort(c)

    async def _pump_c2s(self, c: _Conn, parser: _C2SParser | None, action: Action) -> None:
        assert c.uw is not None
        try:
            while True:
                data = await c.cr.read(self.chunk)
                if not data:
                    if not (c.fired and action == "rst"):
                        self._ev(c.k, "client-eof")
                    if c.fired and not c.stalled:
                        return
                    if c.stalled:
                        self._abort(c, rst=False)
                        return
                    with contextlib.suppress(Exception):
                        c.uw.write_eof()
                    return
                if c.stalled or (c.fired and action in ("rst", "fin")):
                    continue  # after a fin: wait for the client to close; stall: swallow
                if parser is not None and not c.fired:
                    idx = parser.feed(data)
                    if idx is not None:
                        if action == "garble":
                            span = (c.c2s + idx + GARBLE_SKIP, c.c2s + idx + GARBLE_SKIP + GARBLE_LEN)
                            c.fired = True
                            self._ev(c.k, "fault", f"garble c2s at option byte {c.c2s + idx}")
                            data = self._garble(data, c.c2s, span, c, "c2s", log=False)
                        else:
                            if idx:
                                c.uw.write(data[:idx])
                                c.c2s += idx
                            await self._fire(c, action, f"c2s byte {c.c2s} (first NBD option)")
                            continue
                c.uw.write(data)
                c.c2s += len(data)
                await c.uw.drain()
        except (OSError, asyncio.IncompleteReadError):
            self._abort(c)

    def _garble(
        self, data: bytes, off: int, span: tuple[int, int], c: _Conn, direction: str, *, log: bool = True
    ) -> bytes:
        lo, hi = max(span[0], off), min(span[1], off + len(data))
        if lo >= hi:
            return data
        if log and not c.fired:
            c.fired = True
            self._ev(c.k, "fault", f"garble {direction} bytes {span[0]}..{span[1]}")
        b = bytearray(data)
        for j in range(lo - off, hi - off):
            b[j] ^= 0xFF
        return bytes(b)

    async def _fire(self, c: _Conn, action: Action, where: str) -> None:
        c.fired = True
        self._ev(c.k, "fault", f"{action} at {where}")
        # make sure the bytes before the trigger have left the proxy before acting
        for w in (c.cw, c.uw):
            if w is not None and not w.transport.is_closing():
                w.transport.set_write_buffer_limits(high=0)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(w.drain(), 5)
        if action == "stall":
            c.stalled = True
        elif action == "rst":
            self._abort(c)
        elif action == "fin":
            with contextlib.suppress(Exception):
                c.cw.write_eof()
            if c.uw is not None:
                c.uw.transport.abort()

    def _abort(self, c: _Conn, *, rst: bool = True) -> None:
        """Close both sides; with ``rst`` the client gets a RST (SO_LINGER 0)."""
        for w, hard in ((c.cw, rst), (c.uw, True)):
            if w is None or w.transport.is_closing():
                continue
            if hard:
                sock = w.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                w.transport.abort()
            else:
                w.close()


# ----------------------------------------------------------------------------------------------- blackhole


class Blackhole:
    """A host that never answers NBD.

    - ``mode="dead"``: ``listen(0)``, never accept, and filler connections until the accept queue is full;
      later SYNs are dropped (tcp_abort_on_overflow=0), so a client's connect hangs until its own timeout.
    - ``mode="silent"``: accepts (in a thread) and holds every connection open, never writes; reads are
      discarded. A client connects and then waits for a greeting that never comes.
    """

    def __init__(self, address: str, port: int = DEFAULT_PORT, mode: Literal["dead", "silent"] = "dead") -> None:
        _check_loopback(address)
        if mode not in ("dead", "silent"):
            raise ValueError(f"mode must be dead or silent, not {mode!r}")
        self.address = address
        self.port = port
        self.mode = mode
        self.accepted = 0
        self._lsock: socket.socket | None = None
        self._fillers: list[socket.socket] = []
        self._held: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> Self:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            ls.bind((self.address, self.port))
            ls.listen(0 if self.mode == "dead" else 64)
        except OSError:
            ls.close()
            raise
        self._lsock = ls
        if self.mode == "dead":
            self._fill()
        else:
            self._thread = threading.Thread(target=self._serve, name=f"blackhole-{self.address}", daemon=True)
            self._thread.start()
        return self

    def _fill(self) -> None:
        for _ in range(16):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.25)
            try:
                s.connect((self.address, self.port))
            except (TimeoutError, OSError):
                s.close()  # this one was not answered: the queue is full
                return
            self._fillers.append(s)
        raise RuntimeError(f"blackhole {self.address}:{self.port}: the accept queue never filled")

    def _serve(self) -> None:
        import selectors

        assert self._lsock is not None
        sel = selectors.DefaultSelector()
        self._lsock.setblocking(False)
        sel.register(self._lsock, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._lsock:
                        try:
                            conn, _addr = sock.accept()
                        except OSError:
                            continue
                        conn.setblocking(False)
                        self.accepted += 1
                        self._held.append(conn)
                        sel.register(conn, selectors.EVENT_READ)
                    else:
                        try:
                            data = sock.recv(65536)
                        except BlockingIOError:
                            continue
                        except OSError:
                            data = b""
                        if not data:
                            sel.unregister(sock)
                            sock.close()
                            self._held.remove(sock)
        finally:
            sel.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for s in [*self._fillers, *self._held]:
            s.close()
        self._fillers.clear()
        self._held.clear()
        if self._lsock is not None:
            self._lsock.close()
            self._lsock = None


# ----------------------------------------------------------------------------------------------- pool


_HOST_OPTION_KEYS = {
    "mode", "tls", "exportname", "read_errors", "error", "errors_armed", "read_delay", "limit",
    "extra_filters", "extra_params", "log", "proxy",
}  # fmt: skip
_PROXY_OPTION_KEYS = {"at", "action", "conn", "after_bytes", "at_record"}


@dataclass
class PoolHost:
    index: int  # 0-based; host i is at 127.0.0.(2+i) by default
    address: str
    port: int
    mode: HostMode
    options: dict[str, Any]
    nbd: NbdHost | None = None
    proxy: FaultProxy | None = None
    blackhole: Blackhole | None = None


class _LoopThread:
    """A private event loop in a daemon thread, for FaultProxies of a Pool used synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="xodiag-pool-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 15.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class Pool:
    """N loopback 'hosts' serving one VDI over NBD+TLS, with per-host faults.

    ``host_options`` maps a 0-based host index to options:
      - ``mode``: ``nbdkit`` (default), ``refused`` (nothing listens), ``dead``, ``silent`` (see Blackhole);
      - nbdkit options (see NbdHost): ``tls``, ``exportname`` (serve another name: the pool's is rejected),
        ``read_errors``, ``error``, ``errors_armed``, ``read_delay``, ``limit``, ``extra_filters``,
        ``extra_params``, ``log``;
      - ``proxy``: FaultProxy options (``at``, ``action``, ``conn``, ``after_bytes``, ``at_record``); the
        nbdkit then listens on the same address, port 20809, and the proxy takes the public port.
    ``tmpdir`` is the pool's own working directory (created; removed by close()), so it must not hold
    ``raw_path``. Sync use: ``with Pool(...) as pool`` (proxies run in a private loop thread). Async use:
    ``async with Pool(...) as pool`` (proxies run in the caller's loop).
    """

    def __init__(
        self,
        tmpdir: Path | str,
        *,
        hosts: int = 2,
        raw_path: Path | str,
        vdi_uuid: str | None = None,
        session_ref: str | None = None,
        host_options: dict[int, dict[str, Any]] | None = None,
        addresses: list[str] | None = None,
        port: int = DEFAULT_PORT,
        pki: Pki | None = None,
        log: bool = True,
        subject: str = "xodiag-host",
    ) -> None:
        if hosts < 1:
            raise ValueError("hosts must be >= 1")
        self.dir = Path(tmpdir).resolve()
        self.raw_path = Path(raw_path).resolve()
        if self.raw_path.is_relative_to(self.dir):
            raise ValueError(f"raw_path {self.raw_path} is inside the pool's tmpdir, which close() removes")
        self.vdi_uuid = vdi_uuid or str(uuid.uuid4())
        self.session_ref = session_ref or f"OpaqueRef:{uuid.uuid4()}"
        self.exportname = export_name(self.vdi_uuid, self.session_ref)
        self.port = port
        addrs = addresses or [f"127.0.0.{2 + i}" for i in range(hosts)]
        if len(addrs) != hosts:
            raise ValueError(f"{hosts} hosts but {len(addrs)} addresses")
        for a in addrs:
            _check_loopback(a)
        options = host_options or {}
        for i, opts in options.items():
            if not 0 <= i < hosts:
                raise ValueError(f"host_options: no host {i} (hosts are 0..{hosts - 1})")
            unknown = set(opts) - _HOST_OPTION_KEYS
            if unknown:
                raise ValueError(f"host_options[{i}]: unknown option(s) {sorted(unknown)}")
            if set(opts.get("proxy") or {}) - _PROXY_OPTION_KEYS:
                raise ValueError(f"host_options[{i}]['proxy']: unknown option(s)")
            if opts.get("mode", "nbdkit") not in ("nbdkit", "refused", "dead", "silent"):
                raise ValueError(f"host_options[{i}]: bad mode {opts['mode']!r}")
        self.hosts: list[PoolHost] = [
            PoolHost(i, a, port, options.get(i, {}).get("mode", "nbdkit"), dict(options.get(i, {})))
            for i, a in enumerate(addrs)
        ]
        self._given_pki = pki
        self.pki: Pki | None = pki
        self.log = log
        self.subject = subject
        self._loop_thread: _LoopThread | None = None
        self._proxy_loop: asyncio.AbstractEventLoop | None = None
        self._pids: list[int] = []
        self._started = False
        self._closed = False
        self._closed_proxies = False

    # -- start
    def _start_processes(self) -> None:
        require("nbdkit", "certtool")
        if not self.raw_path.is_file():
            raise FileNotFoundError(self.raw_path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._started = True
        if self.pki is None:
            self.pki = make_pki(self.dir / "pki", [h.address for h in self.hosts], cn=self.subject)
        missing = [h.address for h in self.hosts if h.address not in self.pki.addresses]
        if missing:
            raise ValueError(f"the PKI does not cover {missing}")
        for h in self.hosts:
            o = h.options
            if h.mode == "refused":
                continue
            if h.mode in ("dead", "silent"):
                h.blackhole = Blackhole(h.address, h.port, "dead" if h.mode == "dead" else "silent").start()
                continue
            inner_port = PROXY_INTERNAL_PORT if o.get("proxy") is not None else h.port
            h.nbd = NbdHost(
                h.address,
                self.raw_path,
                o.get("exportname", self.exportname),
                self.pki.dir,
                self.dir,
                port=inner_port,
                name=f"h{h.index + 1}",
                tls=o.get("tls", True),
                log=o.get("log", self.log),
                read_errors=o.get("read_errors"),
                error=o.get("error", "EIO"),
                errors_armed=o.get("errors_armed", False),
                read_delay=o.get("read_delay"),
                limit=o.get("limit"),
                extra_filters=o.get("extra_filters", ()),
                extra_params=o.get("extra_params", ()),
            )
            try:
                h.nbd.start()
            finally:
                if h.nbd.pid is not None:
                    self._pids.append(h.nbd.pid)
            if o.get("proxy") is not None:
                h.proxy = FaultProxy(h.address, h.port, h.address, inner_port, **o["proxy"])

    def start(self) -> Self:
        """Start everything; FaultProxies run in a private event-loop thread."""
        try:
            self._start_processes()
            if any(h.proxy for h in self.hosts):
                self._loop_thread = _LoopThread()
                self._proxy_loop = self._loop_thread.loop
                for h in self.hosts:
                    if h.proxy is not None:
                        self._loop_thread.run(h.proxy.start())
        except BaseException:
            self.close()
            raise
        return self

    async def astart(self) -> Self:
        """Start everything; FaultProxies run in the current event loop."""
        try:
            self._start_processes()
            self._proxy_loop = asyncio.get_running_loop()
            for h in self.hosts:
                if h.proxy is not None:
                    await h.proxy.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    # -- queries
    def nbd_info(self) -> list[dict[str, Any]]:
        """What ``VDI.get_nbd_info`` returns for this VDI: one entry per host (faulty hosts included)."""
        assert self.pki is not None, "start the pool first"
        return [
            {
                "address": h.address,
                "port": h.port,
                "exportname": self.exportname,
                "cert": self.pki.server_cert_pem,
                "subject": self.pki.subject,
            }
            for h in self.hosts
        ]

    def host(self, i: int) -> PoolHost:
        return self.hosts[i]

    def nbd(self, i: int) -> NbdHost:
        h = self.hosts[i].nbd
        if h is None:
            raise ValueError(f"host {i} has no nbdkit (mode {self.hosts[i].mode})")
        return h

    def uri(self, i: int, *, name: str | None = None) -> str:
        """nbds:// URI of host ``i``'s public address (through its proxy if any), for nbdinfo/nbdcopy."""
        h = self.hosts[i]
        tls = h.options.get("tls", True)
        return nbd_uri(h.address, h.port, name if name is not None else self.exportname, tls=tls)

    def pids(self) -> list[int]:
        """Every process this pool started (also the ones already stopped or killed)."""
        return list(self._pids)

    def live_pids(self) -> list[int]:
        return [p for p in self._pids if _pid_alive(p)]

    # -- stop
    def _stop_processes(self) -> None:
        errors: list[BaseException] = []
        for h in self.hosts:
            for fn in (
                (h.blackhole.stop if h.blackhole else None),
                (h.nbd.stop if h.nbd else None),
            ):
                if fn is None:
                    continue
                try:
                    fn()
                except Exception as e:  # keep going: everything must be stopped
                    errors.append(e)
        shutil.rmtree(self.dir, ignore_errors=True)
        self._closed = True
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Stop every proxy, blackhole and nbdkit (by pid) and remove the tmpdir. Idempotent."""
        if self._closed:
            return
        proxies = [h.proxy for h in self.hosts if h.proxy is not None]
        if self._loop_thread is not None:
            for p in proxies:
                with contextlib.suppress(Exception):
                    self._loop_thread.run(p.stop(), timeout=5)
            self._loop_thread.close()
            self._loop_thread = None
        elif not self._closed_proxies:
            for p in proxies:
                with contextlib.suppress(Exception):
                    p.close_now()
        if self._started or self.dir.exists():
            self._stop_processes()
        self._closed = True

    async def aclose(self) -> None:
        if self._closed:
            return
        if self._loop_thread is None:
            for h in self.hosts:
                if h.proxy is not None:
                    with contextlib.suppress(Exception):
                        await h.proxy.stop()
            self._closed_proxies = True
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
