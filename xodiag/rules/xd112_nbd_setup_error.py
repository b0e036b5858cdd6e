"""XD112: an NBD setup error that is not NO_NBD_AVAILABLE fails the disk without a fallback."""

from __future__ import annotations

import re
import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD112"
TITLE = "NBD setup failed with an error other than NO_NBD_AVAILABLE: the disk failed without fallback"
CATEGORY = "nbd-connect-failed"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD112.log"
DOC = """
`#openNbdStream` falls back to the stream export only on `NO_NBD_AVAILABLE`. The XAPI calls made before the
NBD connect (`VDI.get_nbd_info`, `network.get_by_uuid` for the backup-network filter) are not wrapped, so a
XapiError there, or a programming error such as `Can't use the nbd client ... before init`, fails the disk
outright. The trace shows `XapiStreamNbdSource.close (XapiStreamNbd.mjs:91)` / `#openNbdStream (Xapi.mjs:121)`
when XO closed the half-built source.
"""
NEXT = """
Read the failed task's error in the job log and xapi's xensource.log for the `VDI.get_nbd_info` call at
the same time.
"""

_SETUP = re.compile(r"get_nbd_info|network\.get_by_uuid|connectNbdClientIfPossible|Can't use the nbd client|"
                    r"XapiStreamNbdSource before init")


def match(tl: Timeline) -> list[Finding]:
    df = tl.df
    failing = df[df["what"].isin(["task-failure", "transfer-error", "unhandled-rejection"])
                 | ((df["kind"] == "fragment") & (df["level"] == "ERROR"))]
    text = failing["raw"].fillna("") + " " + failing["error_message"].fillna("")
    rows = failing[text.str.contains(_SETUP)]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.8)]
