"""XAPI's ``/export_raw_vdi/`` on loopback: streams a prepared VHD or qcow2 image from a background thread.

``GET /export_raw_vdi/?vdi=<uuid>&format=vhd|qcow2`` (other query parameters such as ``session_id`` are
ignored) answers 200 with Content-Length and the image in chunks; 404 for another vdi; 400 for a format
that is missing or not prepared. Faults, applied to every request while set (attributes can be changed
at any time):

- ``abort_after=N``: after N body bytes the socket is closed with a RST (SO_LINGER 0);
- ``stall_after=N``: after N body bytes nothing more is sent; the socket stays open until :meth:`stop`
  (or until the client goes away).

A client closing the stream early is normal (XO closes it once NBD is connected), so nothing is logged.
Optional TLS (``tls=(cert, key)``) makes it HTTPS like XAPI's port 443.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
import struct
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

__all__ = ["HttpExport", "HttpRequestRecord"]


@dataclass
class HttpRequestRecord:
    path: str
    status: int
    format: str | None = None
    bytes_sent: int = 0
    outcome: str = ""  # complete, aborted, stalled, client-closed, error


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    export: HttpExport

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that closes early (BrokenPipe, ConnectionReset, SSLEOFError) is normal here
        return


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "xapi-loopback"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        ex = self.server.export
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        rec = HttpRequestRecord(path=self.path, status=0)
        ex._record(rec)
        if url.path.rstrip("/") != "/export_raw_vdi":
            return self._error(rec, 404, "no such handler")
        vdi = (q.get("vdi") or [""])[0]
        fmt = (q.get("format") or [""])[0]
        rec.format = fmt or None
        if vdi != ex.vdi_uuid:
            return self._error(rec, 404, f"VDI {vdi!r} not found")
        path = ex.images.get(fmt)
        if path is None:
            return self._error(rec, 400, f"bad format {fmt!r}: expected one of {sorted(ex.images)}")
        size = path.stat().st_size
        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        abort_after, stall_after, chunk = ex.abort_after, ex.stall_after, ex.chunk
        limit = min(x for x in (abort_after, stall_after, size) if x is not None)
        try:
            with open(path, "rb") as f:
                while rec.bytes_sent < limit:
                    data = f.read(min(chunk, limit - rec.bytes_sent))
                    if not data:
                        break
                    self.wfile.write(data)
                    rec.bytes_sent += len(data)
                    ex._add_bytes(len(data))
            if abort_after is not None and rec.bytes_sent >= abort_after and abort_after < size:
                rec.outcome = "aborted"
                self._rst()
            elif stall_after is not None and rec.bytes_sent >= stall_after and stall_after < size:
                rec.outcome = "stalled"
                self._stall(ex)
            else:
                rec.outcome = "complete"
        except OSError:  # includes ssl.SSLError: the client went away
            rec.outcome = "client-closed"
            self.close_connection = True

    def _error(self, rec: HttpRequestRecord, status: int, msg: str) -> None:
        rec.status = status
        rec.outcome = "error"
        body = msg.encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _rst(self) -> None:
        sock: socket.socket = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # close the fd now, whatever makefile() references remain: the kernel sends a RST
        with contextlib.suppress(OSError, ValueError):
            os.close(sock.detach())
        self.close_connection = True

    def _stall(self, ex: HttpExport) -> None:
        sock: socket.socket = self.connection
        # hold the socket until stop(); notice a client that goes away (recv returns b"" or fails)
        with contextlib.suppress(OSError, ValueError):
            sock.settimeout(0.05)
        while not ex._stopping.is_set():
            try:
                if sock.recv(4096) == b"":
                    return
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (OSError, ValueError):
                return


class HttpExport:
    """The export endpoint of one VDI, on ``address:port`` (port 0: pick a free one; see ``.port``)."""

    def __init__(
        self,
        address: str,
        vdi_uuid: str,
        images: dict[str, Path | str],
        *,
        port: int = 0,
        abort_after: int | None = None,
        stall_after: int | None = None,
        chunk: int = 1024 * 1024,
        tls: tuple[Path | str, Path | str] | None = None,
    ) -> None:
        ip = ipaddress.ip_address(address)
        if ip not in ipaddress.ip_network("127.0.0.0/8"):
            raise ValueError(f"{address}: only loopback 127.0.0.0/8 addresses are allowed")
        unknown = set(images) - {"vhd", "qcow2"}
        if unknown:
            raise ValueError(f"images: unknown format(s) {sorted(unknown)}")
        self.address = address
        self.vdi_uuid = vdi_uuid
        self.images: dict[str, Path] = {k: Path(v) for k, v in images.items()}
        self.abort_after = abort_after
        self.stall_after = stall_after
        self.chunk = chunk
        self.tls = tls
        self.port = port
        self.requests: list[HttpRequestRecord] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def request_count(self) -> int:
        return len(self.requests)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def url(self, fmt: str = "vhd", vdi: str | None = None, session_id: str | None = None) -> str:
        q: dict[str, str] = {}
        if session_id is not None:
            q["session_id"] = session_id
        q["vdi"] = vdi if vdi is not None else self.vdi_uuid
        q["format"] = fmt
        return f"{self.scheme}://{self.address}:{self.port}/export_raw_vdi/?{urllib.parse.urlencode(q)}"

    def _record(self, rec: HttpRequestRecord) -> None:
        with self._lock:
            self.requests.append(rec)

    def _add_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes_sent += n

    def start(self) -> Self:
        for fmt, p in self.images.items():
            if not p.is_file():
                raise FileNotFoundError(f"{fmt} image {p}")
        srv = _Server((self.address, self.port), _Handler)
        srv.export = self
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            # handshake lazily in the handler thread, not in accept() on the serving thread
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
        self.port = srv.server_address[1]
        self._server = srv
        self._stopping.clear()
        self._thread = threading.Thread(
            target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name=f"httpexport-{self.address}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled streams, stop serving and close the listening socket."""
        self._stopping.set()
        srv, self._server = self._server, None
        if srv is not None:
            srv.shutdown()
            srv.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
