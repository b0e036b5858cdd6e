"""XD131: a dom0 VBD plugged by xapi-nbd and never destroyed, beside VDI_IN_USE."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD131"
TITLE = "A dom0 VBD plugged by xapi-nbd was still attached when the VDI was destroyed"
CATEGORY = "vdi-in-use"
ROLE = "contributing"
FIXTURE = "tests/fixtures/rules/XD131.log"
DOC = """
For each NBD connection xapi-nbd creates and plugs a read-only VBD in dom0 (`Plugging VBD <ref>`) and
unplugs and destroys it when the connection ends (`Unplugging VBD`, `Destroying VBD`). A VBD that is
plugged but never destroyed (xapi-nbd crashed, cleanup failed, or XO never closed the connection) keeps the
VDI attached: the later `VDI.destroy` / `VDI.data_destroy` of the snapshot fails with `VDI_IN_USE`.
"""
NEXT = """
On that host: `xe vbd-list vm-uuid=<dom0 uuid> vdi-uuid=<vdi>`; unplug and destroy the stale VBD; check
/var/lib/xapi-nbd/VBDs_to_clean_up and xapi-nbd's `Caught exception while cleaning up VBD` lines.
"""


def match(tl: Timeline) -> list[Finding]:
    plugged = tl.of("vbd-plug")
    if plugged.empty or not tl.has("vdi-in-use"):
        return []
    import pandas as pd

    # Still attached when xapi refused the destroy: never destroyed, or destroyed only afterwards.
    first_in_use = tl.of("vdi-in-use")["time_xo"].dropna().min()
    released: set[str] = set()
    for r in tl.of("vbd-destroy", "vbd-unplug").itertuples(index=False):
        if pd.isna(first_in_use) or pd.isna(r.time_xo) or r.time_xo <= first_in_use:
            released.update(r.refs or [])
    stale = plugged[plugged["refs"].map(lambda r: bool(r) and not set(r) & released)]
    if stale.empty:
        return []
    rows = pd.concat([stale.head(2), tl.of("vdi-in-use").head(1)])
    return [finding(sys.modules[__name__], tl, rows, confidence=0.8)]
