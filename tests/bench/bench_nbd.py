#!/usr/bin/env python3
"""Benchmark ``xodiag.engine.nbd_client.NbdClient`` against ``nbdcopy`` on one nbdkit ``file`` export.

Usage::

    python tests/bench/bench_nbd.py [--size-mib 1024] [--repeat 3] [--inflight 8] [--block-mib 2]

Writes a random file (default 1 GiB) into a temporary directory, makes a CA and a server certificate with
certtool, and starts two nbdkit servers on 127.0.0.2 serving that file under an XAPI-like export name (the
exportname filter, strict): one plaintext (``--tls=off``), one with ``--tls=require``. For each server it
times, alternately, ``nbdcopy URI null:`` (libnbd's default: 4 connections x 64 requests x 256 KiB, then
the client's shape: 1 connection, ``--inflight`` requests of ``--block-mib``) and this client in a child
process reading the whole export with ``--block-mib`` reads, ``--inflight`` in flight, on one connection,
into reused buffers (no hashing). Each figure is the wall time of a process from start to exit (so both
sides pay their process start), median of ``--repeat``; MB = 10^6 bytes. CPU = user + sys of that process.

This is a benchmark, not a test: it prints figures and ratios and always exits 0 unless its own arguments
are wrong or a tool is missing. The file, the certificates and the servers are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOST = "127.0.0.2"
EXPORT = "/3f2b1c4e-0000-4000-8000-00000000b1e5?session_id=OpaqueRef:5e551011-0000-4000-8000-00000000b1e5"


@dataclass
class Run:
    wall: float
    cpu: float
    ok: bool
    note: str = ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def make_pki(d: Path) -> None:
    def run(*args: str, out: Path | None = None) -> None:
        with open(out, "wb") if out else open(os.devnull, "wb") as f:
            subprocess.run(["certtool", *args], check=True, stdout=f, stderr=subprocess.DEVNULL)

    run("--generate-privkey", out=d / "ca-key.pem")
    (d / "ca.info").write_text("cn = xodiag test CA\nca\ncert_signing_key\nexpiration_days = 3650\n")
    run("--generate-self-signed", "--load-privkey", str(d / "ca-key.pem"), "--template", str(d / "ca.info"),
        "--outfile", str(d / "ca-cert.pem"))
    run("--generate-privkey", out=d / "server-key.pem")
    (d / "server.info").write_text("cn = host1\nip_address = 127.0.0.2\ndns_name = localhost\ntls_www_server\n"
                                   "encryption_key\nsigning_key\nexpiration_days = 3650\n")
    run("--generate-certificate", "--load-ca-certificate", str(d / "ca-cert.pem"), "--load-ca-privkey",
        str(d / "ca-key.pem"), "--load-privkey", str(d / "server-key.pem"), "--template", str(d / "server.info"),
        "--outfile", str(d / "server-cert.pem"))


def write_random_file(path: Path, size: int) -> None:
    chunk = 64 << 20
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n


def warm(path: Path) -> None:
    buf = bytearray(8 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


class Server:
    def __init__(self, workdir: Path, name: str, disk: Path, pki: Path, tls: bool) -> None:
        self.port = free_port()
        self.pidfile = workdir / f"{name}.pid"
        tls_args = ["--tls=require", f"--tls-certificates={pki}"] if tls else ["--tls=off"]
        self.log = workdir / f"{name}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["nbdkit", "-f", "--exit-with-parent", "-P", str(self.pidfile), "-i", HOST, "-p", str(self.port),
                 "-r", *tls_args, "--filter=exportname", "file", str(disk), f"exportname={EXPORT}",
                 "exportname-strict=true"],
                stdout=subprocess.DEVNULL, stderr=log,
            )
        deadline = time.monotonic() + 15
        while not (self.pidfile.exists() and self.pidfile.read_text().strip()):
            if self.proc.poll() is not None:
                err = self.log.read_text(errors="replace")
                raise RuntimeError(f"nbdkit exited with {self.proc.returncode}: {err.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("nbdkit did not write its pidfile within 15 s")
            time.sleep(0.02)
        self.pid = int(self.pidfile.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def uri(port: int, tls: bool) -> str:
    enc = urllib.parse.quote(EXPORT, safe="")
    if tls:
        return f"nbds://{HOST}:{port}/{enc}?tls-verify-peer=false"
    return f"nbd://{HOST}:{port}/{enc}"


def timed_wait4(cmd: list[str], timeout: float = 600) -> Run:
    """Run ``cmd``; wall time from start to exit and its own user+sys CPU via wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return Run(time.perf_counter() - t0, 0.0, False, "timeout")
        time.sleep(0.002)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    ok = proc.returncode == 0
    note = out.strip().splitlines()[-1] if out.strip() else ""
    if not ok:
        note = f"rc {proc.returncode}: {err.strip()[-300:]}"
    return Run(wall, ru.ru_utime + ru.ru_stime, ok, note)


# -- the client, run in a child process -----------------------------------------------------------
async def client_copy(port: int, tls: bool, block: int, inflight: int) -> tuple[int, float]:
    sys.path.insert(0, str(REPO))
    from xodiag.engine.nbd_client import NbdClient

    t0 = time.perf_counter()
    c = NbdClient(HOST, port, EXPORT, tls=tls)
    await c.connect()
    size = c.size
    offsets = iter(range(0, size, block))
    total = 0

    async def worker() -> None:
        nonlocal total
        buf = bytearray(block)
        for off in offsets:
            n = min(block, size - off)
            await c.read(off, n, buf=buf)
            total += n

    try:
        await asyncio.gather(*(worker() for _ in range(inflight)))
    finally:
        await c.disconnect()
        c.abort()
    if total != size:
        raise SystemExit(f"read {total} of {size} bytes")
    return total, time.perf_counter() - t0


def child_main(args: argparse.Namespace) -> int:
    total, secs = asyncio.run(client_copy(args.port, args.tls, args.block_mib << 20, args.inflight))
    print(f"{total} bytes in {secs:.3f} s in-process")
    return 0


# -- the parent ------------------------------------------------------------------------------------
def fmt_mbs(size: int, runs: list[Run]) -> tuple[float | None, str]:
    good = [r for r in runs if r.ok]
    if not good:
        return None, f"FAILED ({runs[0].note if runs else 'no run'})"
    wall = statistics.median(r.wall for r in good)
    cpu = statistics.median(r.cpu for r in good)
    mbs = size / wall / 1e6
    return mbs, f"{mbs:8.0f} MB/s  wall {wall:6.3f} s  cpu {cpu:6.2f} s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--inflight", type=int, default=8)  # the engine's read-ahead (xodiag/engine/export.py)
    ap.add_argument("--block-mib", type=int, default=2)
    ap.add_argument("--child-client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--tls", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_client:
        return child_main(args)
    if args.size_mib < 1 or args.repeat < 1 or args.inflight < 1 or args.block_mib < 1:
        ap.error("sizes and counts must be positive")

    missing = [t for t in ("nbdkit", "nbdcopy", "certtool") if shutil.which(t) is None]
    if missing:
        print(f"missing tools: {', '.join(missing)} (apt-get install nbdkit libnbd-bin gnutls-bin)")
        return 1

    size = args.size_mib << 20
    block = args.block_mib << 20
    work = Path(tempfile.mkdtemp(prefix="xodiag-bench-nbd-"))
    servers: list[Server] = []
    try:
        print(f"writing {args.size_mib} MiB of random data to {work}/disk.raw ...", flush=True)
        disk = work / "disk.raw"
        write_random_file(disk, size)
        warm(disk)
        pki = work / "pki"
        pki.mkdir()
        make_pki(pki)
        plain = Server(work, "plain", disk, pki, tls=False)
        servers.append(plain)
        tls = Server(work, "tls", disk, pki, tls=True)
        servers.append(tls)

        print(f"nbdkit {subprocess.run(['nbdkit', '--version'], capture_output=True, text=True).stdout.strip()}, "
              f"{subprocess.run(['nbdcopy', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}, "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        print(f"export {size} bytes; client: 1 connection, {args.inflight} x {args.block_mib} MiB in flight; "
              f"median of {args.repeat}; wall = process start to exit\n")

        results: dict[str, float | None] = {}
        for label, srv, is_tls in (("plain", plain, False), ("TLS", tls, True)):
            u = uri(srv.port, is_tls)
            variants: dict[str, list[str]] = {
                "nbdcopy (default)": ["nbdcopy", u, "null:"],
                "nbdcopy (client shape)": ["nbdcopy", "--connections=1", f"--requests={args.inflight}",
                                           f"--request-size={block}", u, "null:"],
                "xodiag NbdClient": [sys.executable, str(Path(__file__).resolve()), "--child-client",
                                     "--port", str(srv.port), "--block-mib", str(args.block_mib),
                                     "--inflight", str(args.inflight), *(["--tls"] if is_tls else [])],
            }
            for cmd in variants.values():  # untimed warm-up of each
                timed_wait4(cmd)
            runs: dict[str, list[Run]] = {k: [] for k in variants}
            for _ in range(args.repeat):
                for name, cmd in variants.items():  # interleaved, to spread the machine's noise
                    runs[name].append(timed_wait4(cmd))
            print(f"[{label}] {u}")
            for name, rs in runs.items():
                mbs, text = fmt_mbs(size, rs)
                results[f"{label}/{name}"] = mbs
                print(f"  {name:24s} {text}")
            inproc = [float(r.note.split()[3]) for r in runs["xodiag NbdClient"] if r.ok and "in-process" in r.note]
            if inproc:
                secs = statistics.median(inproc)
                print(f"  {'  (client in-process)':24s} {size / secs / 1e6:8.0f} MB/s  connect+read+disconnect "
                      f"{secs:6.3f} s, without the interpreter's start")
            client = results[f"{label}/xodiag NbdClient"]
            for ref in ("nbdcopy (default)", "nbdcopy (client shape)"):
                base = results[f"{label}/{ref}"]
                ratio = f"{client / base:.2f}" if client and base else "n/a"
                print(f"  ratio client / {ref:22s} {ratio}")
            print()
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
