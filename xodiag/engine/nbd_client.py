"""A pure-Python asyncio NBD client that negotiates the way XO's ``@vates/nbd-client`` does.

Handshake (xo-export-path.md section 4.2): fixed-newstyle greeting, client flags ``C_FIXED_NEWSTYLE`` only,
``NBD_OPT_STARTTLS`` then a TLS handshake that does not verify the server (XO passes the XAPI certificate
but sets ``rejectUnauthorized: false``), then ``NBD_OPT_EXPORT_NAME`` (XO's way: a rejected export is just
EOF) or, with ``use_go``, ``NBD_OPT_GO`` with proper error replies. The whole handshake runs under
``connect_timeout``; every failure is an :class:`NbdError` whose ``step`` says where it happened.

Data phase: ``NBD_CMD_READ`` with simple replies matched by cookie (possibly out of order); several reads may
be in flight; each reply is awaited under ``message_timeout``. One :class:`asyncio.BufferedProtocol` serves
the connection from the first byte: during the handshake it collects bytes for the negotiation, in the data
phase it receives each reply header into a 16-byte buffer and each payload straight into the caller's buffer
(no copy; engine-notes.md section 4: 1.5-3x faster than ``StreamReader.readexactly``).

XO's quirks kept on purpose: :meth:`NbdClient.disconnect` returns at once when the client is not connected,
so a socket whose handshake failed stays open (the server sees EOF only later). A failed :meth:`connect`
therefore leaves its transport open (unless the server or the TLS layer already closed it);
:meth:`NbdClient.abort` releases it, and every transport the client ever opened.
"""

from __future__ import annotations

import asyncio
import errno as _errno
import os
import ssl
import struct
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["STEPS", "NbdClient", "NbdError", "Step"]

Step = Literal["tcp-connect", "greeting", "starttls", "tls-handshake", "export-name", "go", "read", "disc"]
STEPS: Final[tuple[str, ...]] = (
    "tcp-connect", "greeting", "starttls", "tls-handshake", "export-name", "go", "read", "disc",
)

# --- protocol constants (NBD protocol.md; values as in @vates/nbd-client/constants.mjs) ---
NBDMAGIC: Final = 0x4E42444D41474943  # "NBDMAGIC"
IHAVEOPT: Final = 0x49484156454F5054  # "IHAVEOPT"
CLISERV_MAGIC: Final = 0x00420281861253  # oldstyle negotiation
OPTION_REPLY_MAGIC: Final = 0x3E889045565A9
REQUEST_MAGIC: Final = 0x25609513
SIMPLE_REPLY_MAGIC: Final = 0x67446698
STRUCTURED_REPLY_MAGIC: Final = 0x668E33EF

FLAG_FIXED_NEWSTYLE: Final = 1 << 0
FLAG_C_FIXED_NEWSTYLE: Final = 1 << 0
FLAG_HAS_FLAGS: Final = 1 << 0

OPT_EXPORT_NAME: Final = 1
OPT_STARTTLS: Final = 5
OPT_GO: Final = 7

REP_ACK: Final = 1
REP_INFO: Final = 3
REP_ERR_BIT: Final = 1 << 31
REP_NAMES: Final[dict[int, str]] = {
    1: "NBD_REP_ACK", 2: "NBD_REP_SERVER", 3: "NBD_REP_INFO", 4: "NBD_REP_META_CONTEXT",
    REP_ERR_BIT | 1: "NBD_REP_ERR_UNSUP", REP_ERR_BIT | 2: "NBD_REP_ERR_POLICY",
    REP_ERR_BIT | 3: "NBD_REP_ERR_INVALID", REP_ERR_BIT | 4: "NBD_REP_ERR_PLATFORM",
    REP_ERR_BIT | 5: "NBD_REP_ERR_TLS_REQD", REP_ERR_BIT | 6: "NBD_REP_ERR_UNKNOWN",
    REP_ERR_BIT | 7: "NBD_REP_ERR_SHUTDOWN", REP_ERR_BIT | 8: "NBD_REP_ERR_BLOCK_SIZE_REQD",
    REP_ERR_BIT | 9: "NBD_REP_ERR_TOO_BIG",
}
INFO_EXPORT: Final = 0

CMD_READ: Final = 0
CMD_DISC: Final = 2

# NBD error values on the wire (protocol.md "Error values"); they equal the Linux errno numbers.
NBD_ERRNO_NAMES: Final[dict[int, str]] = {
    1: "EPERM", 5: "EIO", 12: "ENOMEM", 22: "EINVAL", 28: "ENOSPC", 75: "EOVERFLOW", 95: "ENOTSUP",
    108: "ESHUTDOWN",
}

_GREETING = struct.Struct(">QQH")
_OPTION = struct.Struct(">QII")
_OPTION_REPLY = struct.Struct(">QIII")
_EXPORT_NAME_REPLY = struct.Struct(">QH")  # followed by 124 zero bytes (no NO_ZEROES, like XO)
_REQUEST = struct.Struct(">IHHQQI")
_REPLY = struct.Struct(">IIQ")

EXPORT_NAME_REPLY_LEN: Final = 134
MAX_OPTION_REPLY: Final = 1 << 20  # sanity cap on one option reply's payload
MAX_READ: Final = (1 << 32) - 1
DISC_WAIT_MAX: Final = 5.0  # how long disconnect() waits for the transport to close before aborting it


class NbdError(Exception):
    """One NBD failure: ``step`` is where it happened, ``str(e)`` is ``"<step>: <cause>"`` on one line."""

    step: Step
    cause: str
    server_errno: int | None

    def __init__(self, step: Step, cause: str, *, server_errno: int | None = None) -> None:
        super().__init__(step, cause)
        self.step = step
        self.cause = " ".join(cause.split())  # one line
        self.server_errno = server_errno

    def __str__(self) -> str:
        return f"{self.step}: {self.cause}"


def describe(exc: BaseException | None) -> str:
    """One clear line for a socket, TLS or EOF failure (``None`` is a clean EOF from the server)."""
    if exc is None:
        return "server closed the connection"
    if isinstance(exc, NbdError):
        return exc.cause
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or exc.strerror or str(exc) or "unknown"
        return f"TLS error: {reason} ({type(exc).__name__})"
    if isinstance(exc, asyncio.IncompleteReadError):
        return f"server closed the connection after {len(exc.partial)} of {exc.expected} bytes"
    if isinstance(exc, OSError) and exc.errno:
        name = _errno.errorcode.get(exc.errno, f"errno {exc.errno}")
        text = os.strerror(exc.errno)
        return f"{text[:1].lower()}{text[1:]} ({name})"
    defaults: list[tuple[type[BaseException], str]] = [
        (ConnectionResetError, "connection reset by peer"),
        (ConnectionAbortedError, "connection aborted"),
        (ConnectionRefusedError, "connection refused"),
        (BrokenPipeError, "broken pipe"),
        (EOFError, "server closed the connection"),
        (TimeoutError, "timed out"),
    ]
    text = str(exc)
    if not text:
        text = next((d for cls, d in defaults if isinstance(exc, cls)), type(exc).__name__)
    return text


def _rep_name(rep: int) -> str:
    return REP_NAMES.get(rep, f"reply type {rep:#x}")


@dataclass(eq=False)
class _Pending:
    """One READ in flight. ``view`` is None once the caller gave up (timeout, cancel): payload is discarded."""

    fut: asyncio.Future[None]
    view: memoryview | None
    length: int
    offset: int


_HANDSHAKE, _DATA, _DISCARD = 0, 1, 2


class _NbdProtocol(asyncio.BufferedProtocol):
    """The connection's protocol, from the greeting to the close (also under the TLS transport)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.mode = _HANDSHAKE
        self.scratch = bytearray(256 * 1024)
        self.scratch_view = memoryview(self.scratch)
        # handshake phase
        self.hs = bytearray()
        self.want = 0
        self.waiter: asyncio.Future[None] | None = None
        self.eof = False
        # connection state
        self.aborted = False  # NbdClient.abort() was called
        self.lost = False
        self.lost_exc: BaseException | None = None
        self.closed: asyncio.Future[None] = loop.create_future()
        self.fatal: NbdError | None = None  # why the data phase ended
        # data phase
        self.pending: dict[int, _Pending] = {}
        self.hdr = bytearray(_REPLY.size)
        self.hdr_view = memoryview(self.hdr)
        self.hdr_got = 0
        self.cur: _Pending | None = None
        self.cur_got = 0

    # -- asyncio callbacks --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.mode == _DATA:
            cur = self.cur
            if cur is None:
                return self.hdr_view[self.hdr_got:]
            if cur.view is not None:
                return cur.view[self.cur_got:]
            return self.scratch_view[: min(len(self.scratch), cur.length - self.cur_got)]
        return self.scratch_view

    def buffer_updated(self, nbytes: int) -> None:
        if self.mode == _DATA:
            self._data_received(nbytes)
        elif self.mode == _HANDSHAKE:
            self.hs += self.scratch_view[:nbytes]
            if len(self.hs) >= self.want:
                self.wake()
        # _DISCARD: a failed handshake's socket; whatever the server still sends is dropped

    def eof_received(self) -> bool | None:
        self.eof = True
        self.wake()
        return None  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.lost_exc = exc
        self.wake()
        if self.mode == _DATA:
            err = NbdError("read", describe(exc))
            self.fatal = self.fatal or err
            self.fail_all(err)
        if not self.closed.done():
            self.closed.set_result(None)

    # -- handshake helpers --------------------------------------------------------------------------
    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def recv_exactly(self, n: int, step: Step) -> bytes:
        """The next ``n`` handshake bytes; EOF and socket errors become NbdError(step)."""
        self.want = n
        try:
            while len(self.hs) < n:
                if self.aborted:
                    raise NbdError(step, "connection aborted by the client")
                if self.lost and self.lost_exc is not None:
                    raise NbdError(step, describe(self.lost_exc))
                if self.eof or self.lost:
                    raise NbdError(step, f"server closed the connection after {len(self.hs)} of {n} bytes")
                self.waiter = self.loop.create_future()
                await self.waiter
        finally:
            self.waiter = None
        data = bytes(self.hs[:n])
        del self.hs[:n]
        return data

    def send(self, data: bytes, step: Step) -> None:
        tr = self.transport
        if tr is None or self.lost or tr.is_closing():
            raise NbdError(step, describe(self.lost_exc) if self.lost else "connection is closed")
        tr.write(data)

    # -- data phase ---------------------------------------------------------------------------------
    def _data_received(self, nbytes: int) -> None:
        cur = self.cur
        if cur is not None:
            self.cur_got += nbytes
            if self.cur_got >= cur.length:
                self.cur = None
                if cur.view is not None and not cur.fut.done():
                    cur.fut.set_result(None)
            return
        self.hdr_got += nbytes
        if self.hdr_got < _REPLY.size:
            return
        self.hdr_got = 0
        magic, error, cookie = _REPLY.unpack(self.hdr)
        if magic != SIMPLE_REPLY_MAGIC:
            what = "a structured reply (not negotiated)" if magic == STRUCTURED_REPLY_MAGIC else "bad reply magic"
            self.protocol_error(f"{what}: {magic:#010x}, expected {SIMPLE_REPLY_MAGIC:#010x}")
            return
        p = self.pending.pop(cookie, None)
        if p is None:
            self.protocol_error(f"reply for unknown cookie {cookie}")
            return
        if error:
            name = NBD_ERRNO_NAMES.get(error)
            text = f"server error {name} ({error})" if name else f"server error {error}"
            if not p.fut.done():
                p.fut.set_exception(NbdError("read", text, server_errno=error))
            return
        self.cur = p
        self.cur_got = 0

    def protocol_error(self, cause: str) -> None:
        err = NbdError("read", cause)
        self.fatal = self.fatal or err
        self.fail_all(err)
        self.mode = _DISCARD
        if self.transport is not None:
            self.transport.abort()

    def fail_all(self, err: NbdError) -> None:
        pending = list(self.pending.values())
        if self.cur is not None:
            pending.append(self.cur)
        self.pending.clear()
        self.cur = None
        for p in pending:
            if not p.fut.done():  # one exception object per read: each caller gets its own traceback
                p.fut.set_exception(NbdError(err.step, err.cause, server_errno=err.server_errno))


class NbdClient:
    """One NBD connection, XO style. See the module docstring for the behaviour and its quirks.

    Attributes after :meth:`connect`: ``size`` (export size in bytes), ``flags`` (transmission flags),
    ``connected``. ``cert`` is kept for fidelity only: like XO, the server certificate is not verified.
    """

    def __init__(self, address: str, port: int, exportname: str, *, tls: bool = True, cert: str | None = None,
                 use_go: bool = False, connect_timeout: float = 60.0, message_timeout: float = 60.0,
                 source_address: str | None = None) -> None:
        self.address = address
        self.port = port
        self.exportname = exportname
        self.tls = tls
        self.cert = cert
        self.use_go = use_go
        self.connect_timeout = connect_timeout
        self.message_timeout = message_timeout
        self.source_address = source_address
        self.size = 0
        self.flags = 0
        self.step: Step | None = None  # the handshake step in progress or last reached
        self._connected = False
        self._proto: _NbdProtocol | None = None
        self._leaked: list[asyncio.Transport] = []  # transports of earlier failed connects, for abort()
        self._cookie = 0

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<NbdClient {self.address}:{self.port} {self.exportname!r} tls={self.tls} {state}>"

    @property
    def connected(self) -> bool:
        p = self._proto
        return self._connected and p is not None and not p.lost and p.mode == _DATA

    # -- handshake --------------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Run the whole handshake under ``connect_timeout``; raise NbdError(step) on any failure.

        On failure the transport, if still open, stays open (XO does not close it): call :meth:`abort`.
        """
        if self.connected:
            raise RuntimeError("NbdClient.connect(): already connected")
        old = self._proto
        if old is not None and old.transport is not None and not old.lost:
            self._leaked.append(old.transport)  # XO overwrites the socket and leaks the old one
        self._connected = False
        loop = asyncio.get_running_loop()
        proto = _NbdProtocol(loop)
        self._proto = proto
        self.step = "tcp-connect"
        timeout = asyncio.timeout(self.connect_timeout)
        try:
            async with timeout:
                await self._handshake(loop, proto)
        except NbdError:
            proto.mode = _DISCARD
            raise
        except TimeoutError as exc:
            proto.mode = _DISCARD
            step = self.step or "tcp-connect"
            if timeout.expired():
                detail = ""
                if step not in ("tcp-connect", "tls-handshake"):
                    detail = f" waiting for {proto.want} bytes, got {len(proto.hs)}"
                raise NbdError(step, f"timed out after {self.connect_timeout:g} s (connect timeout){detail}") from None
            raise NbdError(step, self._cause(step, exc)) from exc
        except (OSError, EOFError) as exc:  # ssl.SSLError and ConnectionError are OSErrors
            proto.mode = _DISCARD
            step = self.step or "tcp-connect"
            raise NbdError(step, self._cause(step, exc)) from exc
        except BaseException:
            proto.mode = _DISCARD
            raise
        proto.mode = _DATA
        self._connected = True

    def _cause(self, step: Step, exc: BaseException) -> str:
        text = describe(exc)
        if step == "tcp-connect":
            text += f" to {self.address}:{self.port}"
        return text

    async def _handshake(self, loop: asyncio.AbstractEventLoop, proto: _NbdProtocol) -> None:
        local = (self.source_address, 0) if self.source_address else None
        await loop.create_connection(lambda: proto, self.address, self.port, local_addr=local)

        self.step = "greeting"
        magic, opt_magic, gflags = _GREETING.unpack(await proto.recv_exactly(_GREETING.size, "greeting"))
        if magic != NBDMAGIC:
            raise NbdError("greeting", f"not an NBD server (magic {magic:#018x})")
        if opt_magic == CLISERV_MAGIC:
            raise NbdError("greeting", "server uses oldstyle negotiation, not fixed newstyle")
        if opt_magic != IHAVEOPT:
            raise NbdError("greeting", f"bad option magic {opt_magic:#018x}")
        if not gflags & FLAG_FIXED_NEWSTYLE:
            raise NbdError("greeting", f"server lacks FIXED_NEWSTYLE (handshake flags {gflags:#06x})")
        proto.send(struct.pack(">I", FLAG_C_FIXED_NEWSTYLE), "greeting")

        if self.tls:
            self.step = "starttls"
            proto.send(_OPTION.pack(IHAVEOPT, OPT_STARTTLS, 0), "starttls")
            rmagic, ropt, rtype, rlen = _OPTION_REPLY.unpack(await proto.recv_exactly(_OPTION_REPLY.size, "starttls"))
            self._check_reply_header("starttls", rmagic, ropt, OPT_STARTTLS, rlen)
            if rtype != REP_ACK or rlen != 0:
                msg = (await proto.recv_exactly(rlen, "starttls")).decode("utf-8", "replace") if rlen else ""
                verb = "refused STARTTLS" if rtype & REP_ERR_BIT else "answered STARTTLS with"
                raise NbdError("starttls", f"server {verb} {_rep_name(rtype)}" + (f": {msg}" if msg else ""))
            if proto.hs:
                raise NbdError("starttls", f"server sent {len(proto.hs)} unexpected bytes before the TLS handshake")
            self.step = "tls-handshake"
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # XO: rejectUnauthorized false; self.cert is not used as a CA
            assert proto.transport is not None
            handshake_timeout = self.connect_timeout if self.connect_timeout > 0 else None
            tls_transport = await loop.start_tls(proto.transport, proto, ctx, server_hostname=None,
                                                 ssl_handshake_timeout=handshake_timeout)
            if tls_transport is None:
                raise NbdError("tls-handshake", "the connection closed during the TLS handshake")
            proto.transport = tls_transport

        name = self.exportname.encode("utf-8")
        if self.use_go:
            await self._go(proto, name)
        else:
            self.step = "export-name"
            proto.send(_OPTION.pack(IHAVEOPT, OPT_EXPORT_NAME, len(name)) + name, "export-name")
            try:
                reply = await proto.recv_exactly(EXPORT_NAME_REPLY_LEN, "export-name")
            except NbdError as exc:
                if "closed the connection" in exc.cause:
                    raise NbdError("export-name", f"{exc.cause} (export name rejected, or the server failed)") from None
                raise
            self.size, self.flags = _EXPORT_NAME_REPLY.unpack_from(reply)
            if not self.flags & FLAG_HAS_FLAGS:
                raise NbdError("export-name", f"transmission flags {self.flags:#06x} lack NBD_FLAG_HAS_FLAGS")
        if proto.hs:
            step: Step = "go" if self.use_go else "export-name"
            raise NbdError(step, f"server sent {len(proto.hs)} unexpected bytes after the handshake")

    @staticmethod
    def _check_reply_header(step: Step, magic: int, opt: int, want_opt: int, length: int) -> None:
        if magic != OPTION_REPLY_MAGIC:
            raise NbdError(step, f"bad option reply magic {magic:#x}")
        if opt != want_opt:
            raise NbdError(step, f"reply for option {opt}, expected {want_opt}")
        if length > MAX_OPTION_REPLY:
            raise NbdError(step, f"option reply of {length} bytes is too long")

    async def _go(self, proto: _NbdProtocol, name: bytes) -> None:
        self.step = "go"
        data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)  # no information requests
        proto.send(_OPTION.pack(IHAVEOPT, OPT_GO, len(data)) + data, "go")
        size: int | None = None
        while True:
            rmagic, ropt, rtype, rlen = _OPTION_REPLY.unpack(await proto.recv_exactly(_OPTION_REPLY.size, "go"))
            self._check_reply_header("go", rmagic, ropt, OPT_GO, rlen)
            payload = await proto.recv_exactly(rlen, "go") if rlen else b""
            if rtype & REP_ERR_BIT:
                msg = payload.decode("utf-8", "replace")
                raise NbdError("go", f"export rejected: {_rep_name(rtype)}" + (f": {msg}" if msg else ""))
            if rtype == REP_INFO and len(payload) >= 12 and struct.unpack_from(">H", payload)[0] == INFO_EXPORT:
                size, self.flags = struct.unpack_from(">QH", payload, 2)
            elif rtype == REP_ACK:
                break
            # other NBD_REP_INFO types (name, description, block size) are ignored
        if size is None:
            raise NbdError("go", "server acknowledged NBD_OPT_GO without NBD_INFO_EXPORT")
        self.size = size

    # -- data phase -------------------------------------------------------------------------------------
    async def read(self, offset: int, length: int, *, buf: bytearray | memoryview | None = None) -> memoryview:
        """NBD_CMD_READ of ``length`` bytes at ``offset``; the reply is awaited under ``message_timeout``.

        The payload lands in ``buf`` (writable, at least ``length`` bytes; the result is a view of its
        first ``length`` bytes) or in a new buffer. Several reads may be awaited concurrently. A server
        error reply fails only this read (``NbdError("read", "server error EIO (5)")``); a socket error,
        EOF or protocol error fails every pending read and ends the connection. After a timeout or a
        cancellation the late reply is drained and discarded, and ``buf`` is no longer written.
        """
        proto = self._proto
        if not self.connected or proto is None:
            why = proto.fatal.cause if proto is not None and proto.fatal is not None else "not connected"
            raise NbdError("read", why)
        if offset < 0 or not 0 < length <= MAX_READ:
            raise ValueError(f"bad read: offset {offset}, length {length}")
        if buf is None:
            view = memoryview(bytearray(length))
        else:
            view = memoryview(buf).cast("B")
            if view.readonly or len(view) < length:
                raise ValueError(f"buf must be writable and hold {length} bytes")
            view = view[:length]
        self._cookie += 1
        cookie = self._cookie
        fut: asyncio.Future[None] = proto.loop.create_future()
        p = _Pending(fut, view, length, offset)
        proto.pending[cookie] = p
        try:
            proto.send(_REQUEST.pack(REQUEST_MAGIC, 0, CMD_READ, cookie, offset, length), "read")
        except BaseException:
            del proto.pending[cookie]
            raise
        try:
            async with asyncio.timeout(self.message_timeout):
                await fut
        except TimeoutError:
            if fut.done() and not fut.cancelled():  # the reply won the race against the timer
                exc = fut.exception()
                if exc is None:
                    return view
                raise exc from None
            p.view = None
            raise NbdError(
                "read", f"no reply within {self.message_timeout:g} s for {length} bytes at offset {offset} (timed out)"
            ) from None
        except BaseException:
            p.view = None
            raise
        return view

    async def disconnect(self) -> None:
        """NBD_CMD_DISC, then close. Returns at once when not connected (XO's quirk, see module doc)."""
        if not self.connected:
            return
        proto = self._proto
        assert proto is not None and proto.transport is not None
        tr = proto.transport
        self._connected = False
        proto.mode = _DISCARD
        proto.fail_all(NbdError("read", "the client disconnected"))
        self._cookie += 1
        try:
            proto.send(_REQUEST.pack(REQUEST_MAGIC, 0, CMD_DISC, self._cookie, 0, 0), "disc")
        except NbdError:
            tr.abort()
            raise
        except (OSError, RuntimeError) as exc:
            tr.abort()
            raise NbdError("disc", describe(exc)) from exc
        tr.close()
        try:
            await asyncio.wait({proto.closed}, timeout=min(self.message_timeout, DISC_WAIT_MAX))
        finally:
            if not proto.closed.done():
                tr.abort()

    def abort(self) -> None:
        """Close the transport now, and those of earlier failed connects; pending reads fail at once.

        asyncio closes the sockets themselves on the next event-loop iteration. Safe to call at any time,
        repeatedly, and on a client that never connected.
        """
        self._connected = False
        proto = self._proto
        transports = list(self._leaked)
        self._leaked.clear()
        if proto is not None:
            if proto.mode == _DATA:
                err = proto.fatal or NbdError("read", "connection aborted by the client")
                proto.fatal = err
                proto.fail_all(err)
            proto.mode = _DISCARD
            proto.aborted = True
            proto.wake()
            if proto.transport is not None:
                transports.append(proto.transport)
        for tr in transports:
            tr.abort()
