"""NbdClient against real nbdkit servers on 127.0.0.2 (no mocks).

Every test starts its own nbdkit (``-f --exit-with-parent -P pidfile``) on a free port and stops it by pid in
the fixture's finaliser (terminate, wait 2 s, kill). Reference bytes come from ``nbdcopy`` reading the same
server, from the file the ``file`` plugin serves, or from the ``pattern`` plugin's definition (each 8-byte
word is its own offset, big-endian).
"""

from __future__ import annotations

import asyncio
import hashlib
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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from xodiag.engine.nbd_client import NbdClient, NbdError

for _tool in ("nbdkit", "certtool"):
    if shutil.which(_tool) is None:
        pytest.skip(f"{_tool} is not installed (apt-get install nbdkit gnutls-bin)", allow_module_level=True)

HOST = "127.0.0.2"
MiB = 1 << 20
ODD_SIZE = 3 * MiB + 12345  # not a multiple of the read size: the last read is short
T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def new_exportname() -> str:
    return f"/{uuid.uuid4()}?session_id=OpaqueRef:{uuid.uuid4()}"


def pattern_bytes(offset: int, length: int) -> bytes:
    """What nbdkit's pattern plugin serves: every aligned 8-byte word holds its own offset, big-endian."""
    start = offset & ~7
    end = offset + length
    words = b"".join(struct.pack(">Q", o) for o in range(start, end + 7 & ~7, 8))
    return words[offset - start:offset - start + length]


# -- servers ----------------------------------------------------------------------------------------
@dataclass
class Server:
    port: int
    pid: int
    proc: subprocess.Popen[bytes]
    exportname: str
    log: Path
    tls: str
    pki: Path | None = None

    def uri(self) -> str:
        enc = urllib.parse.quote(self.exportname, safe="")
        if self.tls == "off":
            return f"nbd://{HOST}:{self.port}/{enc}"
        return f"nbds://{HOST}:{self.port}/{enc}?tls-certificates={self.pki}"

    def client(self, **kw: Any) -> NbdClient:
        kw.setdefault("tls", self.tls != "off")
        kw.setdefault("connect_timeout", 10.0)
        kw.setdefault("message_timeout", 10.0)
        return NbdClient(HOST, self.port, kw.pop("exportname", self.exportname), **kw)


@dataclass
class Servers:
    tmp: Path
    pki_dir: Path
    started: list[Server] = field(default_factory=list)

    def start(self, *plugin: str, tls: str = "off", filters: tuple[str, ...] = (), exportname: str | None = None,
              extra: tuple[str, ...] = (), strict_export: bool = True, psk: Path | None = None) -> Server:
        """nbdkit [extra] [tls] [filters] --filter=exportname PLUGIN... exportname=... exportname-strict=true.

        ``tls`` is nbdkit's --tls (off, on, require) with the x509 certificates, or with ``psk`` keys instead.
        """
        port = free_port()
        n = len(self.started)
        pidfile = self.tmp / f"nbdkit-{n}.pid"
        log = self.tmp / f"nbdkit-{n}.stderr"
        name = exportname or new_exportname()
        tls_args = ["--tls=off"] if tls == "off" else [f"--tls={tls}", f"--tls-certificates={self.pki_dir}"]
        if psk is not None:
            tls_args = [f"--tls={tls}", f"--tls-psk={psk}"]
        export_args = ["--filter=exportname", *plugin, f"exportname={name}"]
        if strict_export:
            export_args.append("exportname-strict=true")
        cmd = ["nbdkit", "-f", "--exit-with-parent", "-P", str(pidfile), "-i", HOST, "-p", str(port), "-r",
               *extra, *tls_args, *(f"--filter={f}" for f in filters), *export_args]
        with open(log, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text().strip()):
            if proc.poll() is not None:
                pytest.fail(f"nbdkit exited with {proc.returncode}: {log.read_text(errors='replace').strip()}")
            if time.monotonic() > deadline:
                self._stop(proc)
                pytest.fail("nbdkit did not write its pidfile within 10 s")
            time.sleep(0.01)
        server = Server(port, int(pidfile.read_text()), proc, name, log, tls, self.pki_dir)
        self.started.append(server)
        return server

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for s in self.started:
            self._stop(s.proc)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a server certificate for 127.0.0.2, made with certtool (engine-notes.md section 2)."""
    d = tmp_path_factory.mktemp("pki")

    def certtool(*args: str, out: str | None = None) -> None:
        with open(d / out, "wb") if out else open(os.devnull, "wb") as f:
            subprocess.run(["certtool", *args], cwd=d, check=True, stdout=f, stderr=subprocess.DEVNULL, timeout=60)

    certtool("--generate-privkey", out="ca-key.pem")
    (d / "ca.info").write_text("cn = xodiag test CA\nca\ncert_signing_key\nexpiration_days = 3650\n")
    certtool("--generate-self-signed", "--load-privkey", "ca-key.pem", "--template", "ca.info",
             "--outfile", "ca-cert.pem")
    certtool("--generate-privkey", out="server-key.pem")
    (d / "server.info").write_text("cn = host1\nip_address = 127.0.0.2\nip_address = 127.0.0.3\n"
                                   "dns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\n"
                                   "expiration_days = 3650\n")
    certtool("--generate-certificate", "--load-ca-certificate", "ca-cert.pem", "--load-ca-privkey", "ca-key.pem",
             "--load-privkey", "server-key.pem", "--template", "server.info", "--outfile", "server-cert.pem")
    return d


@pytest.fixture
def servers(tmp_path: Path, pki: Path) -> Iterator[Servers]:
    s = Servers(tmp_path, pki)
    try:
        yield s
    finally:
        s.stop_all()


async def read_all(client: NbdClient, block: int = MiB, inflight: int = 3, reuse: bool = False) -> bytes:
    """The whole export, ``inflight`` reads at a time (gathered), with fresh or reused buffers."""
    out = bytearray(client.size)
    bufs = [bytearray(block) for _ in range(inflight)] if reuse else None
    offsets = list(range(0, client.size, block))
    for i in range(0, len(offsets), inflight):
        batch = offsets[i:i + inflight]
        views = await asyncio.gather(*(
            client.read(o, min(block, client.size - o), buf=bufs[k] if bufs else None) for k, o in enumerate(batch)
        ))
        for o, v in zip(batch, views, strict=True):
            out[o:o + len(v)] = v
    return bytes(out)


def nbdcopy_bytes(server: Server, tmp: Path) -> bytes:
    if shutil.which("nbdcopy") is None:
        pytest.skip("nbdcopy is not installed (apt-get install libnbd-bin)")
    out = tmp / f"nbdcopy-{server.port}.raw"
    subprocess.run(["nbdcopy", server.uri(), str(out)], check=True, timeout=60, capture_output=True)
    return out.read_bytes()


def sha(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def connect_error(make: Callable[[], NbdClient]) -> NbdError:
    """connect() must fail: return its error (the client is aborted afterwards). The client is made inside
    the event loop, as the engine makes it."""

    async def go() -> NbdError:
        c = make()
        try:
            with pytest.raises(NbdError) as ei:
                await c.connect()
            return ei.value
        finally:
            c.abort()

    return run(go())


# -- data -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tls", ["off", "require"])
@pytest.mark.parametrize("plugin", [
    ("memory", f"size={ODD_SIZE}"),
    ("pattern", f"size={ODD_SIZE}"),
    ("random", f"size={ODD_SIZE}", "seed=7"),
])

def test_export_name_read_matches_nbdcopy(servers: Servers, tmp_path: Path, tls: str, plugin: tuple[str, ...]) -> None:
    server = servers.start(*plugin, tls=tls)
    expected = nbdcopy_bytes(server, tmp_path)
    assert len(expected) == ODD_SIZE

    async def go() -> bytes:
        c = server.client()
        await c.connect()
        try:
            assert c.connected and c.size == ODD_SIZE
            return await read_all(c, block=MiB, inflight=3)
        finally:
            await c.disconnect()
            assert not c.connected

    got = run(go())
    assert sha(got) == sha(expected)
    if plugin[0] == "pattern":
        assert got == pattern_bytes(0, ODD_SIZE)


@pytest.mark.parametrize("use_go", [False, True], ids=["export-name", "go"])
@pytest.mark.parametrize("tls", ["off", "require"])
def test_file_export_matches_file(servers: Servers, pki: Path, tmp_path: Path, tls: str, use_go: bool) -> None:
    disk = tmp_path / "disk.raw"
    disk.write_bytes(os.urandom(5 * MiB + 4096 + 17))
    server = servers.start("file", str(disk), tls=tls)
    cert = (pki / "server-cert.pem").read_text()  # what VDI.get_nbd_info gives XO; kept, not verified

    async def go() -> bytes:
        c = server.client(use_go=use_go, cert=cert)
        await c.connect()
        try:
            assert c.size == disk.stat().st_size
            return await read_all(c, block=2 * MiB, inflight=2, reuse=True)
        finally:
            await c.disconnect()

    assert sha(run(go())) == sha(disk.read_bytes())


def test_concurrent_reads_land_at_their_offsets(servers: Servers) -> None:
    server = servers.start("pattern", "size=64M", tls="require")
    ranges = [(0, 1), (7, 9), (4095, 8193), (MiB - 3, 2 * MiB + 5), (63 * MiB, MiB), (5 * MiB + 1, 3 * MiB),
              (12345, 100), (32 * MiB, 2 * MiB), (8, 8), (64 * MiB - 17, 17), (3, 2 * MiB), (40 * MiB + 5, 777)]

    async def go() -> None:
        c = server.client()
        await c.connect()
        try:
            # fresh buffers, all in flight at once
            views = await asyncio.gather(*(c.read(o, n) for o, n in ranges))
            for (o, n), v in zip(ranges, views, strict=True):
                assert len(v) == n
                assert bytes(v) == pattern_bytes(o, n), f"read at {o}+{n}"
            # caller-supplied buffers: slices of one big bytearray, each read into its own slice
            big = bytearray(sum(n for _, n in ranges))
            mv = memoryview(big)
            slots, pos = [], 0
            for _, n in ranges:
                slots.append(mv[pos:pos + n])
                pos += n
            await asyncio.gather(*(c.read(o, n, buf=s) for (o, n), s in zip(ranges, slots, strict=True)))
            assert bytes(big) == b"".join(pattern_bytes(o, n) for o, n in ranges)
        finally:
            await c.disconnect()

    run(go())


def test_disconnect_sends_disc(servers: Servers, tmp_path: Path) -> None:
    log = tmp_path / "nbdkit.log"
    # filter parameters (logfile=) go after the plugin name, like the plugin's own
    server = servers.start("pattern", "size=1M", f"logfile={log}", filters=("log",), tls="off")

    async def go() -> None:
        c = server.client()
        await c.connect()
        assert bytes(await c.read(8, 8)) == struct.pack(">Q", 8)
        await c.disconnect()
        assert not c.connected
        await c.disconnect()  # a second disconnect is a no-op

    run(go())
    deadline = time.monotonic() + 5
    while "Disconnect" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    text = log.read_text()
    assert f'export="{server.exportname}"' in text
    assert "Read id=1 offset=0x8 count=0x8" in text
    assert "Disconnect transactions=1" in text


# -- handshake failures -----------------------------------------------------------------------------
@pytest.mark.parametrize("use_go", [False, True], ids=["export-name", "go"])
def test_wrong_export_name(servers: Servers, use_go: bool) -> None:
    server = servers.start("pattern", "size=1M", tls="require")

    async def go() -> NbdError:
        c = server.client(exportname=new_exportname(), use_go=use_go)
        try:
            with pytest.raises(NbdError) as ei:
                await c.connect()
            assert not c.connected
            await c.disconnect()  # XO: returns at once, the socket is not closed by it
            return ei.value
        finally:
            c.abort()

    err = run(go())
    if use_go:
        assert err.step == "go"
        assert "NBD_REP_ERR_UNKNOWN" in str(err)
    else:
        assert err.step == "export-name"
        assert "closed the connection" in str(err)
    assert str(err).startswith(f"{err.step}: ") and "\n" not in str(err)


def test_nothing_listening(servers: Servers) -> None:
    port = free_port()

    async def go() -> NbdError:
        c = NbdClient(HOST, port, new_exportname(), connect_timeout=5)
        with pytest.raises(NbdError) as ei:
            await c.connect()
        c.abort()
        return ei.value

    err = run(go())
    assert err.step == "tcp-connect"
    assert "connection refused" in str(err) and "ECONNREFUSED" in str(err)


def test_dead_host_tcp_connect_timeout() -> None:
    """A listener whose accept backlog is full drops further SYNs: the client stays in SYN-SENT."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        lsock.bind((HOST, 0))
        lsock.listen(0)
        port = int(lsock.getsockname()[1])
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # listen(0) queues one: fill it
        fillers.append(filler)
        filler.settimeout(2)
        filler.connect((HOST, port))

        async def go() -> tuple[NbdError, float]:
            c = NbdClient(HOST, port, new_exportname(), connect_timeout=0.5)
            t0 = time.monotonic()
            try:
                with pytest.raises(NbdError) as ei:
                    await c.connect()
            finally:
                c.abort()
            return ei.value, time.monotonic() - t0

        err, elapsed = run(go())
    finally:
        for f in fillers:
            f.close()
        lsock.close()
    assert err.step == "tcp-connect"
    assert "timed out after 0.5 s" in str(err)
    assert 0.4 < elapsed < 3.0


@pytest.mark.parametrize("use_go", [False, True], ids=["export-name", "go"])
def test_server_without_tls(servers: Servers, use_go: bool) -> None:
    server = servers.start("pattern", "size=1M", tls="off")

    err = connect_error(lambda: server.client(tls=True, use_go=use_go))
    assert err.step == "starttls"
    assert "refused STARTTLS" in str(err) and "NBD_REP_ERR_POLICY" in str(err)


@pytest.mark.parametrize("use_go", [False, True], ids=["export-name", "go"])
def test_tls_required_client_plaintext(servers: Servers, use_go: bool) -> None:
    server = servers.start("pattern", "size=1M", tls="require")

    err = connect_error(lambda: server.client(tls=False, use_go=use_go))
    if use_go:
        assert err.step == "go"
        assert "NBD_REP_ERR_TLS_REQD" in str(err)
    else:  # EXPORT_NAME cannot carry an error: nbdkit just hangs up (EOF, or RST when it left bytes unread)
        assert err.step == "export-name"
        assert "closed the connection" in str(err) or "reset by peer" in str(err)


def test_tls_negotiation_failure_psk_only_server(servers: Servers, tmp_path: Path) -> None:
    if shutil.which("psktool") is None:
        pytest.skip("psktool is not installed (gnutls-bin)")
    keys = tmp_path / "keys.psk"
    subprocess.run(["psktool", "-u", "alice", "-p", str(keys)], check=True, capture_output=True, timeout=30)
    server = servers.start("pattern", "size=1M", tls="require", psk=keys)

    err = connect_error(lambda: server.client(tls=True))
    assert err.step == "tls-handshake", str(err)


def test_not_fixed_newstyle(servers: Servers) -> None:
    server = servers.start("pattern", "size=1M", tls="off", extra=("--mask-handshake=0",))

    err = connect_error(lambda: server.client(tls=False))
    assert err.step == "greeting" and "FIXED_NEWSTYLE" in str(err)


def test_closed_at_accept(servers: Servers) -> None:
    # nbdkit 1.32.5's ip filter rejects every IPv4 address rule ("don't know how to parse rule:
    # allow=127.0.0.10"), so only the keywords are usable: deny=all closes every connection at accept.
    server = servers.start("pattern", "size=1M", "deny=all", filters=("ip",), tls="off")

    err = connect_error(lambda: server.client())
    assert err.step == "greeting"
    assert "closed the connection after 0 of 18 bytes" in str(err) or "reset by peer" in str(err)


class SilentServer:
    """Accepts TCP connections on 127.0.0.2 and never writes a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self.accepted = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    s = SilentServer()
    try:
        yield s
    finally:
        s.close()


def peer_state(conn: socket.socket) -> str:
    """``open`` if nothing arrives within 0.3 s, ``eof`` if the client closed the connection."""
    conn.settimeout(0.3)
    try:
        data = conn.recv(4096)
    except TimeoutError:
        return "open"
    except ConnectionResetError:
        return "eof"
    return "eof" if not data else f"data {data[:8]!r}"


def test_silent_server_greeting_timeout_and_xo_socket_leak(silent_server: SilentServer) -> None:
    async def go() -> tuple[NbdError, float]:
        c = NbdClient(HOST, silent_server.port, new_exportname(), connect_timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(NbdError) as ei:
            await c.connect()
        elapsed = time.monotonic() - t0
        await c.disconnect()  # XO's quirk: a no-op, the socket stays open
        assert silent_server.accepted.wait(2)
        assert await asyncio.to_thread(peer_state, silent_server.conns[0]) == "open"
        c.abort()  # the engine releases it
        await asyncio.sleep(0.05)
        assert await asyncio.to_thread(peer_state, silent_server.conns[0]) == "eof"
        return ei.value, elapsed

    err, elapsed = run(go())
    assert err.step == "greeting"
    assert "timed out" in str(err) and "got 0" in str(err)
    assert 0.4 < elapsed < 3.0


class ScriptedServer:
    """Speaks the start of fixed newstyle by hand, then hangs up or stalls: cuts that nbdkit cannot make.

    ``cut`` is where: ``after-greeting`` (the STARTTLS option is read, never answered: FIN), ``after-ack``
    (STARTTLS acknowledged, then FIN before any TLS byte), ``stall-after-ack`` (acknowledged, then silence).
    """

    def __init__(self, cut: str) -> None:
        self.cut = cut
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.port = int(self.sock.getsockname()[1])
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            conn.sendall(struct.pack(">QQH", 0x4E42444D41474943, 0x49484156454F5054, 3))
            need = 4 + 16  # client flags, then the STARTTLS option header
            got = b""
            while len(got) < need:
                chunk = conn.recv(need - len(got))
                if not chunk:
                    return
                got += chunk
            if self.cut != "after-greeting":
                conn.sendall(struct.pack(">QIII", 0x3E889045565A9, 5, 1, 0))
            if self.cut == "stall-after-ack":
                self.done.wait(10)
            conn.shutdown(socket.SHUT_WR)
            self.done.wait(0.5)

    def close(self) -> None:
        self.done.set()
        self.thread.join(10)
        self.sock.close()


@pytest.mark.parametrize(("cut", "step", "text"), [
    ("after-greeting", "starttls", "closed the connection after 0 of 20 bytes"),
    ("after-ack", "tls-handshake", "connection reset by peer"),
    ("stall-after-ack", "tls-handshake", "timed out after 0.5 s"),
])
def test_cut_during_starttls(cut: str, step: str, text: str) -> None:
    server = ScriptedServer(cut)
    try:
        err = connect_error(lambda: NbdClient(HOST, server.port, new_exportname(), connect_timeout=0.5))
    finally:
        server.close()
    assert err.step == step, str(err)
    assert text in str(err)


def test_source_address(silent_server: SilentServer) -> None:
    async def go() -> None:
        c = NbdClient(HOST, silent_server.port, new_exportname(), connect_timeout=0.3, source_address="127.0.0.10")
        try:
            with pytest.raises(NbdError):
                await c.connect()
        finally:
            c.abort()

    run(go())
    assert silent_server.accepted.wait(2)
    assert silent_server.conns[0].getpeername()[0] == "127.0.0.10"


def test_disconnect_on_never_connected_client_is_a_noop() -> None:
    async def go() -> None:
        c = NbdClient(HOST, 9, new_exportname())
        t0 = time.monotonic()
        await c.disconnect()
        assert time.monotonic() - t0 < 0.1
        assert not c.connected
        with pytest.raises(NbdError) as ei:
            await c.read(0, 512)
        assert ei.value.step == "read"
        c.abort()
        c.abort()

    run(go())


# -- data phase failures ----------------------------------------------------------------------------
@pytest.mark.parametrize("tls", ["off", "require"])
def test_read_error_eio(servers: Servers, tls: str) -> None:
    server = servers.start("pattern", "size=8M", "error-pread-rate=100%", "error=EIO", filters=("error",), tls=tls)

    async def go() -> list[BaseException | memoryview]:
        c = server.client()
        await c.connect()
        try:
            results = await asyncio.gather(*(c.read(o, MiB) for o in range(0, 4 * MiB, MiB)),
                                           return_exceptions=True)
            assert c.connected  # an error reply fails that read only
            return results
        finally:
            await c.disconnect()

    results = run(go())
    assert len(results) == 4
    for r in results:
        assert isinstance(r, NbdError), r
        assert r.step == "read" and r.server_errno == 5
        assert str(r) == "read: server error EIO (5)"


def test_server_killed_fails_every_pending_read(servers: Servers) -> None:
    server = servers.start("pattern", "size=8M", "delay-read=10", filters=("delay",), tls="require")

    async def go() -> tuple[list[BaseException | memoryview], float]:
        c = server.client(message_timeout=20)
        await c.connect()
        try:
            tasks = [asyncio.ensure_future(c.read(o, MiB)) for o in range(0, 4 * MiB, MiB)]
            await asyncio.sleep(0.3)
            t0 = time.monotonic()
            os.kill(server.pid, signal.SIGKILL)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            elapsed = time.monotonic() - t0
            assert not c.connected
            with pytest.raises(NbdError) as later:
                await c.read(0, 8)
            assert later.value.step == "read"
            await c.disconnect()  # not connected any more: a no-op
            return results, elapsed
        finally:
            c.abort()

    results, elapsed = run(go())
    assert elapsed < 5
    for r in results:
        assert isinstance(r, NbdError), r
        assert r.step == "read"
        assert "closed" in str(r) or "reset" in str(r)


def test_abort_fails_pending_reads(servers: Servers) -> None:
    server = servers.start("pattern", "size=8M", "delay-read=10", filters=("delay",), tls="require")

    async def go() -> list[BaseException | memoryview]:
        c = server.client()
        await c.connect()
        tasks = [asyncio.ensure_future(c.read(o, MiB)) for o in range(0, 3 * MiB, MiB)]
        await asyncio.sleep(0.2)
        c.abort()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2)
        assert not c.connected
        await c.disconnect()  # no-op
        return results

    for r in run(go()):
        assert isinstance(r, NbdError) and r.step == "read" and "aborted by the client" in str(r), r


def test_read_timeout_then_late_reply_is_discarded(servers: Servers) -> None:
    server = servers.start("pattern", "size=8M", "delay-read=2", filters=("delay",), tls="off")

    async def go() -> None:
        c = server.client(message_timeout=0.3)
        await c.connect()
        try:
            buf = bytearray(MiB)
            buf[:] = b"\xaa" * MiB
            t0 = time.monotonic()
            with pytest.raises(NbdError) as ei:
                await c.read(0, MiB, buf=buf)
            assert ei.value.step == "read" and "timed out" in str(ei.value)
            assert time.monotonic() - t0 < 1.5  # well before the delayed reply (2 s)
            assert c.connected
            c.message_timeout = 10
            got = await c.read(2 * MiB + 3, 1000)  # queued behind the late reply, which must be skipped
            assert bytes(got) == pattern_bytes(2 * MiB + 3, 1000)
            assert buf == b"\xaa" * MiB  # the abandoned read no longer writes into the caller's buffer
        finally:
            await c.disconnect()

    run(go())


def test_cancelled_reads_do_not_desync(servers: Servers) -> None:
    server = servers.start("pattern", "size=8M", tls="off")

    async def go() -> None:
        c = server.client()
        await c.connect()
        try:
            tasks = [asyncio.ensure_future(c.read(o, 2 * MiB)) for o in range(0, 8 * MiB, 2 * MiB)]
            await asyncio.sleep(0)
            for t in tasks[::2]:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for t in tasks[1::2]:
                assert bytes(t.result()) == pattern_bytes(tasks.index(t) * 2 * MiB, 2 * MiB)
            assert bytes(await c.read(5, 11)) == pattern_bytes(5, 11)
        finally:
            await c.disconnect()

    run(go())


def test_nbd_error_shape() -> None:
    e = NbdError("tls-handshake", "connection reset by peer\n(ECONNRESET)")
    assert e.step == "tls-handshake"
    assert str(e) == "tls-handshake: connection reset by peer (ECONNRESET)"
    assert isinstance(e, Exception)
