"""``journalctl -o json`` -> syslog-style lines for the line framer.

Each JSON line becomes ``<UTC ISO time> <host> <identifier>[<pid>]: <MESSAGE>``, so xo-server
records and their continuation lines are framed exactly as in the short format. MESSAGE may be a
byte array (journald's form for non-UTF-8 text).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator


def to_syslog_line(obj: dict) -> str | None:
    msg = obj.get("MESSAGE")
    if isinstance(msg, list):
        try:
            msg = bytes(int(b) & 0xFF for b in msg).decode("utf-8", errors="replace")
        except (TypeError, ValueError):
            msg = None
    if not isinstance(msg, str):
        return None
    ts = obj.get("__REALTIME_TIMESTAMP")
    try:
        when = dt.datetime.fromtimestamp(int(ts) / 1_000_000, dt.UTC)
        stamp = when.isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    host = str(obj.get("_HOSTNAME") or "-").replace(" ", "_")
    ident = str(obj.get("SYSLOG_IDENTIFIER") or obj.get("_COMM") or "-").replace(" ", "_")
    pid = obj.get("SYSLOG_PID") or obj.get("_PID")
    pid_part = f"[{pid}]" if pid is not None and str(pid).isdigit() else ""
    return f"{stamp} {host} {ident}{pid_part}: {msg}"


NOT_AN_ENTRY = "\x01"  # what a line that is not a journal entry becomes: the framer counts it unparsed


def convert(lines: Iterable[str]) -> Iterator[str]:
    """Yield one converted line per input line (``NOT_AN_ENTRY`` for lines that are not entries)."""
    for line in lines:
        s = line.strip()
        out = None
        if s.startswith("{"):
            try:
                obj = json.loads(s)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict):
                out = to_syslog_line(obj)
        if out is None:
            yield NOT_AN_ENTRY if s else ""
            continue
        # A multi-line MESSAGE stays on its line: continuation lines are separate journal entries.
        yield out.replace("\n", "\\n")
