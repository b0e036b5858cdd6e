"""XD150: XO (or xapi-nbd) cannot reach XAPI."""

from __future__ import annotations

import re
import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD150"
TITLE = "XAPI was unreachable"
CATEGORY = "xapi-unreachable"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD150.log"
DOC = """
XO talks to the pool master's XAPI over HTTPS (port 443, or 80). `connect ECONNREFUSED|EHOSTUNREACH|
ETIMEDOUT <host>:443`, `HOST_OFFLINE`, `socket hang up` on XAPI calls, or xapi-nbd's `Failed to log in via
xapi's Unix domain socket` mean XAPI was down, restarting, or not reachable from XO (or its proxy). Every
XAPI call of the backup then fails.
"""
NEXT = """
Check xapi on the pool master (`systemctl status xapi`, xensource.log for a restart at that time), the
network path from XO (or XO Proxy) to the master, and a master change (HA, pool designate).
"""

_UNREACH = re.compile(r"(?:ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT|ENETUNREACH) [0-9.]+:(?:443|80)\b|HOST_OFFLINE|"
                      r"HOST_STILL_BOOTING|Failed to log in via xapi's Unix domain socket|socket hang up")


def match(tl: Timeline) -> list[Finding]:
    df = tl.df
    rows = df[tl.contains(_UNREACH, ("raw", "error_code")) & ~df["what"].isin(["nbd-connect-failed"])]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.8)]
