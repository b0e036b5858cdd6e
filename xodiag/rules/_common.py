"""Helpers shared by the rules: error text -> category, frame tests, finding construction."""

from __future__ import annotations

import re
from typing import Any

from xodiag.findings import Finding
from xodiag.timeline import Timeline

# Ordered: the first pattern that matches the error text gives the category.
_CATEGORY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("vdi-in-use", r"VDI_IN_USE|Disk is still attached to DOM0|VDI must be free"),
    ("export-timeout", r"UND_ERR_BODY_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|BodyTimeoutError|HeadersTimeoutError|"
                       r"HTTP connection has timed out|Timeout reached|Body Timeout"),
    ("nbd-unavailable", r"NO_NBD_AVAILABLE|can't connect to any nbd client|Fail to connect to any Nbd client"),
    ("storage-error", r"VDI_IO_ERROR|SR_BACKEND_FAILURE|Input/output error|\bEIO\b|"
                      r"Partial failure during a Block\.read|vhd-tool|tapdisk|SR_NOT_|VDI_MISSING"),
    ("target-write-failed", r"ENOSPC|EACCES|EROFS|ESTALE|EDQUOT|no space left|writer step failed|"
                            r"all targets have failed|permission denied|VDI_import|import_raw_vdi|"
                            r"ERR_STREAM_PREMATURE_CLOSE.*import|import.*premature"),
    ("xapi-unreachable", r"HOST_OFFLINE|HOST_STILL_BOOTING|connect (?:ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT) "
                         r"[0-9.]+:(?:443|80)\b|getaddrinfo|socket hang up|ECONNREFUSED [0-9.]+:443|"
                         r"Failed to log in via xapi|xapi is not running|XAPI.*unreachable"),
    ("nbd-read-failed", r"GOT ERROR CODE|magic number for block answer|was looking for 16 bytes|"
                        r"will retry reading block|no query associated"),
    ("nbd-connect-failed", r"was looking for 134 bytes|NBD_OPT|nbd client|XapiStreamNbd|get_nbd_info|"
                           r"ERR_ASSERTION"),
    ("export-aborted", r"ERR_STREAM_PREMATURE_CLOSE|premature close|stream has ended|aborted|ECONNRESET|"
                       r"other side closed|UND_ERR_SOCKET|TASK_CANCELLED|"
                       r"Unexpected end|invalid HTTP header|unexpected 500"),
    ("xo-internal-error", r"TypeError|ReferenceError|RangeError|Cannot read propert|is not a function|"
                          r"uncaught exception|worker exited with code"),
)
_COMPILED = [(cat, re.compile(p, re.IGNORECASE)) for cat, p in _CATEGORY_PATTERNS]


def categorize(text: str) -> str:
    for cat, rx in _COMPILED:
        if rx.search(text):
            return cat
    return "unknown"


def error_text(row: Any) -> str:
    parts = [row.message, row.error_name, row.error_code, row.error_message]
    text = " ".join(p for p in parts if isinstance(p, str))
    if isinstance(row.raw, str) and row.kind in ("raw-stderr", "fragment", "task-end"):
        text += " " + row.raw
    return text


def frame_at(frames: Any, file_suffix: str, line: int | None = None, function: str | None = None) -> bool:
    if not isinstance(frames, list):
        return False
    for f in frames:
        file = f.get("file") or ""
        if file.endswith(file_suffix) and (line is None or f.get("line") == line):
            return True
        if function is not None and (f.get("function") or "").endswith(function):
            return True
    return False


def finding(module: Any, tl: Timeline, rows: Any, *, role: str | None = None, category: str | None = None,
            confidence: float, title: str | None = None, limit: int = 3) -> Finding:
    import pandas as pd

    # The time of the cause: the first evidence row that has a time (rules put the cause first).
    times = rows["time_xo"].dropna() if len(rows) else None
    when = times.iloc[0] if times is not None and len(times) else None
    return Finding(
        rule=module.ID,
        category=category or module.CATEGORY,
        role=role or module.ROLE,
        confidence=confidence,
        title=title or module.TITLE,
        evidence=tl.evidence(rows, limit),
        explanation=module.DOC.strip(),
        next_steps=module.NEXT.strip(),
        when=when if when is not None and not pd.isna(when) else None,
    )


def failed(tl: Timeline) -> bool:
    """Is there direct evidence that the run failed? A failed task, the swallowed transfer error, a dead
    worker, a failed writer; in a paste, an error that is not cleanup noise."""
    if tl.has("task-failure", "transfer-error", "worker-crash", "writer-failed"):
        return True
    return not pasted_errors(tl).empty


def pasted_errors(tl: Timeline) -> Any:
    """Error lines without a log header that are failure evidence. In a paste any error counts; in a
    log, stray unprefixed lines count only when they carry the transfer's failure (SynchronizedDisk's
    wrapper), because XO also prints warnings it ignores that way."""
    df = tl.df
    pasted = df[(df["kind"] == "fragment") & (df["level"] == "ERROR")]
    pasted = pasted[~pasted["what"].isin(["qcow2-close-noise", "unhandled-error-event"])]
    pasted = pasted[~pasted["raw"].fillna("").str.contains("UND_ERR_ABORTED|RequestAbortedError")]
    return pasted[(pasted["format"] == "fragment")
                  | pasted["raw"].fillna("").str.contains("Error in the source generator", regex=False)]
