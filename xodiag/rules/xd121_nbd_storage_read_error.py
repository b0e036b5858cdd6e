"""XD121: xapi-nbd or tapdisk reports a read I/O error under an NBD export."""

from __future__ import annotations

import re
import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding
from xodiag.timeline import Timeline

ID = "XD121"
TITLE = "Storage read error on the host serving NBD (xapi-nbd / tapdisk EIO)"
CATEGORY = "storage-error"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD121.log"
DOC = """
xapi-nbd ends a connection with one line, `main: Caught exception while handling client: <exn>`.
`Failure("Partial failure during a Block.read: ...")` (often beside a tapdisk `errno -5 ... Input/output
error`) means the host could not read the VDI from its SR: a storage-side failure. XO only sees the socket
close, logs `will retry reading block` and reconnects; every reconnect hits the same error.
"""
NEXT = """
Check SMlog and the kernel log on that host, the SR's health (NFS server, iSCSI paths, local disk), and
whether the snapshot's VHD/qcow2 chain is intact (`vhd-util check`, `qemu-img check`).
"""

_READ_ERR = re.compile(r"Partial failure during a Block\.read|Input/output error|errno -5|\bEIO\b")


def match(tl: Timeline) -> list[Finding]:
    df = tl.df
    # xapi-nbd's own failure line, or tapdisk beside it; vhd-tool errors on the HTTP export are XD142's.
    nbd_side = (df["format"] == "xapi-nbd") | df["process"].isin(["tapdisk", "xapi-nbd"])
    rows = df[nbd_side & tl.contains(_READ_ERR, ("message",))]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.85)]
