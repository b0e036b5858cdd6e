"""XD113: delta-to-full and CBT fallbacks."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD113"
TITLE = "XO fell back: CBT could not be used, or the delta was exported as a full"
CATEGORY = "cleanup-noise"
ROLE = "fallback"
FIXTURE = "tests/fixtures/rules/XD113.log"
DOC = """
`Error in openNbdCBT` (with `CBT is disabled` / `CBT_DISABLED`) means the disk is read with NBD + stream
instead of CBT; `can't compute delta ... fallBack to a full` and the task warning `Backup fell back to a
full` mean the delta export failed and XO exported the whole disk. These are fallbacks printed just before
whatever happens next; the run can still succeed.
"""
NEXT = """
Enable CBT on the VM's disks if you expect it; a full instead of a delta is expected after a chain reset.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("cbt-fallback", "delta-full-fallback")
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.8)]
