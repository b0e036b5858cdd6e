"""XD142: VDI_IO_ERROR from vhd-tool or the SR while exporting."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD142"
TITLE = "Storage error on the host while exporting the VDI (VDI_IO_ERROR / SR_BACKEND_FAILURE)"
CATEGORY = "storage-error"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD142.log"
DOC = """
`VDI_IO_ERROR` (often with `vhd-tool: internal error` or a tapdisk error) or `SR_BACKEND_FAILURE_*` means
the host could not read the VDI from its SR while serving the export. An exception: XO itself aborts the
HTTP export after connecting NBD (XD101), and the export task then ends with a broken pipe; a
VDI_IO_ERROR within seconds of that close is a consequence of XO's close, not a storage fault.
"""
NEXT = """
Check SMlog on that host, the SR's health, and the VDI chain (`vhd-util check`, `qemu-img check`).
"""


def match(tl: Timeline) -> list[Finding]:
    import pandas as pd

    rows = tl.of("vdi-io-error", "vhd-tool-error", "sr-error")
    if rows.empty:
        return []
    mod = sys.modules[__name__]
    # A VBD.plug failing for xapi-nbd at the moment of a failed NBD handshake explains that handshake.
    handshakes = tl.of("nbd-connect-failed")["time_xo"].dropna()
    if not handshakes.empty:
        at_handshake = rows["time_xo"].map(
            lambda t: pd.notna(t) and bool(((handshakes - t).abs() <= pd.Timedelta(seconds=5)).any()))
        plug = rows["context"].fillna("").str.contains("VBD.plug|UNIX /var/lib/xcp/xapi", regex=True)
        explained = rows[at_handshake & plug]
        rows = rows[~(at_handshake & plug)]
        if rows.empty:
            return [finding(mod, tl, explained, role="contributing", category="nbd-connect-failed",
                            confidence=0.75, title="A storage error on VBD.plug made xapi-nbd refuse the NBD "
                                                   "connection (XO moved on to another host)")]
    # A broken pipe on the export means the READER (XO) closed the connection: not a storage fault.
    broken_pipe = rows["raw"].str.contains("Broken ?pipe|EPIPE|BrokenPipeError", case=False)
    consequence = rows[broken_pipe]
    rows = rows[~broken_pipe]
    if rows.empty:
        closes = tl.of("qcow2-close-noise", "export-open")["time_xo"].dropna()
        near = consequence["time_xo"].map(
            lambda t: pd.notna(t) and bool(((closes - t).abs() <= pd.Timedelta(seconds=5)).any()))
        title = ("The export task failed with a broken pipe because XO closed the stream after connecting NBD"
                 if near.any() else "The export task failed with a broken pipe: XO, the reader, closed the "
                 "connection (the reason is on XO's side)")
        return [finding(mod, tl, consequence, role="consequence", category="cleanup-noise", confidence=0.75,
                        title=title)]
    return [finding(mod, tl, rows, confidence=0.8)]
