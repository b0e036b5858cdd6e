"""XD111: per-host NBD handshake failures, including partial concurrency."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD111"
TITLE = "NBD handshake failed on some hosts; XO moved on to the next candidate"
CATEGORY = "nbd-connect-failed"
ROLE = "fallback"
FIXTURE = "tests/fixtures/rules/XD111.log"
DOC = """
`vates:nbd-client:multi WARN can't connect to one nbd client { err }` is one failed NBD handshake.
`MultiNbdClient` drops that address for the rest of the connect and tries another random candidate; only
when none is left does it throw `NO_NBD_AVAILABLE` (then XD110). `incomplete connection by multi Nbd, only
n over N expected clients` means fewer connections than `nbdConcurrency`: the export still uses NBD. The
error text says which step failed: `was looking for 134 bytes` means the server closed the connection at
the export name (xapi-nbd could not attach the VDI: busy, VBD.plug failure, invalid session);
`ECONNREFUSED` means nothing listens on port 10809; `operation timed out` a silent drop.
"""
NEXT = """
On the host named in the error, read daemon.log / `journalctl -u xapi-nbd` for `Caught exception while
handling client`, and xensource.log for the VBD.plug that failed.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("nbd-connect-failed", "nbd-incomplete")
    if rows.empty:
        return []
    fell_back = tl.has("nbd-fallback", "nbd-none")
    title = TITLE if not fell_back else "NBD handshake failed on every candidate host"
    return [finding(sys.modules[__name__], tl, rows, confidence=0.85, title=title,
                    role="contributing" if fell_back else "fallback")]
