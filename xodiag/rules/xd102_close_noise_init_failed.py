"""XD102: the same abort noise from XapiStreamNbdSource.close after a failed init."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding, frame_at
from xodiag.timeline import Timeline

ID = "XD102"
TITLE = "RequestAbortedError from closing a source whose NBD init failed: a real error was rethrown"
CATEGORY = "cleanup-noise"
ROLE = "noise"
FIXTURE = "tests/fixtures/rules/XD102.log"
DOC = """
The abort error went through `XapiStreamNbdSource.close (XapiStreamNbd.mjs:91)` from
`#openNbdStream (Xapi.mjs:121)`: `init()` failed with an error other than `NO_NBD_AVAILABLE`, XO closed the
half-built source (`source?.close().catch(warn)`) and rethrew. The line itself is noise, but it marks a
disk that failed WITHOUT falling back to the stream export: the rethrown error is the real one.
"""
NEXT = """
Find the rethrown error in the job log (the deepest failed task's `result`), typically a XapiError from
`VDI.get_nbd_info` / `network.get_by_uuid`, or an export-open failure.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("qcow2-close-noise")
    rows = rows[rows["frames"].map(lambda f: frame_at(f, "XapiStreamNbd.mjs", 91) or frame_at(f, "Xapi.mjs", 121))]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.9)]
