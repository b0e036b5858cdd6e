"""XD171: a backup writer (remote or SR target) failed."""

from __future__ import annotations

import re
import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD171"
TITLE = "Writing to the backup target failed"
CATEGORY = "target-write-failed"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD171.log"
DOC = """
`writer step failed` / `all targets have failed, step: ...` (xo:backups:AbstractVmRunner) or a transfer
error such as `ENOSPC`, `EACCES`, `EROFS` or `ESTALE` means the backup target (a remote: NFS, SMB, S3; or
an SR for replication) failed while XO was writing; the source side was fine.
"""
NEXT = """
Check the remote: free space, permissions, mount state (`ESTALE` means the NFS export changed under the
mount), and XO's remote test in Settings > Remotes.
"""

_SOURCE_SIDE = re.compile(r"Error in the source generator|other side closed|UND_ERR_SOCKET|UND_ERR_BODY_TIMEOUT|"
                          r"UND_ERR_ABORTED|ECONNRESET|stream has ended|Timeout reached|will retry reading block")
_WRITE = re.compile(r"ENOSPC|EACCES|EROFS|ESTALE|EDQUOT|no space left on device|permission denied", re.IGNORECASE)


def match(tl: Timeline) -> list[Finding]:
    df = tl.df
    writer = tl.of("writer-failed")
    # A writer also fails when its SOURCE stream dies; only a target-side error makes this rule's case.
    source_side = tl.contains(_SOURCE_SIDE, rows=writer)
    writer = writer[~source_side]
    errs = df[tl.contains(_WRITE, ("raw", "error_code")) & df["level"].isin(["ERROR", "WARN"])]
    import pandas as pd

    rows = pd.concat([errs.head(2), writer.head(2)]).drop_duplicates("order").sort_values("order")
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.8 if not errs.empty else 0.65)]
