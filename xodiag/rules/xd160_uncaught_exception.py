"""XD160: an uncaught exception (or worker crash) in XO."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import failed, finding
from xodiag.timeline import Timeline

ID = "XD160"
TITLE = "XO itself failed: an uncaught exception, or the worker crashed (out of memory)"
CATEGORY = "xo-internal-error"
ROLE = "root-cause"
FIXTURE = "tests/fixtures/rules/XD160.log"
DOC = """
`uncaught exception` (xo:backups:worker or xo:xo-server) is a bug in XO: an error thrown where nothing
catches it. The worker keeps running, but the operation that threw is gone; `worker exited with code`
means the backup worker died before sending its result; `FATAL ERROR: Reached heap limit ... JavaScript heap
out of memory` is Node aborting the worker (signal SIGABRT). Unlike `unhandled error event`, these can break
a backup by themselves.
"""
NEXT = """
Report it to the XO maintainers with the full stack, the XO version or commit, and the job log. For an
out-of-memory abort, check the worker's memory (`process will exit` resourceUsage) and the job's
concurrency.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("uncaught-exception", "heap-oom", "worker-crash")
    if rows.empty:
        return []
    role = "root-cause" if failed(tl) or tl.has("worker-crash", "heap-oom") else "contributing"
    return [finding(sys.modules[__name__], tl, rows, role=role, confidence=0.75)]
