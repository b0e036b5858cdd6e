"""XD101: RequestAbortedError from closing a qcow2 export after NBD connected (noise)."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding, frame_at
from xodiag.timeline import Timeline

ID = "XD101"
TITLE = "RequestAbortedError at NBD stream init is cleanup noise: NBD had connected"
CATEGORY = "cleanup-noise"
ROLE = "noise"
FIXTURE = "tests/fixtures/rules/XD101.log"
DOC = """
`xo:backups:worker ERROR unhandled error event` with undici's `RequestAbortedError` (`UND_ERR_ABORTED`)
through `QcowStream.close` <- `XapiStreamNbdSource.init (XapiStreamNbd.mjs:66)` <- `#openNbdStream
(Xapi.mjs:108)` is logged on every successful NBD export of a qcow2 VDI. XO opens the HTTP export first to
read the disk's metadata, connects NBD (line 62 has resolved by then), then destroys the HTTP body it no
longer needs (line 66). `QcowStream.close()` destroys the body without an error listener, so undici's
abort error is emitted as an event nobody listens to; XO's patched `emit` logs and swallows it. It cannot
fail a task: it proves that NBD connected. The real failure, if any, is elsewhere.
"""
NEXT = """
Look for the real error: the job log JSON (the deepest failed task's `result`), the rest of the worker
output (`will retry reading block`, `{ err: ... }` on stderr, `writer step failed`), and the hosts'
xensource.log and daemon.log (xapi-nbd) around the same time.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("qcow2-close-noise")
    if rows.empty:
        return []
    init = rows[rows["frames"].map(lambda f: frame_at(f, "XapiStreamNbd.mjs", 66) or frame_at(f, "Xapi.mjs", 108))]
    if not init.empty:
        return [finding(sys.modules[__name__], tl, init, confidence=0.95)]
    bare = rows[rows["frames"].map(lambda f: not f)]
    if not bare.empty:  # a paste cut before the frames: the usual reading, with less certainty
        return [finding(sys.modules[__name__], tl, bare, confidence=0.6,
                        title="RequestAbortedError (UND_ERR_ABORTED) without frames: most likely the harmless "
                              "qcow2 export close")]
    return []
