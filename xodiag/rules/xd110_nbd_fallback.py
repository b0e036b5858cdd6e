"""XD110: NO_NBD_AVAILABLE, then the disk falls back to the stream export."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD110"
TITLE = "No NBD connection could be made: XO fell back to the HTTP stream export"
CATEGORY = "nbd-unavailable"
ROLE = "fallback"
FIXTURE = "tests/fixtures/rules/XD110.log"
DOC = """
`can't connect through NBD, fall back to stream export` (xo:xapi:xapi-disks) is logged when
`connectNbdClientIfPossible` throws `NO_NBD_AVAILABLE`: either `VDI.get_nbd_info` returned no usable
record (no network with purpose `nbd`/`insecure_nbd`, or the backup-network filter removed every address),
or every candidate's handshake failed. That is the only case where XO falls back; the disk continues over
the XAPI HTTP export. A fallback is not a failure, but the stream path is slower and has its own timeouts.
"""
NEXT = """
Check the pool's networks: one with purpose `nbd` reachable from XO (or its proxy), and the job's backup
network setting. The per-host `can't connect to one nbd client` lines say why each candidate failed.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("nbd-fallback", "nbd-none")
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.9)]
