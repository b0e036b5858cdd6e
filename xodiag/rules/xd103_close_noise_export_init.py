"""XD103: abort noise from #openExportStream's catch: the export itself failed to open."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding, frame_at
from xodiag.timeline import Timeline

ID = "XD103"
TITLE = "RequestAbortedError from #openExportStream: the export failed to open"
CATEGORY = "cleanup-noise"
ROLE = "noise"
FIXTURE = "tests/fixtures/rules/XD103.log"
DOC = """
The abort error's frames include `#openExportStream (Xapi.mjs:189)`: the HTTP export stream failed while
XO read its metadata, and XO closed it in the `catch`. With a base snapshot XO then retries as a full
export (`can't compute delta ... fallBack to a full`); without one it rethrows. The abort line is noise;
the export-open error is what matters.
"""
NEXT = """
Collect the job log JSON and xapi's xensource.log on the host that served `/export_raw_vdi` (the
`[XO] Exporting content of VDI` task) to see why the export failed.
"""


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("qcow2-close-noise", "unhandled-error-event")
    rows = rows[rows["frames"].map(lambda f: frame_at(f, "Xapi.mjs", 189, "#openExportStream"))]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.85)]
