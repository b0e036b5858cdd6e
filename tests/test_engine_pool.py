"""The engine's loopback pool, with real processes: nbdkit hosts with TLS, the faults, the HTTP export.

Every fault is observed with a real client: a small blocking NBD client below (Python sockets + ssl, the
same steps as XO: greeting, STARTTLS, TLS, EXPORT_NAME, READ) or nbdinfo/nbdcopy under ``timeout``.
Addresses come from a per-process 127.X.Y.0/24 so parallel test runs don't collide on port 10809.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xodiag.engine.httpexport import HttpExport
from xodiag.engine.pki import Pki, make_pki
from xodiag.engine.pool import Blackhole, FaultProxy, HostError, NbdHost, Pool, is_listening, nbd_uri
from xodiag.engine.tools import MissingTool, require

TOOLS = ("nbdkit", "certtool", "nbdinfo", "nbdcopy")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason=f"needs {', '.join(TOOLS)}")

_NET = f"127.{100 + os.getpid() % 100}.{os.getpid() // 100 % 250 + 1}."
ADDRS = [f"{_NET}{i}" for i in range(2, 10)]
PORT = 10809
RAW_SIZE = 4 * 1024 * 1024 + 3 * 512  # odd size, like a real VDI

NBDMAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3E889045565A9
REP_ACK = 1
REP_ERR_POLICY = 0x80000000 | 2
REQ_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698


# ------------------------------------------------------------------------------------------- helpers


class Nbd:
    """A minimal blocking NBD client (fixed newstyle, STARTTLS, EXPORT_NAME like XO, READ)."""

    def __init__(self, address: str, port: int = PORT, timeout: float = 3.0) -> None:
        self.sock: socket.socket = socket.create_connection((address, port), timeout=timeout)

    def recv_exact(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer means EOF."""
        buf = b""
        while len(buf) < n:
            data = self.sock.recv(n - len(buf))
            if not data:
                break
            buf += data
        return buf

    def greeting(self) -> bytes:
        return self.recv_exact(18)

    def starttls(self) -> tuple[int, int]:
        self.sock.sendall(struct.pack(">I", 1) + struct.pack(">QII", IHAVEOPT, 5, 0))
        rep = self.recv_exact(20)
        if len(rep) < 20:
            raise EOFError(f"STARTTLS reply: EOF after {len(rep)} bytes")
        magic, opt, rtype, _length = struct.unpack(">QIII", rep)
        assert magic == OPT_REPLY_MAGIC
        return opt, rtype

    def tls(self, ca: Path | None = None, hostname: str | None = None) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if ca is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # XO: rejectUnauthorized: false
        else:
            ctx.load_verify_locations(cafile=str(ca))
        self.sock = ctx.wrap_socket(self.sock, server_hostname=hostname, suppress_ragged_eofs=False)

    def export_name(self, name: str) -> int:
        data = name.encode()
        self.sock.sendall(struct.pack(">QII", IHAVEOPT, 1, len(data)) + data)
        rep = self.recv_exact(134)
        if len(rep) < 134:
            raise EOFError(f"EXPORT_NAME reply: EOF after {len(rep)} bytes")
        return int(struct.unpack(">Q", rep[:8])[0])

    def read(self, offset: int, length: int) -> tuple[int, bytes]:
        self.sock.sendall(struct.pack(">IHHQQI", REQ_MAGIC, 0, 0, 7, offset, length))
        magic, err, _cookie = struct.unpack(">IIQ", self.recv_exact(16))
        assert magic == SIMPLE_REPLY_MAGIC
        return err, (self.recv_exact(length) if err == 0 else b"")

    def open(self, name: str) -> int:
        assert self.greeting()[:8] == NBDMAGIC
        assert self.starttls() == (5, REP_ACK)
        self.tls()
        return self.export_name(name)

    def close(self) -> None:
        self.sock.close()


def run(args: list[str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """libnbd has no connect timeout: always under ``timeout``."""
    return subprocess.run(["timeout", str(timeout), *args], capture_output=True, text=True)


def our_nbdkits() -> list[int]:
    """nbdkit processes whose parent is this test process."""
    me, found = os.getpid(), []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if comm == "nbdkit" and ppid == me:
            found.append(int(d.name))
    return found


@pytest.fixture(autouse=True)
def _no_leftover_nbdkit() -> Iterator[None]:
    yield
    assert our_nbdkits() == [], "an nbdkit started by this test is still running"


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Raw:
    data = os.urandom(RAW_SIZE)
    p = tmp_path_factory.mktemp("disk") / "disk.raw"
    p.write_bytes(data)
    return p, data


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), ADDRS)


MakePool = Callable[..., Pool]
Raw = tuple[Path, bytes]


@pytest.fixture
def make_pool(tmp_path: Path, raw: Raw, pki: Pki) -> Iterator[MakePool]:
    pools: list[Pool] = []

    def make(hosts: int = 2, first: int = 0, **opts: dict[str, object]) -> Pool:
        host_options = {int(k[1:]): v for k, v in opts.items()}  # h0=..., h1=...
        pool = Pool(
            tmp_path / f"pool{len(pools)}",
            hosts=hosts,
            raw_path=raw[0],
            host_options=host_options,
            addresses=ADDRS[first : first + hosts],
            pki=pki,
        )
        pools.append(pool)
        return pool.start()

    yield make
    for p in pools:
        p.close()


# ------------------------------------------------------------------------------------------- tools, pki


def test_require_finds_tools_and_explains_missing_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = require("nbdkit", "certtool", "nbdcopy")
    assert all(Path(p).is_file() for p in paths.values())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingTool) as ei:
        require("nbdkit")
    assert str(ei.value) == "nbdkit not found: install it with `apt-get install nbdkit`"
    with pytest.raises(MissingTool) as ei:
        require()
    msg = str(ei.value)
    assert "\n" not in msg and "apt-get install gnutls-bin nbdkit qemu-utils" in msg


def test_pki_certificate_covers_the_addresses(pki: Pki) -> None:
    for f in ("ca-cert.pem", "server-cert.pem", "server-key.pem"):
        assert (pki.dir / f).is_file()
    assert pki.server_cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert pki.ca_cert_pem.startswith("-----BEGIN CERTIFICATE-----")
    text = subprocess.run(
        ["certtool", "-i", "--infile", str(pki.server_cert)], capture_output=True, text=True, check=True
    ).stdout
    assert all(f"IPAddress: {a}" in text for a in ADDRS) and "DNSname: localhost" in text
    assert f"Subject: CN={pki.subject}" in text
    assert oct(pki.server_key.stat().st_mode & 0o777) == "0o600"


# ------------------------------------------------------------------------------------------- healthy pool


def test_pool_serves_exact_bytes_under_the_export_name(make_pool: MakePool, raw: Raw, tmp_path: Path) -> None:
    pool: Pool = make_pool(2)
    info = pool.nbd_info()
    assert [i["address"] for i in info] == ADDRS[:2]
    for i in info:
        assert i["port"] == 10809
        assert i["exportname"] == f"/{pool.vdi_uuid}?session_id={pool.session_ref}"
        assert i["exportname"].startswith("/") and "?session_id=OpaqueRef:" in i["exportname"]
        assert pool.pki is not None and i["cert"] == pool.pki.server_cert_pem and i["subject"] == "xodiag-host"
    for h in range(2):
        uri = nbd_uri(info[h]["address"], 10809, info[h]["exportname"])
        r = run(["nbdinfo", "--size", uri])
        assert r.returncode == 0, r.stderr
        assert int(r.stdout) == RAW_SIZE
        out = tmp_path / f"copy{h}.raw"
        r = run(["nbdcopy", uri, str(out)])
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == raw[1]
    # with peer verification against the run's CA, as XAPI's cert would allow
    r = run(["nbdinfo", "--size", pool.uri(0).split("?")[0] + f"?tls-certificates={pool.pki.dir}"])
    assert r.returncode == 0, r.stderr
    c = Nbd(ADDRS[0])  # and Python's ssl checks the IP SAN of the certificate
    c.greeting()
    c.starttls()
    c.tls(ca=pool.pki.ca_cert, hostname=ADDRS[0])
    assert c.export_name(pool.exportname) == RAW_SIZE
    c.close()
    # a wrong name is refused
    r = run(["nbdinfo", "--size", pool.uri(0, name=f"/{pool.vdi_uuid}?session_id=OpaqueRef:expired")])
    assert r.returncode != 0 and "no export named" in r.stderr
    # the Python client (XO's steps: EXPORT_NAME): right bytes; a wrong name is a plain close (EOF at 0 bytes)
    c = Nbd(ADDRS[1])
    assert c.open(pool.exportname) == RAW_SIZE
    assert c.read(RAW_SIZE - 4096, 4096) == (0, raw[1][-4096:])
    c.close()
    c = Nbd(ADDRS[1])
    with pytest.raises(EOFError, match="after 0 bytes"):
        c.open("/wrong")
    c.close()
    # the log filter is the server's view
    log = "\n".join(pool.nbd(1).log_lines())
    assert "Connect export=" in log and "Read id=" in log


# ------------------------------------------------------------------------------------------- host faults


def test_refused_dead_silent_hosts(make_pool: MakePool) -> None:
    pool: Pool = make_pool(4, h1={"mode": "refused"}, h2={"mode": "dead"}, h3={"mode": "silent"})
    assert [i["address"] for i in pool.nbd_info()] == ADDRS[:4]  # listed, like XAPI would
    # refused: nothing listens
    with pytest.raises(ConnectionRefusedError):
        Nbd(ADDRS[1])
    r = run(["nbdinfo", "--size", pool.uri(1)])
    assert r.returncode != 0 and "Connection refused" in r.stderr
    # dead: the SYN is dropped, the connect times out
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        Nbd(ADDRS[2], timeout=0.5)
    assert 0.4 < time.monotonic() - t0 < 2
    r = run(["nbdinfo", "--size", pool.uri(2)], timeout=1)
    assert r.returncode == 124  # libnbd hangs until killed by timeout
    # silent: TCP connects, no greeting ever
    c = Nbd(ADDRS[3], timeout=0.5)
    with pytest.raises(TimeoutError):
        c.greeting()
    c.close()
    assert pool.host(3).blackhole is not None and pool.host(3).blackhole.accepted >= 1
    # the healthy host is unaffected
    c = Nbd(ADDRS[0])
    assert c.open(pool.exportname) == RAW_SIZE
    c.close()


def test_connection_limit_closes_at_accept(make_pool: MakePool) -> None:
    pool: Pool = make_pool(1, h0={"limit": 1})
    c1 = Nbd(ADDRS[0])
    assert c1.greeting()[:8] == NBDMAGIC
    c2 = Nbd(ADDRS[0])
    assert c2.greeting()[:8] == NBDMAGIC  # the slot is taken at open (export name), not at accept
    c2.close()
    assert c1.starttls() == (5, REP_ACK)
    c1.tls()
    assert c1.export_name(pool.exportname) == RAW_SIZE
    c2 = Nbd(ADDRS[0])
    try:
        assert c2.greeting() == b""  # closed before the greeting
    except ConnectionResetError:
        pass
    c2.close()
    r = run(["nbdinfo", "--size", pool.uri(0)])
    assert r.returncode != 0 and "disconnected" in r.stderr
    assert c1.read(0, 512)[0] == 0
    c1.close()


def test_no_tls_refuses_starttls(make_pool: MakePool) -> None:
    pool: Pool = make_pool(1, h0={"tls": False})
    c = Nbd(ADDRS[0])
    assert c.greeting()[:8] == NBDMAGIC
    assert c.starttls() == (5, REP_ERR_POLICY)
    c.close()
    r = run(["nbdinfo", "--size", nbd_uri(ADDRS[0], PORT, pool.exportname, tls=True)])
    assert r.returncode != 0
    r = run(["nbdinfo", "--size", pool.uri(0)])  # plaintext works
    assert r.returncode == 0 and int(r.stdout) == RAW_SIZE


def test_read_errors_follow_the_trigger_file(make_pool: MakePool, tmp_path: Path) -> None:
    pool: Pool = make_pool(1, h0={"read_errors": "100%"})
    host = pool.nbd(0)
    c = Nbd(ADDRS[0])
    c.open(pool.exportname)
    assert c.read(0, 65536)[0] == 0
    host.trigger_errors(True)
    assert c.read(0, 65536) == (5, b"")  # EIO
    host.trigger_errors(False)
    assert c.read(0, 65536)[0] == 0
    c.close()
    host.trigger_errors(True)
    r = run(["nbdcopy", pool.uri(0), "null:"])
    assert r.returncode != 0 and "Input/output error" in r.stderr


def test_slow_reads_then_host_killed_mid_transfer(make_pool: MakePool) -> None:
    pool: Pool = make_pool(1, h0={"read_delay": "10ms"})
    copy = ["nbdcopy", "-C1", "-R1", "--request-size=65536", pool.uri(0), "null:"]
    t0 = time.monotonic()
    r = run(copy)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 > 64 * 0.010  # 64 reads of 64 KiB, 10 ms each
    proc = subprocess.Popen(["timeout", "20", *copy], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.25)
    host = pool.nbd(0)
    pid = host.pid
    host.kill()
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode not in (0, 124), err
    assert pid is not None and not os.path.exists(f"/proc/{pid}")
    with pytest.raises(ConnectionRefusedError):  # the listener died with it
        Nbd(ADDRS[0])


def test_paused_host_hangs_then_resumes(make_pool: MakePool) -> None:
    pool: Pool = make_pool(1)
    host = pool.nbd(0)
    host.pause()
    c = Nbd(ADDRS[0], timeout=0.3)  # the kernel still completes the TCP handshake
    with pytest.raises(TimeoutError):
        c.greeting()
    host.resume()
    c.sock.settimeout(3)
    assert c.greeting()[:8] == NBDMAGIC
    c.close()


# ------------------------------------------------------------------------------------------- proxy cuts


def test_proxy_without_fault_is_transparent(make_pool: MakePool, raw: Raw, tmp_path: Path) -> None:
    pool: Pool = make_pool(1, h0={"proxy": {}})
    assert pool.nbd(0).port == 20809 and is_listening(ADDRS[0], 20809)
    out = tmp_path / "copy.raw"
    r = run(["nbdcopy", pool.uri(0), str(out)])
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == raw[1]


@pytest.mark.parametrize("action", ["rst", "fin"])
def test_proxy_cut_before_starttls(make_pool: MakePool, action: str) -> None:
    pool: Pool = make_pool(1, h0={"proxy": {"at": "before-starttls", "action": action}})
    c = Nbd(ADDRS[0])
    assert len(c.greeting()) == 18
    if action == "rst":
        with pytest.raises(ConnectionResetError):
            c.starttls()
    else:
        with pytest.raises(EOFError, match="after 0 bytes"):
            c.starttls()
    c.close()
    r = run(["nbdinfo", "--size", pool.uri(0)])
    assert r.returncode != 0
    proxy = pool.host(0).proxy
    assert proxy is not None and proxy.fired == [1, 2]


def test_proxy_cut_after_starttls_and_garbled_server_hello(make_pool: MakePool) -> None:
    pool: Pool = make_pool(
        2,
        h0={"proxy": {"at": "after-starttls", "action": "rst"}},
        h1={"proxy": {"at": "after-starttls", "action": "garble"}},
    )
    c = Nbd(ADDRS[0])
    c.greeting()
    assert c.starttls() == (5, REP_ACK)  # the 20-byte reply got through
    with pytest.raises((ConnectionResetError, ssl.SSLEOFError)):
        c.tls()
    c.close()
    c = Nbd(ADDRS[1])
    c.greeting()
    assert c.starttls() == (5, REP_ACK)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        c.tls()
        c.export_name(pool.exportname)
    c.close()


@pytest.mark.parametrize("action", ["rst", "stall", "record-4"])
def test_proxy_cut_at_export_name(make_pool: MakePool, action: str) -> None:
    # record-4: engine-notes' way, the 4th client TLS record (ClientHello, CCS, Finished, first option)
    fault = {"action": "rst", "at_record": 4} if action == "record-4" else {"action": action}
    pool: Pool = make_pool(1, h0={"proxy": {"at": "at-export-name", "conn": 2, **fault}})
    c1 = Nbd(ADDRS[0])
    assert c1.open(pool.exportname) == RAW_SIZE  # connection 1 is not armed
    c2 = Nbd(ADDRS[0], timeout=0.5)
    c2.greeting()
    c2.starttls()
    c2.tls()  # the handshake completes
    if action != "stall":
        # a RST under TLS: Python's ssl (SSL_read_ex returns 0) reports it as SSLEOFError, not ECONNRESET
        with pytest.raises((ConnectionResetError, ssl.SSLEOFError)):
            c2.export_name(pool.exportname)
    else:
        with pytest.raises(TimeoutError):
            c2.export_name(pool.exportname)
    c2.close()
    assert c1.read(0, 4096)[0] == 0
    c1.close()
    proxy = pool.host(0).proxy
    assert proxy is not None and proxy.fired == [2]
    # without TLS the option is found in plaintext, and the RST shows as ECONNRESET
    if action == "rst":
        pool2: Pool = make_pool(1, first=1, h0={"tls": False, "proxy": {"at": "at-export-name", "action": "rst"}})
        c = Nbd(ADDRS[1])
        c.greeting()
        c.sock.sendall(struct.pack(">I", 1))
        with pytest.raises(ConnectionResetError):
            c.export_name(pool2.exportname)
        c.close()


def test_proxy_cut_mid_transfer(make_pool: MakePool, raw: Raw) -> None:
    pool: Pool = make_pool(1, h0={"proxy": {"at": "after-bytes", "after_bytes": 1_000_000, "action": "rst"}})
    r = run(["nbdcopy", pool.uri(0), "null:"])
    assert r.returncode != 0
    c = Nbd(ADDRS[0])
    c.open(pool.exportname)
    ok = 0
    with pytest.raises((ConnectionResetError, ssl.SSLEOFError)):  # RST under TLS: SSLEOFError in Python
        for off in range(0, RAW_SIZE, 256 * 1024):
            assert c.read(off, 256 * 1024) == (0, raw[1][off : off + 256 * 1024])
            ok += 1
    assert ok == 3  # ~1 MB of TLS bytes went through, then the cut
    c.close()
    proxy = pool.host(0).proxy
    assert proxy is not None and proxy.accepted in proxy.fired and len(proxy.fired) >= 2  # nbdcopy's, ours


def test_async_pool_runs_proxies_in_the_callers_loop(tmp_path: Path, raw: Raw, pki: Pki) -> None:
    async def main() -> list[int]:
        opts = {0: {"proxy": {"at": "after-bytes", "after_bytes": 18, "action": "fin"}}}
        async with Pool(
            tmp_path / "apool", hosts=1, raw_path=raw[0], host_options=opts, addresses=ADDRS[:1], pki=pki
        ) as pool:
            r, w = await asyncio.open_connection(ADDRS[0], PORT)
            assert len(await r.readexactly(18)) == 18
            w.write(struct.pack(">I", 1) + struct.pack(">QII", IHAVEOPT, 5, 0))
            assert await asyncio.wait_for(r.read(100), 3) == b""  # FIN instead of the STARTTLS reply
            w.close()
            proxy = pool.host(0).proxy
            assert proxy is not None
            return proxy.fired

    assert asyncio.run(main()) == [1]
    assert not (tmp_path / "apool").exists()


def test_standalone_proxy_and_blackhole_helpers(tmp_path: Path, raw: Raw, pki: Pki) -> None:
    host = NbdHost(ADDRS[0], raw[0], "/x", pki.dir, tmp_path, port=20809, log=False).start()
    try:

        async def main() -> None:
            proxy = await FaultProxy(ADDRS[0], PORT, ADDRS[0], 20809, at="before-starttls", action="stall").start()
            r, _w = await asyncio.open_connection(ADDRS[0], PORT)
            assert len(await r.readexactly(18)) == 18
            _w.write(struct.pack(">I", 1) + struct.pack(">QII", IHAVEOPT, 5, 0))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(r.read(1), 0.3)
            await proxy.stop()
            try:  # stop() aborts every connection, stalled ones included
                assert await asyncio.wait_for(r.read(1), 2) == b""
            except ConnectionResetError:
                pass
            _w.close()

        asyncio.run(main())
    finally:
        host.stop()
    bh = Blackhole(ADDRS[1], PORT, "silent").start()
    c = Nbd(ADDRS[1], timeout=0.2)
    with pytest.raises(TimeoutError):
        c.greeting()
    bh.stop()
    assert c.sock.recv(1) == b""
    c.close()
    assert not is_listening(ADDRS[1], PORT)


# ------------------------------------------------------------------------------------------- teardown


def test_close_leaves_nothing_behind_even_on_failure(tmp_path: Path, raw: Raw, pki: Pki) -> None:
    pool = Pool(
        tmp_path / "p",
        hosts=3,
        raw_path=raw[0],
        addresses=ADDRS[:3],
        pki=pki,
        host_options={1: {"proxy": {"at": "after-bytes", "after_bytes": 100}}, 2: {"mode": "dead"}},
    )
    held: list[Nbd] = []
    with pytest.raises(RuntimeError, match="boom"), pool:
        held.append(Nbd(ADDRS[0]))  # a connected client: nbdkit ignores SIGTERM while it is there
        held[0].open(pool.exportname)
        pool.nbd(1).pause()  # a stopped process must still go
        assert len(pool.live_pids()) == 2
        raise RuntimeError("boom")
    pids = pool.pids()
    assert len(pids) == 2
    assert all(not os.path.exists(f"/proc/{p}") for p in pids)
    assert not (tmp_path / "p").exists()
    assert not any(is_listening(a, p) for a in ADDRS[:3] for p in (PORT, 20809))
    for c in held:
        c.close()
    pool.close()  # idempotent


def test_failed_start_cleans_up(tmp_path: Path, raw: Raw, pki: Pki) -> None:
    squatter = Blackhole(ADDRS[1], PORT, "silent").start()  # host 1's address:port is taken
    try:
        pool = Pool(tmp_path / "p", hosts=2, raw_path=raw[0], addresses=ADDRS[:2], pki=pki)
        with pytest.raises(HostError, match="Address already in use"):
            pool.start()
    finally:
        squatter.stop()
    assert len(pool.pids()) == 2 and not any(os.path.exists(f"/proc/{p}") for p in pool.pids())
    assert not (tmp_path / "p").exists()
    with pytest.raises(ValueError, match="inside the pool's tmpdir"):
        Pool(raw[0].parent, raw_path=raw[0])
    with pytest.raises(ValueError, match="loopback"):
        Pool(tmp_path / "q", hosts=1, raw_path=raw[0], addresses=["10.0.0.1"])


# ------------------------------------------------------------------------------------------- HTTP export


Images = dict[str, tuple[Path, bytes]]


@pytest.fixture
def images(tmp_path: Path) -> Images:
    out: Images = {}
    for fmt, size in (("vhd", 3 * 1024 * 1024 + 512), ("qcow2", 2 * 1024 * 1024 + 7)):
        data = os.urandom(size)
        p = tmp_path / f"disk.{fmt}"
        p.write_bytes(data)
        out[fmt] = (p, data)
    return out


def test_http_export_streams_exact_bytes(images: Images, pki: Pki) -> None:
    vdi = "3f2b1c4e-0000-4000-8000-000000000001"
    with HttpExport(ADDRS[0], vdi, {k: v[0] for k, v in images.items()}, chunk=256 * 1024) as ex:
        for fmt in ("vhd", "qcow2"):
            with urllib.request.urlopen(ex.url(fmt, session_id="OpaqueRef:x"), timeout=5) as resp:
                assert int(resp.headers["Content-Length"]) == len(images[fmt][1])
                assert resp.read() == images[fmt][1]
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(ex.url("vhd", vdi="nope"), timeout=5)
        assert ei.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(ex.url("raw"), timeout=5)
        assert ei.value.code == 400
        # a client that closes early is fine (and quiet)
        resp = urllib.request.urlopen(ex.url("vhd"), timeout=5)
        resp.read(1000)
        resp.close()
        assert ex.request_count == 5
        assert ex.bytes_sent >= len(images["vhd"][1]) + len(images["qcow2"][1])
    # HTTPS, as XAPI serves it
    with HttpExport(ADDRS[0], vdi, {"vhd": images["vhd"][0]}, tls=(pki.server_cert, pki.server_key)) as ex:
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        with urllib.request.urlopen(ex.url("vhd"), timeout=5, context=ctx) as resp:
            assert resp.read() == images["vhd"][1]


def test_http_export_abort_and_stall(images: Images) -> None:
    vdi = "3f2b1c4e-0000-4000-8000-000000000001"
    data = images["vhd"][1]
    n = 1_000_000
    ex = HttpExport(ADDRS[0], vdi, {"vhd": images["vhd"][0]}, abort_after=n, chunk=64 * 1024).start()
    try:
        got = b""
        resp = urllib.request.urlopen(ex.url("vhd"), timeout=5)
        with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
            while chunk := resp.read1(65536):
                got += chunk
            resp.read()  # EOF before Content-Length
        assert got == data[: len(got)] and len(got) <= n
        assert ex.requests[-1].outcome == "aborted" and ex.requests[-1].bytes_sent == n

        ex.abort_after, ex.stall_after = None, n
        got = b""
        resp = urllib.request.urlopen(ex.url("vhd"), timeout=0.5)
        with pytest.raises(TimeoutError):
            while chunk := resp.read1(65536):
                got += chunk
        assert got == data[:n]
        resp.close()
        resp2 = urllib.request.urlopen(ex.url("vhd"), timeout=5)
        stalled = threading.Event()

        def reader() -> None:
            try:
                resp2.read()
            except (http.client.IncompleteRead, OSError):
                stalled.set()

        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.3)
        assert not stalled.is_set()  # still held open
    finally:
        ex.stop()
    t.join(5)
    assert stalled.is_set()  # stop() released it: the client saw a short body
    assert ex.requests[-1].outcome == "stalled"
