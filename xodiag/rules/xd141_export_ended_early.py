"""XD141: the export stream ended early or was aborted (not the harmless qcow2 close)."""

from __future__ import annotations

import re
import sys

from xodiag.findings import Finding
from xodiag.rules._common import failed, finding
from xodiag.timeline import Timeline

ID = "XD141"
TITLE = "The export stream ended early"
CATEGORY = "export-aborted"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD141.log"
DOC = """
The XAPI export stream ended before the disk was read: `ERR_STREAM_PREMATURE_CLOSE`, `stream has ended ...`
outside an NBD handshake or read, `read ECONNRESET` on the export connection, `Unexpected end of stream`,
or `invalid HTTP header in response body` (XAPI answered 200 then sent an error page). XAPI or the host
aborted the export (task cancelled, vhd-tool or qcow2 export failure, xapi restart).
"""
NEXT = """
Read xensource.log on the exporting host around that time: the `[XO] Exporting content of VDI` task's end,
vhd-tool / qcow2-to-stdout errors, a xapi restart.
"""

_EARLY = re.compile(r"ERR_STREAM_PREMATURE_CLOSE|[Pp]remature close|Unexpected end of|invalid HTTP header|"
                    r"unexpected 500|stream has ended|ECONNRESET|other side closed|UND_ERR_SOCKET|TASK_CANCELLED")


def match(tl: Timeline) -> list[Finding]:
    if not failed(tl) and not (tl.df["format"] == "fragment").all():
        return []
    if tl.has("read-retry"):
        return []  # NBD reads, not the stream: XD120
    df = tl.df
    cand = df[df["what"].isin(["task-failure", "transfer-error", "unhandled-rejection"]) |
              (df["format"] == "fragment")]
    text = cand["raw"].fillna("") + " " + cand["error_message"].fillna("")
    # NBD client errors (handshake or block reads) and the import leg have their own rules.
    nbd = text.str.contains(r"nbd-client|NbdClient|#readBlockResponse|#handshake|was looking for (?:16|134) bytes|"
                            r"[Ii]mport", regex=True)
    rows = cand[text.str.contains(_EARLY) & ~nbd]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.7)]
