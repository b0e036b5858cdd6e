"""XD104: abort noise from a writer closing a stream at the end of a (fallback) transfer."""

from __future__ import annotations

import sys

from xodiag.findings import Finding
from xodiag.rules._common import finding, frame_at
from xodiag.timeline import Timeline

ID = "XD104"
TITLE = "RequestAbortedError from a writer's close: the stream transfer ended"
CATEGORY = "cleanup-noise"
ROLE = "noise"
FIXTURE = "tests/fixtures/rules/XD104.log"
DOC = """
The abort error's frames come from a writer's `close` or `transfer` `finally` block
(`_AbstractIncrementalWriter`, `IncrementalRemoteWriter`): the writer closed the export stream when the
transfer ended. This is the normal end of a stream (fallback) transfer, not a failure on its own.
"""
NEXT = """
If the job failed, look at the transfer task's `result` in the job log and at the `{ err: ... }` block
on the worker's stderr.
"""

_WRITER = ("Writer.close", "Writer.transfer", "Writer._transfer", "_AbstractIncrementalWriter.mjs",
           "IncrementalRemoteWriter.mjs", "FullRemoteWriter.mjs")


def _writer_frames(frames: object) -> bool:
    if not isinstance(frames, list):
        return False
    if frame_at(frames, "XapiStreamNbd.mjs") or frame_at(frames, "Xapi.mjs"):
        return False
    return any(any(w in (f.get("function") or "") or (f.get("file") or "").endswith(w) for w in _WRITER)
               for f in frames)


def match(tl: Timeline) -> list[Finding]:
    rows = tl.of("qcow2-close-noise", "unhandled-error-event")
    rows = rows[rows["frames"].map(_writer_frames)]
    if rows.empty:
        return []
    return [finding(sys.modules[__name__], tl, rows, confidence=0.8)]
