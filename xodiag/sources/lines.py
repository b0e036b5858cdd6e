"""Frame physical lines into records: syslog/journald prefixes, xo-server records with their
multi-line data, xapi bracket lines and backtraces, xapi-nbd lines and pasted fragments.

One pass, cheap string work only; a record is handed to ``emit`` when it is complete. The same
framer reads mixed input (a forum paste holding XO lines, xensource lines and prose): each line is
recognised on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from sys import intern
from typing import Any

from xodiag.sources import patterns as P

XAPI_IDENTS = frozenset(
    {"xapi", "xenopsd", "xenopsd-xc", "squeezed", "xcp-rrdd", "xcp-networkd", "v6d", "message-switch",
     "forkexecd", "xapi-storage-script", "varstored-guard", "xcp-rrdd-iostat", "perfmon"}
)
_PROP_LINE = re.compile(r"^(?:\[[^\]]+\]|[A-Za-z_$][\w$]*|'[^']*'): ")
_IDISH = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-|OpaqueRef:|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|"
    r"(?:Error|Exception)\b|\bE[A-Z]{4,}\b|\b[RD]:[0-9a-f]{12}\b|Server_error|Failure\("
)
# Error wording in a pasted UI message that carries no code ("HTTP connection has timed out").
_ERROR_WORDS = re.compile(
    r"\b(?:stream has ended|timed out|timeout|aborted|refused|reset by peer|not available|no space left|"
    r"permission denied|input/output error|unable to|cannot|can't|socket hang up|other side closed|"
    r"premature close|not found)\b",
    re.IGNORECASE,
)


def _prose(s: str) -> bool:
    """A sentence someone typed (many words, ends like a sentence): not an error string."""
    return len(s.split()) >= 8 and s.rstrip()[-1:] in ".?!:"


def _frame_like(s: str) -> bool:
    """A stack frame as pasted ("at fn (file:1:2)", "at file:1:2", "at new Promise (<anonymous>)"), by the
    js_stack grammar; a bare location must carry a line number, so prose such as "at all" is not one."""
    if not s.startswith("at "):
        return False
    from xodiag.parse.frames import parse_frame

    f = parse_frame(s.rstrip(" {,"))
    return f is not None and (f["function"] is not None or f["line"] is not None)


_BLOB = re.compile(r"^\[[0-9.]+[KMGT]?B blob data\]$")


class Rec:
    """A record being framed: its physical lines and the header facts of its first line."""

    __slots__ = ("bodies", "depth", "dialect", "extra", "head", "host", "ident", "kind", "line", "line_end",
                 "numbers", "pid", "raw", "stamp")

    def __init__(self, kind: str, dialect: str, line: int, line_end: int, raw: list[str], bodies: list[str],
                 stamp: str | None = None, host: str | None = None, ident: str | None = None,
                 pid: str | None = None, head: re.Match[str] | None = None) -> None:
        self.kind = kind  # record | raw-stderr | syslog | backtrace | repeat | fragment | frames | error | block
        self.dialect = dialect  # xo | xapi | nbd | syslog | fragment
        self.line = line
        self.line_end = line_end
        self.raw = raw
        self.bodies = bodies
        self.stamp = stamp
        self.host = host
        self.ident = ident
        self.pid = pid
        self.head = head
        self.depth = 0
        self.extra: dict[str, str] | None = None
        self.numbers: list[int] | None = None  # line numbers, kept only once another process interleaves


Emit = Callable[[Rec], None]


class LineFramer:
    """Stateful framer; feed it lines in order, then call ``close()``."""

    def __init__(self, emit: Emit, extend_last: Callable[[int], bool]) -> None:
        self.emit = emit
        self.extend_last = extend_last  # extend the last emitted event to a line; False if impossible
        self.open: dict[tuple[str | None, str | None], Rec] = {}
        self.frag: Rec | None = None
        self.bt: Rec | None = None
        self.unparsed: list[int] = []
        self.counts = {"xo": 0, "xo-prefixed": 0, "xapi": 0, "nbd": 0, "fragment": 0, "syslog": 0}
        self.last: Rec | None = None
        self.lane: Any = None  # the compiled fast lane (sources/fastlane.py), when there is one
        self.syslog_re = P.syslog_prefix()
        self.xo_re = P.xo_header()
        self.xapi_re = P.xapi_header()

    # -- output ---------------------------------------------------------------------------------
    def _emit(self, rec: Rec) -> None:
        self.emit(rec)

    def _close_key(self, key: tuple[str | None, str | None]) -> None:
        rec = self.open.pop(key, None)
        if rec is not None:
            self._emit(rec)

    def _close_frag(self) -> None:
        if self.frag is not None:
            self._emit(self.frag)
            self.frag = None

    def _close_bt(self) -> None:
        if self.bt is not None:
            self._emit(self.bt)
            self.bt = None

    def close(self) -> None:
        self._close_bt()
        self._close_frag()
        for key in list(self.open):
            self._close_key(key)

    # -- input ----------------------------------------------------------------------------------
    def feed(self, lines: Sequence[str], first_line: int = 1, pre: Any = None) -> int:
        """Frame ``lines`` (line numbers from ``first_line``); returns the last line number. ``pre``: the
        lane's ``prematch(lines)``, when it was done ahead (on another thread)."""
        lane = self.lane
        if lane is None:
            self._feed(lines, first_line)
            return first_line + len(lines) - 1
        i, end = 0, len(lines)
        skip = 0  # lines left to Python without asking the lane (it just made no progress)
        misses = 0
        while i < end:
            if skip == 0 and self.bt is None and self.frag is None:
                j = lane.run(lines, i, first_line, pre)
                if j > i:
                    misses = 0
                else:  # a stretch the lane does not take (non-ASCII text, backtraces): back off
                    misses += 1
                    skip = min(1 << misses, 256)
                i = j
                if i >= end:
                    break
            # the lane stopped at a line it leaves to the reference framer
            self._feed(lines[i : i + 1], first_line + i)
            i += 1
            skip = max(0, skip - 1)
        return first_line + end - 1

    def _feed(self, lines: Iterable[str], first_line: int) -> None:
        syslog_match = self.syslog_re.match
        xo_match = self.xo_re.match
        for n, raw in enumerate(lines, first_line):
            line = P.strip_ansi(raw) if "\x1b" in raw else raw
            stamp = host = ident = pid = None
            body = line
            c0 = line[:1]
            if c0.isalpha() or c0.isdigit():
                m = syslog_match(line)
                if m is not None:
                    stamp = m.group("short_stamp") or m.group("iso_stamp")
                    # hosts, identifiers and pids repeat on every line: keep one copy of each
                    host, ident, pid = intern(m.group("host")), intern(m.group("ident")), m.group("pid")
                    if pid is not None:
                        pid = intern(pid)
                    body = line[m.end() :]
            b0 = body[:1]
            # xo-server record header: "<ISO> <namespace> <LEVEL> ..."
            if b0.isdigit() and len(body) > 24 and body[4] == "-":
                h = xo_match(body)
                if h is not None:
                    self._close_bt()
                    self._close_frag()
                    key = (ident, pid)
                    self._close_key(key)
                    rec = Rec("record", "xo", n, n, [raw], [body], stamp, host, ident, pid, h)
                    # Data opened on the header line: follow its brackets, so a paste whose indentation was
                    # stripped still keeps its lines in the record.
                    rec.depth = max(0, body.count("{") + body.count("[") - body.count("}") - body.count("]"))
                    self.open[key] = rec
                    self.last = rec
                    self.counts["xo-prefixed" if stamp else "xo"] += 1
                    continue
            if not body.strip():
                self._blank(n, raw, (ident, pid))
                continue
            if b0 == "[" and ident != "xapi-nbd":
                x = self.xapi_re.match(body)
                if x is not None:
                    self._xapi(n, raw, body, x, stamp, host, ident, pid)
                    continue
            if ident is not None:
                if ident == "xapi-nbd":
                    self._flush_all_but((ident, pid))
                    self._simple("syslog", "nbd", n, raw, body, stamp, host, ident, pid)
                    self.counts["nbd"] += 1
                    continue
                if body.startswith("message repeated ") and ident in XAPI_IDENTS:
                    self._close_bt()
                    self._simple("repeat", "xapi", n, raw, body, stamp, host, ident, pid)
                    self.counts["xapi"] += 1
                    continue
                key = (ident, pid)
                rec = self.open.get(key)
                if rec is not None and (b0 in " \t}])" or rec.depth > 0):
                    self._append(rec, n, raw, body)
                    continue
                if b0 == "[" and _BLOB.match(body):
                    self._close_key(key)
                    self._simple("syslog", "syslog", n, raw, body, stamp, host, ident, pid)
                    continue
                if b0 in "{[" or P.error_head_line().match(body):
                    self._raw_block(key, n, raw, body, stamp, host, ident, pid)
                    continue
                self._close_key(key)
                self._simple("syslog", "syslog", n, raw, body, stamp, host, ident, pid)
                self.counts["syslog"] += 1
                continue
            # No prefix: a console continuation, a raw console.error block, or a pasted fragment.
            key = (None, None)
            rec = self.open.get(key)
            if rec is not None and (b0 in " \t}])" or rec.depth > 0):
                self._append(rec, n, raw, body)
                continue
            if rec is not None:
                self._close_key(key)
            if self.counts["xo"] and self.frag is None and (b0 in "{[" or P.error_head_line().match(body)):
                # console.error output between xo-server records: attach to the nearest record's time
                self._raw_block(key, n, raw, body, None, None, None, None)
                continue
            self._fragment(n, raw, body)

    def _lane_rec(self, line: int, line_end: int, raw: list[str], bodies: list[str], stamp: str | None,
                  host: str | None, ident: str | None, pid: str | None, depth: int,
                  numbers: list[int] | None) -> Rec:
        """An xo record framed by the fast lane, as the reference framer would have built it."""
        rec = Rec("record", "xo", line, line_end, raw, bodies, stamp, host, ident, pid, self.xo_re.match(bodies[0]))
        rec.depth = depth
        rec.numbers = numbers
        return rec

    def _lane_bt(self, line: int, line_end: int, raw: list[str], bodies: list[str], stamp: str | None,
                 host: str | None, ident: str | None, pid: str | None) -> Rec:
        """A backtrace record still open when the fast lane stopped, as the reference framer would hold it."""
        head = self.xapi_re.match(bodies[0])
        return Rec("backtrace", "xapi", line, line_end, raw, bodies, stamp, host, ident, pid, head)

    def _lane_last(self, line: int) -> None:
        """The fast lane's last line was a xapi record it emitted itself."""
        self.last = Rec("record", "xapi", line, line, [], [])

    # -- helpers ----------------------------------------------------------------------------------
    def _flush_all_but(self, key: tuple[str | None, str | None]) -> None:
        self._close_bt()
        self._close_frag()

    @staticmethod
    def _add_line(rec: Rec, n: int, raw: str, body: str) -> None:
        """Add a physical line to a record, remembering line numbers once another process interleaves."""
        if rec.numbers is None and n != rec.line_end + 1:
            rec.numbers = list(range(rec.line, rec.line_end + 1))
        if rec.numbers is not None:
            rec.numbers.append(n)
        rec.raw.append(raw)
        rec.bodies.append(body)
        rec.line_end = n

    def _append(self, rec: Rec, n: int, raw: str, body: str) -> None:
        self._add_line(rec, n, raw, body)
        if rec.depth > 0 or rec.kind == "raw-stderr":
            rec.depth += body.count("{") + body.count("[") - body.count("}") - body.count("]")
            if rec.depth <= 0 and rec.kind == "raw-stderr":
                rec.depth = 0
                key = (rec.ident, rec.pid)
                if self.open.get(key) is rec:
                    self._close_key(key)
        self.last = rec

    def _blank(self, n: int, raw: str, key: tuple[str | None, str | None]) -> None:
        rec = self.open.get(key) or self.frag or self.bt
        if rec is not None and rec.line_end == n - 1:
            self._append(rec, n, raw, "")
            return
        last = self.last
        if last is not None and last.line_end == n - 1:
            if any(r is last for r in self.open.values()) or last is self.frag or last is self.bt:
                self._append(last, n, raw, "")
                return
            if self.extend_last(n):
                last.line_end = n
                return
        self.unparsed.append(n)

    def _simple(self, kind: str, dialect: str, n: int, raw: str, body: str, stamp: str | None,
                host: str | None, ident: str | None, pid: str | None) -> None:
        rec = Rec(kind, dialect, n, n, [raw], [body], stamp, host, ident, pid)
        self.last = rec
        self._emit(rec)

    def _raw_block(self, key: tuple[str | None, str | None], n: int, raw: str, body: str,
                   stamp: str | None, host: str | None, ident: str | None, pid: str | None) -> None:
        self._close_key(key)
        rec = Rec("raw-stderr", "xo", n, n, [raw], [body], stamp, host, ident, pid)
        rec.depth = body.count("{") + body.count("[") - body.count("}") - body.count("]")
        self.last = rec
        if rec.depth > 0 or not body.startswith(("{", "[")):
            self.open[key] = rec
        else:
            self._emit(rec)

    def _xapi(self, n: int, raw: str, body: str, x: re.Match[str], stamp: str | None, host: str | None,
              ident: str | None, pid: str | None) -> None:
        self._close_frag()
        self.counts["xapi"] += 1
        if x.group("brand") == "backtrace":
            bt = self.bt
            if bt is not None and bt.head is not None and bt.head.group("thread_id") == x.group("thread_id") \
                    and bt.host == host:
                self._add_line(bt, n, raw, body)
                self.last = bt
                return
            self._close_bt()
            self.bt = Rec("backtrace", "xapi", n, n, [raw], [body], stamp, host, ident, pid, x)
            self.last = self.bt
            return
        self._close_bt()
        rec = Rec("record", "xapi", n, n, [raw], [body], stamp, host, ident, pid, x)
        self.last = rec
        self._emit(rec)

    def _fragment(self, n: int, raw: str, body: str) -> None:
        s = body.strip()
        frag = self.frag
        if frag is not None:
            if frag.depth > 0:
                self._frag_append(frag, n, raw, body)
                if frag.depth <= 0 and frag.kind == "block":
                    self._close_frag()
                return
            if frag.kind in ("error", "frames") and _frame_like(s):
                self._frag_append(frag, n, raw, body)
                return
            if frag.kind == "error" and (s[:1] in "{}" or _PROP_LINE.match(s) or s.startswith("...")):
                self._frag_append(frag, n, raw, body)
                return
            self._close_frag()
        self._close_bt()
        head = None
        if _frame_like(s):
            kind = "frames"
        elif P.error_head_line().match(s):
            kind = "error"
        elif s[:1] in "{[" or s.endswith(("{", "[")):
            kind = "block"
            head = P.xo_header_notime().match(s)
        elif (head := P.xo_header_notime().match(s)) is not None:
            kind = "block"
        elif _IDISH.search(s) or (not s.endswith((":", "?")) and not _prose(s) and _ERROR_WORDS.search(s)):
            rec = Rec("fragment", "fragment", n, n, [raw], [body])
            self.last = rec
            self.counts["fragment"] += 1
            self._emit(rec)
            return
        else:
            self.unparsed.append(n)
            return
        rec = Rec(kind, "fragment", n, n, [raw], [body], head=head)
        rec.depth = max(0, s.count("{") + s.count("[") - s.count("}") - s.count("]"))
        self.counts["fragment"] += 1
        self.last = rec
        if kind == "block" and rec.depth == 0:
            self._emit(rec)
            return
        self.frag = rec

    def _frag_append(self, frag: Rec, n: int, raw: str, body: str) -> None:
        self._add_line(frag, n, raw, body)
        frag.depth += body.count("{") + body.count("[") - body.count("}") - body.count("]")
        self.last = frag
