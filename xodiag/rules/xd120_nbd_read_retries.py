"""XD120: bursts of NBD read retries that end in failure."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import failed, finding
from xodiag.timeline import Timeline

ID = "XD120"
TITLE = "NBD reads failed after connecting; every retry and reconnect failed too"
CATEGORY = "nbd-read-failed"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD120.log"
DOC = """
`vates:nbd-client WARN will retry reading block  <index>` is logged when an NBD read fails; NbdClient
retries each block 5 times, 1 s apart, and each retry first reconnects (a full new handshake). Any socket
error rejects every pending request, so ReadAhead produces bursts of up to 10 lines. Only the first failure
of each block is logged and the error itself is dropped. When the bursts end with a failed transfer, NBD
reads are the failure: the server dropped the connection (xapi-nbd `Caught exception while handling
client`, for example a storage read error) or the network path broke.
"""
NEXT = """
Collect daemon.log / `journalctl -u xapi-nbd` on the host serving NBD (its `Caught exception while handling
client` line names the exception), xensource.log and SMlog on that host, and the job log's transfer result.
"""


def match(tl: Timeline) -> list[Finding]:
    retries = tl.of("read-retry")
    if retries.empty:
        return []
    mod = sys.modules[__name__]
    if not failed(tl):
        return [finding(mod, tl, retries, role="info", confidence=0.6,
                        title="NBD reads were retried and the run did not fail")]
    import pandas as pd

    first = retries["time_xo"].dropna().min()
    after = tl.of("nbd-client-exception", "transfer-error", "task-failure")
    if pd.notna(first):
        after = after[after["time_xo"] >= first - pd.Timedelta(seconds=5)]
    rows = pd.concat([retries.head(2), after.head(2)])
    return [finding(mod, tl, rows, confidence=0.85, limit=4)]
