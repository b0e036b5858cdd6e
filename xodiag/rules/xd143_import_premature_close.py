"""XD143: premature close on the import leg of a replication."""

from __future__ import annotations

import re
import sys

from xodiag.findings import Finding
from xodiag.rules._common import failed, finding
from xodiag.timeline import Timeline

ID = "XD143"
TITLE = "The target closed the import early (replication import leg)"
CATEGORY = "target-write-failed"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD143.log"
DOC = """
In a replication (continuous or delta to an SR) XO streams the disk into the target pool with
`VDI_import` / `/import_raw_vdi`. `ERR_STREAM_PREMATURE_CLOSE` or an aborted request on that leg means the
target side stopped reading: the target XAPI closed the import (a known xapi behaviour, worked around in
xen-api 5419957e06), the target SR failed, or the target host went away.
"""
NEXT = """
Read xensource.log on the TARGET pool's master around that time (the `VDI.import` / `import_raw_vdi`
task) and the target SR's SMlog.
"""

_IMPORT = re.compile(r"import", re.IGNORECASE)
_CLOSE = re.compile(r"ERR_STREAM_PREMATURE_CLOSE|[Pp]remature close|aborted|ECONNRESET")


def match(tl: Timeline) -> list[Finding]:
    df = tl.df
    if not failed(tl) and not (df["format"] == "fragment").all():
        return []  # XO logs an early close of /import_raw_vdi/ as a warning and ignores it
    rows = df[tl.contains(_IMPORT) & tl.contains(_CLOSE) & df["level"].isin(["ERROR", "WARN"])]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.75)]
