"""XO's export of one disk, step by step, under a policy (xo-export-path.md sections 3 and 4).

1. Open the HTTP export stream and read its metadata (``export through vhd|qcow2``).
2. ``VDI.get_nbd_info``; MultiNbdClient's connects: ``concurrency`` sequential connects, each to a random
   candidate chosen with replacement, a failing address dropped (``can't connect to one nbd client``).
   No client: ``NO_NBD_AVAILABLE``; fewer than asked: ``incomplete connection``.
3. #openNbdStream's catch: the policy decides whether an error becomes a fallback to the stream.
4. NBD connected: destroy the unused stream (a qcow2 close logs the unhandled ``RequestAbortedError``
   unless the policy listens first), then read the allocated 2 MiB blocks, block i on client i % n,
   several in flight; a failed read is retried 5 times, each retry reconnecting to the same host.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from xodiag.engine.history import History
from xodiag.engine.policies import NO_NBD_AVAILABLE, InitError, Policy
from xodiag.engine.xolog import HANDSHAKE_FRAMES, QCOW2_CLOSE_FRAMES, SOURCE_FRAMES, XoLog

BLOCK = 2 * 1024 * 1024
READ_AHEAD = 8
READ_TRIES = 5
RECONNECT_TRIES = 5


class ExportFailed(Exception):
    """The disk failed: ``str`` is the error a user sees (the transfer task's result)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Timeouts:
    connect: float = 60.0  # NbdClient connectTimeout
    message: float = 60.0  # NbdClient messageTimeout
    reconnect_wait: float = 1.0  # NbdClient waitBeforeReconnect
    http_inactivity: float = 600.0  # the stream's inactivity timeout

    def scaled(self, k: float) -> Timeouts:
        return Timeouts(self.connect * k, self.message * k, self.reconnect_wait * k, self.http_inactivity * k)


class Environment(Protocol):
    """What the export talks to: the pool, seen from XO."""

    async def nbd_info(self) -> list[dict[str, Any]]: ...
    async def open_stream(self, fmt: str) -> Any: ...  # a VhdStream / Qcow2Stream, init() done
    def client(self, info: dict[str, Any], timeouts: Timeouts) -> Any: ...  # an NbdClient
    async def progress(self, done: int, total: int) -> None: ...  # the nemesis strikes at chosen moments


@dataclass
class Outcome:
    outcome: str = "failed"  # succeeded | failed | hung
    path: str = "none"  # nbd | stream | none
    error: str | None = None
    sha256_copy: str | None = None
    connects: int = 0
    failed_connects: int = 0
    retries: int = 0
    reconnects: int = 0
    nbd_clients: int = 0
    logged_abort_noise: bool = False
    waited: float = 0.0  # seconds spent in XO's (scaled) timeouts and waits
    notes: list[str] = field(default_factory=list)


class Export:
    def __init__(self, env: Environment, policy: Policy, fmt: str, concurrency: int, timeouts: Timeouts,
                 seed: int, history: History, log: XoLog, virtual_size_hint: int = 0) -> None:
        self.env = env
        self.policy = policy
        self.fmt = fmt
        self.concurrency = concurrency
        self.t = timeouts
        self.rng = random.Random(seed)
        self.h = history
        self.log = log
        self.result = Outcome()
        self.copy: bytearray | None = None

    # -- logging helpers ----------------------------------------------------------------------------
    def _log(self, ns: str, level: str, msg: str, data: list[str] | None = None) -> None:
        self.log.log(self.h.now(), ns, level, msg, data)

    # -- 1. the stream ------------------------------------------------------------------------------
    async def run(self) -> Outcome:
        r = self.result
        self._log("xo:backups:worker", "INFO", "starting backup")
        try:
            await self._run()
            r.outcome = "succeeded"
        except ExportFailed as exc:
            r.outcome = "failed"
            r.error = str(exc)
            self.log.raw_stderr("Error", f"Error in the source generator {exc}", SOURCE_FRAMES)
            self.h.fail("xo", "export", str(exc))
        self._log("xo:backups:worker", "INFO", "backup has ended")
        return r

    async def _run(self) -> None:
        self.h.invoke("xo", "open-stream", self.fmt)
        self._log("xo:xapi:xapi-disks", "INFO", f"export through {self.fmt}")
        try:
            stream = await self.env.open_stream(self.fmt)
        except Exception as exc:  # the export failed to open: no base, so XO rethrows
            self.h.fail("xo", "open-stream", str(exc))
            raise ExportFailed(f"export stream failed to open: {exc}") from exc
        self.h.ok("xo", "open-stream", {"virtual_size": stream.virtual_size})
        self.copy = bytearray(stream.virtual_size)
        try:
            clients = await self._connect_nbd()
        except _InitFailure as fail:
            err = fail.err
            if self.policy.falls_back(err):
                self.h.info("xo", "fallback", {"code": err.code, "message": err.message})
                self._log("xo:xapi:xapi-disks", "WARN", "can't connect through NBD, fall back to stream export")
                await self._copy_from_stream(stream)
                return
            await asyncio.to_thread(stream.close)
            raise ExportFailed(err.message, err.code) from None
        # 4. NBD connected: the stream is no longer needed (XapiStreamNbd.mjs:66).
        self.h.invoke("xo", "close-stream")
        await asyncio.to_thread(stream.close)
        if self.fmt == "qcow2" and not self.policy.silent_close:
            self.result.logged_abort_noise = True
            self._log("xo:backups:worker", "ERROR", "unhandled error event", self.log.error_block(
                "error", "RequestAbortedError [AbortError]", "Request aborted", QCOW2_CLOSE_FRAMES,
                {"code": "UND_ERR_ABORTED", "[Symbol(undici.error.UND_ERR)]": True,
                 "[Symbol(undici.error.UND_ERR_ABORT)]": True, "[Symbol(undici.error.UND_ERR_ABORTED)]": True}))
        self.h.ok("xo", "close-stream")
        await self._copy_from_nbd(clients, stream.allocated_blocks(BLOCK), stream.virtual_size)

    # -- 2. NBD connect -----------------------------------------------------------------------------
    async def _connect_nbd(self) -> list[Any]:
        self.h.invoke("xo", "VDI.get_nbd_info")
        try:
            infos = await self.env.nbd_info()
        except Exception as exc:  # a XapiError: not NO_NBD_AVAILABLE
            self.h.fail("xo", "VDI.get_nbd_info", str(exc))
            raise _InitFailure(InitError("INTERNAL_ERROR", f"VDI.get_nbd_info: {exc}")) from exc
        self.h.ok("xo", "VDI.get_nbd_info", [i["address"] for i in infos])
        if not infos:
            raise _InitFailure(InitError(NO_NBD_AVAILABLE, "can't connect to any nbd client"))
        candidates = list(infos)
        clients: list[Any] = []
        for _ in range(self.concurrency):
            client = await self._connect_one(candidates)
            if client is None:
                break
            clients.append(client)
        if not clients:
            raise _InitFailure(InitError(NO_NBD_AVAILABLE, "Fail to connect to any Nbd client"))
        if len(clients) < self.concurrency:
            self._log("vates:nbd-client:multi", "WARN",
                      f"incomplete connection by multi Nbd, only {len(clients)} over {self.concurrency} "
                      "expected clients")
        self.result.nbd_clients = len(clients)
        return clients

    async def _connect_one(self, candidates: list[dict[str, Any]]) -> Any:
        while candidates:
            info = self.rng.choice(candidates)  # Math.random, with replacement across passes
            client = self.env.client(info, self.t)
            self.result.connects += 1
            self.h.invoke("xo", "nbd-connect", info["address"])
            try:
                await client.connect()
            except Exception as exc:
                self.result.failed_connects += 1
                if _timed_out(exc):
                    self.result.waited += self.t.connect
                self.h.fail("xo", "nbd-connect", {"address": info["address"], "error": str(exc)})
                candidates.remove(info)
                self._log("vates:nbd-client:multi", "WARN", "can't connect to one nbd client",
                          self.log.error_block("err", "Error", _xo_message(exc), HANDSHAKE_FRAMES, {}))
                continue
            self.h.ok("xo", "nbd-connect", info["address"])
            return client
        return None

    # -- 4. reading ---------------------------------------------------------------------------------
    async def _copy_from_nbd(self, clients: list[Any], blocks: list[int], size: int) -> None:
        assert self.copy is not None
        self.result.path = "nbd"
        reconnecting: dict[int, asyncio.Future[None] | None] = dict.fromkeys(range(len(clients)))
        done = 0
        queue = list(blocks)
        failure: list[ExportFailed] = []

        async def reconnect(ci: int) -> None:
            fut = reconnecting[ci]
            if fut is not None:
                return await fut
            fut = asyncio.get_running_loop().create_future()
            reconnecting[ci] = fut
            try:
                last: Exception | None = None
                for _ in range(RECONNECT_TRIES):
                    old = clients[ci]
                    try:
                        await old.disconnect()
                    except Exception:
                        old.abort()
                    await asyncio.sleep(self.t.reconnect_wait)
                    self.result.waited += self.t.reconnect_wait
                    client = self.env.client(old.info, self.t)
                    self.result.reconnects += 1
                    self.h.invoke("xo", "nbd-reconnect", old.info["address"])
                    try:
                        await client.connect()
                        clients[ci] = client
                        self.h.ok("xo", "nbd-reconnect", old.info["address"])
                        fut.set_result(None)
                        return None
                    except Exception as exc:
                        last = exc
                        client.abort()
                        self.h.fail("xo", "nbd-reconnect", str(exc))
                assert last is not None
                fut.set_exception(last)
                fut.exception()  # retrieved: no "never retrieved" warning
                raise last
            finally:
                reconnecting[ci] = None

        async def read_block(index: int) -> None:
            nonlocal done
            offset = index * BLOCK
            length = min(BLOCK, size - offset)
            for attempt in range(READ_TRIES):
                ci = index % len(clients)
                try:
                    data = await clients[ci].read(offset, length)
                    self.copy[offset:offset + length] = data  # type: ignore[index]
                    done += 1
                    await self.env.progress(done, len(blocks))
                    return
                except Exception as exc:
                    if _timed_out(exc):
                        self.result.waited += self.t.message
                    if attempt == READ_TRIES - 1:
                        raise ExportFailed(_xo_message(exc)) from exc
                    self.result.retries += 1
                    self.h.info("xo", "read-retry", {"block": index, "error": str(exc)})
                    self._log("vates:nbd-client", "WARN", f"will retry reading block  {index}")
                    try:
                        await reconnect(ci)
                    except Exception as exc2:  # a rejection from onRetry stops pRetry
                        raise ExportFailed(_xo_message(exc2)) from exc2

        async def worker() -> None:
            while queue and not failure:
                index = queue.pop(0)
                try:
                    await read_block(index)
                except ExportFailed as exc:
                    failure.append(exc)
                    return

        await asyncio.gather(*(worker() for _ in range(READ_AHEAD)))
        for c in clients:
            try:
                await c.disconnect()
            except Exception:
                c.abort()
        if failure:
            raise failure[0]
        self.result.sha256_copy = hashlib.sha256(self.copy).hexdigest()

    async def _copy_from_stream(self, stream: Any) -> None:
        assert self.copy is not None
        self.result.path = "stream"
        self.h.invoke("xo", "stream-copy")
        copy = self.copy
        total = max(1, len(stream.allocated_blocks(BLOCK)))

        def pump() -> None:
            for offset, data in stream.blocks():
                copy[offset:offset + len(data)] = data

        try:
            await asyncio.to_thread(pump)
        except Exception as exc:
            if _timed_out(exc):
                self.result.waited += self.t.http_inactivity
            self.h.fail("xo", "stream-copy", str(exc))
            raise ExportFailed(_stream_message(exc)) from exc
        finally:
            await asyncio.to_thread(stream.close)
        await self.env.progress(total, total)
        self.h.ok("xo", "stream-copy")
        self.result.sha256_copy = hashlib.sha256(copy).hexdigest()


class _InitFailure(Exception):
    def __init__(self, err: InitError) -> None:
        super().__init__(err.message)
        self.err = err


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or "timed out" in str(exc) or "timeout" in str(exc).lower()


def _xo_message(exc: Exception) -> str:
    """The text XO's NbdClient would show for this failure (xo-export-path.md 4.5)."""
    step = getattr(exc, "step", None)
    text = str(exc)
    if step == "tcp-connect" and "refused" in text:
        where = text.rsplit(" to ", 1)[-1] if " to " in text else ""
        return f"connect ECONNREFUSED {where}".strip()
    if step in ("export-name", "greeting", "starttls", "tls-handshake") and ("closed" in text or "EOF" in text):
        want = 134 if step == "export-name" else 8
        return f"stream has ended without data, was looking for {want} bytes"
    if step == "read" and "EIO" in text:
        return "GOT ERROR CODE  : 5"
    if step == "read" and ("closed" in text or "reset" in text.lower()):
        return "stream has ended without data, was looking for 16 bytes"
    if "timed out" in text or "timeout" in text.lower():
        return "operation timed out"
    return text


def _stream_message(exc: Exception) -> str:
    text = str(exc)
    if "timed out" in text.lower() or isinstance(exc, TimeoutError):
        return "HTTP connection has timed out"
    if "ended early" in text or "reset" in text.lower() or "closed" in text.lower():
        return "other side closed"
    return text
