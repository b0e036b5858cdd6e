"""XD161: the backup worker had to be forced to exit (leaked sockets)."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD161"
TITLE = "The backup worker was forced to exit: sockets or streams were left open"
CATEGORY = "cleanup-noise"
ROLE = "consequence"
FIXTURE = "tests/fixtures/rules/XD161.log"
DOC = """
`worker process did not exit automatically, forcing...` comes 30 s after `backup has ended` when open
handles kept the worker alive: typically NBD sockets of failed handshakes (XO never closes them) or the
export streams of sibling disks when one disk failed to open. `process.exit()` closes them now, so the
hosts log abrupt disconnects (xapi-nbd `Caught exception while handling client`) at this moment. It is a
consequence of an earlier failure or fallback, never the cause.
"""
NEXT = """
Look before it: the first failure or fallback of the run. Host-side errors at the same second as the forced
exit are part of this cleanup.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("worker-forced-exit")
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.9)]
