"""XD180: the run succeeded."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import failed, finding, frame_at
from xodiag.timeline import Timeline

ID = "XD180"
TITLE = "The backup succeeded"
CATEGORY = "cleanup-noise"
ROLE = "info"
FIXTURE = "tests/fixtures/rules/XD180.log"
DOC = """
The job log's root task ended with `status: success` (or the worker ended a run with no failure evidence).
Alarming lines in a successful run (the qcow2 `RequestAbortedError`, handshake failures followed by a
connection, attempt 0 of a retried VDI destroy) are noise or fallbacks.
"""
NEXT = """
Nothing to do. If something still looks wrong, run the analysis on the failed run's logs.
"""


def match(tl: Timeline) -> list[Finding]:
    if failed(tl):
        return []
    noise = tl.of("qcow2-close-noise", "unhandled-error-event")["frames"]
    if noise.map(lambda f: frame_at(f, "XapiStreamNbd.mjs", 91) or frame_at(f, "Xapi.mjs", 121)).any():
        return []  # a disk's NBD init failed and the error was rethrown (XD102): not a success
    ok = tl.of("task-success")
    roots = ok[ok["context"].fillna("").map(lambda c: " > " not in c)]
    if not roots.empty:
        return [finding(sys.modules[__name__], tl, roots, confidence=0.9)]
    ends = tl.of("worker-end")
    if not ends.empty and not tl.has("task-failure"):
        return [finding(sys.modules[__name__], tl, ends, confidence=0.6,
                        title="The backup worker ended the run without any failure in these logs")]
    return []
