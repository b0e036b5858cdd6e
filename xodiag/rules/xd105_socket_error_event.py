"""XD105: an unhandled error event carrying a socket error (noise)."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD105"
TITLE = "Unhandled error event with a socket error: logged and swallowed"
CATEGORY = "cleanup-noise"
ROLE = "noise"
FIXTURE = "tests/fixtures/rules/XD105.log"
DOC = """
XO's NBD sockets have no `'error'` listener once connected, so a socket error that arrives while no read is
pending (`read ECONNRESET`, `write EPIPE`) is logged as `unhandled error event` and swallowed. The line
itself changes nothing; the next read fails and shows up as read retries or a transfer error.
"""
NEXT = """
Look at what follows: `will retry reading block` lines or the transfer error.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("unhandled-error-event")
    if rows.empty:
        return []
    text = rows["raw"].fillna("") + " " + rows["error_code"].fillna("")
    rows = rows[text.str.contains("ECONNRESET|EPIPE|ETIMEDOUT|socket", regex=True)]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.7)]
