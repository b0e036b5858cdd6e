"""XD170: the deepest failed task of the job (or the swallowed transfer error), categorised."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import categorize, error_text, finding, pasted_errors
from xodiag.timeline import Timeline

ID = "XD170"
TITLE = "The backup failed with this error"
CATEGORY = "unknown"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD170.log"
DOC = """
The job log's task tree says what failed: the deepest task with `status: failure`, ordered by time, and
its `result` (a VM task often has no `result` of its own: its status comes from a failed `transfer`
subtask whose error was swallowed and printed as a raw `{ err: ... }` block on the worker's stderr).
SynchronizedDisk wraps source errors as `Error in the source generator <message>`; the wrapped message is
the one that matters. This rule names that error when no more specific rule explains it.
"""
NEXT = """
If the error is generic, collect the hosts' xensource.log and daemon.log (xapi-nbd) for the same minutes.
"""

def match(tl: Timeline) -> list[Finding]:
    df = tl.df
    cand = df[df["what"].isin(["task-failure", "transfer-error", "worker-crash", "writer-failed"])]
    if cand.empty:
        cand = pasted_errors(tl)
    if cand.empty:
        return []
    # Tasks with a result say more than their parents; the deepest, then the earliest.
    informative = cand[cand["error_message"].notna() | cand["error_code"].notna() | (cand["kind"] != "task-end")]
    if not informative.empty:
        cand = informative
    depth = cand["context"].fillna("").str.count(" > ")
    cand = cand.assign(_depth=depth).sort_values(["_depth", "time_xo", "order"], ascending=[False, True, True])
    row = next(cand.itertuples(index=False))
    category = categorize(error_text(row))
    if category in ("export-aborted", "nbd-connect-failed", "unknown") and tl.has("read-retry"):
        category = "nbd-read-failed"
    text = row.error_message if isinstance(row.error_message, str) else (row.message or "")
    return [finding(sys.modules[__name__], tl, cand.head(1), category=category, confidence=0.6,
                    title=f"The backup failed: {str(text)[:160]}")]
