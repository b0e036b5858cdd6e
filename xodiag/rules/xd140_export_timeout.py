"""XD140: the HTTP export stream timed out (body or inactivity timeout)."""

from __future__ import annotations

import re
import sys

from xodiag.findings import Finding
from xodiag.rules._common import failed, finding
from xodiag.timeline import Timeline

ID = "XD140"
TITLE = "The export stream timed out: the host stopped sending data"
CATEGORY = "export-timeout"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD140.log"
DOC = """
On the stream path (no NBD, or after a fallback) XO reads XAPI's `/export_raw_vdi` body through undici.
`UND_ERR_BODY_TIMEOUT` (BodyTimeoutError), `HTTP connection has timed out` (XO's `httpInactivityTimeout`)
and `Timeout reached` (TimeoutDisk: no block for 20 minutes) all mean the host stopped sending for that
long: an overloaded dom0, a slow SR, or backpressure from a slow remote.
"""
NEXT = """
Check dom0 load and the SR's latency on the exporting host at that time (xensource.log export task, SMlog).
Raising `[xapiOptions] httpInactivityTimeout` only hides it. If NBD fell back first, fix NBD (XD110).
"""

_TIMEOUT = re.compile(r"UND_ERR_BODY_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|BodyTimeoutError|HeadersTimeoutError|"
                      r"HTTP connection has timed out|Timeout reached|Body Timeout Error")


def match(tl: Timeline) -> list[Finding]:
    df = tl.df
    rows = df[tl.contains(_TIMEOUT, ("raw", "error_code"))]
    if rows.empty:
        return []
    role = "root-cause" if failed(tl) or (df["format"] == "fragment").all() else "contributing"
    return [finding(sys.modules[__name__], tl, rows, role=role, confidence=0.85)]
