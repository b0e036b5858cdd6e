"""XD130: VDI_IN_USE, told apart: retried and recovered, or retries exhausted."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD130"
TITLE = "VDI_IN_USE: a VBD still held the VDI and XO's retries were exhausted"
CATEGORY = "vdi-in-use"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD130.log"
DOC = """
`VDI_IN_USE(vdi, destroy|data_destroy)` comes from xapi when a VBD is still attached or reserved, after its
own 4-second wait. XO retries VDI/VM destroys on `VDI_IN_USE` (`xo:xapi WARN retry`, 5 s apart, up to 10
times) after removing the VDI's dom0 VBDs. A retry that later succeeds is harmless (attempt 0 is common
noise); a failed task whose error is VDI_IN_USE means the retries ran out. Since 2024 the usual holder is a
dom0 VBD left by an export or an xapi-nbd connection.
"""
NEXT = """
On the host, list the VDI's VBDs (`xe vbd-list vdi-uuid=<uuid> params=all`), look for dom0 VBDs left by
xapi-nbd in daemon.log (`Plugging VBD` without `Destroying VBD`) and in /var/lib/xapi-nbd/VBDs_to_clean_up.
"""


XO_DESTROY_TRIES = 10  # @xen-orchestra/xapi: VDI_IN_USE on destroy is retried 10 times, 5 s apart


def match(tl: Timeline) -> list[Finding]:
    mod = sys.modules[__name__]
    in_use = tl.of("vdi-in-use")
    retries = tl.of("xapi-retry")
    retries = retries[retries["error_code"].fillna("").eq("VDI_IN_USE") | retries["raw"].str.contains("VDI_IN_USE")]
    final = tl.of("task-failure", "transfer-error")
    final = final[final["raw"].str.contains("VDI_IN_USE|Disk is still attached|VDI must be free")]
    # xapi's own failure of the destroy: a backtrace or "... failed with exception ... VDI_IN_USE"
    xapi_failed = in_use[(in_use["kind"] == "backtrace") | in_use["message"].fillna("").str.contains(
        "failed with exception", regex=False)]
    # XO tries a VDI/VM destroy 10 times on VDI_IN_USE: ten xapi failures on one VDI means it gave up.
    per_vdi = xapi_failed["refs"].map(lambda r: r[0] if isinstance(r, list) and r else None).value_counts()
    exhausted = bool(len(per_vdi)) and int(per_vdi.max()) >= XO_DESTROY_TRIES
    if not final.empty or (not xapi_failed.empty and (retries.empty or exhausted)):
        rows = final if not final.empty else in_use
        import pandas as pd

        return [finding(mod, tl, pd.concat([in_use.head(2), rows.head(1)]).drop_duplicates("order"),
                        confidence=0.85)]
    if not retries.empty:
        return [finding(mod, tl, retries, role="info", confidence=0.7,
                        title="VDI_IN_USE was retried and did not fail the run")]
    if not in_use.empty:
        return [finding(mod, tl, in_use, role="contributing", confidence=0.6,
                        title="VDI_IN_USE seen; no task failure tied to it in these logs")]
    return []
