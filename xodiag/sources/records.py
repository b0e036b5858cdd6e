"""Records -> events: split message and data, parse the data block, extract error facts and ids."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from xodiag.events import EMPTY, ErrorFacts, EventBuilder, error_from_text, extract_ids
from xodiag.parse.frames import parse_frames
from xodiag.parse.inspect import InspectError, parse_block
from xodiag.sources import patterns as P
from xodiag.sources.lines import _ERROR_WORDS, Rec
from xodiag.times import YearContext

_XAPI_LEVELS = {"debug": "DEBUG", " info": "INFO", "info": "INFO", " warn": "WARN", "warn": "WARN",
                "error": "ERROR", "critical": "FATAL", "audit": "INFO"}
_NBD_SECTION = re.compile(r"^(?P<section>[A-Za-z_][\w.]*): (?P<msg>.*)$", re.S)
_NBD_ERROR = ("Caught exception", "Caught unexpected", "Failed to ", "Contradictory", "rejecting")
_NBD_WARN = ("Refusing", "Cleaning up", "Caught signal", "Client doesn't", "Received unknown",
             "Failed to send", "Disconnecting")
_REPEAT = re.compile(r"^message repeated (?P<n>[0-9]+) times?: \[\s?(?P<inner>.*?)\s?\]$", re.S)
_FLAT_FRAMES = re.compile(r"(?<=\))\s+(?=at \S)")
_PRIORITY_LEVEL = {"0": "FATAL", "1": "FATAL", "2": "FATAL", "3": "ERROR", "4": "WARN", "5": "INFO",
                   "6": "INFO", "7": "DEBUG"}


PID_DIGITS = 18  # more digits than any real pid, and past what the table's int64 column holds


def pid_number(pid: str | None) -> int | None:
    """A syslog pid as a number; None when there is none or it is too long to be one (the raw line keeps it)."""
    return int(pid) if pid and len(pid) <= PID_DIGITS else None


def decode_xapi_escapes(text: str) -> str:
    """rsyslog's #012 / #011 and xapi's own \\x0A escapes -> real characters."""
    if "#0" in text:
        text = text.replace("#012", "\n").replace("#011", "\t")
    if "\\x" in text:
        text = re.sub(r"\\x([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)
    return text


@dataclass
class Sink:
    """Where one input's events go, with its accounting."""

    source: str
    fmt: str
    builder: EventBuilder
    ctx: YearContext
    unparsed: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mark_unparsed = self.unparsed.extend


def _fallback_error(text: str) -> ErrorFacts:
    facts = error_from_text(text)
    frames = [ln.strip() for ln in text.split("\n") if ln.strip().startswith("at ")]
    if frames:
        facts.frames = parse_frames(frames) or None
    return facts


@functools.lru_cache(maxsize=4096)
def block_facts(text: str) -> tuple[str | None, str | None, str | None, list[Any]] | None:
    """Error facts of a record's util.inspect data for the compiled lane; None when the grammar rejects it
    (the lane then hands the record to ``emit_xo``, which keeps the line accounting). The lane's rows with
    the same data text share one frames list (list cells are read-only, docs/events.md)."""
    try:
        facts = parse_block(text)
    except InspectError:
        return None
    return facts.name, facts.code, facts.message, facts.frames or EMPTY


def _split_message(rest: str, cont: list[str]) -> tuple[str, str | None]:
    """(message, data text or None) for an xo-server record."""
    if cont:
        r = rest.rstrip()
        if r.endswith(("{", "[")):
            cut = r.rfind(" ")
            head = r[: cut if cut >= 0 else 0]
            opener = r[cut + 1 :] if cut >= 0 else r
            # "XapiError {" or "<ref *1> {": keep the class/ref with the data
            return head.rstrip(), opener + "\n" + "\n".join(cont)
        m = P.error_head_in_message().search(rest)
        if m is not None:
            pos = m.end()
            return rest[:pos].rstrip(), rest[pos:] + "\n" + "\n".join(cont)
        return rest, "\n".join(cont)
    r = rest.rstrip()
    if r.endswith("}"):
        i = r.find(" { ")
        if i >= 0:
            return r[:i], r[i + 1 :]
        if r.startswith("{ "):
            return "", r
    elif r.endswith("]"):
        i = r.find(" [ ")
        if i >= 0:
            return r[:i], r[i + 1 :]
    return rest, None


def emit_xo(rec: Rec, sink: Sink) -> None:
    h = rec.head
    assert h is not None
    bodies = rec.bodies
    while len(bodies) > 1 and not bodies[-1].strip():
        bodies = bodies[:-1]
    rest = bodies[0][h.end() :]
    message, data = _split_message(rest, bodies[1:])
    iso = h.group("iso_time")
    if rec.stamp is not None and sink.ctx.offset is None and rec.stamp[:1].isalpha():
        sink.ctx.learn_offset(rec.stamp, iso)
    error = None
    line_end = rec.line_end
    span = len(rec.raw)
    if data is not None:
        try:
            error = parse_block(data)
        except InspectError:
            error = _fallback_error(data)
            if span > 1 and sink.fmt != "fragment":  # a paste is damaged by nature: keep it whole
                sink.mark_unparsed(rec.numbers[1:] if rec.numbers else range(rec.line + 1, rec.line_end + 1))
                line_end, span = rec.line, 1
    if (error is None or (error.name is None and error.code is None)) and (
        "Error" in message or "_" in message or "exception" in message
    ):
        error = error_from_text(message)
    raw = "\n".join(rec.raw)
    sink.builder.add(
        time_kind="iso", time_value=iso, source=sink.source, line=rec.line, line_end=line_end,
        span=span, fmt=sink.fmt, kind=rec.kind, raw=raw, host=rec.host, process=rec.ident,
        pid=pid_number(rec.pid), namespace=intern(h.group("namespace")),
        level=intern(h.group("level")), message=message, error=error, ids=extract_ids("\n".join(bodies)),
    )


def _stamp_time(rec: Rec, sink: Sink) -> tuple[str | None, Any]:
    if rec.stamp is None:
        return None, None
    if rec.stamp[:1].isdigit():
        return "iso", rec.stamp
    return "syslog", rec.stamp


def emit_raw_block(rec: Rec, sink: Sink) -> None:
    """An unprefixed console.error block (`{ err: ... }`): failure evidence with no header."""
    text = "\n".join(rec.bodies)
    line_end = rec.line_end
    span = len(rec.raw)
    try:
        error = parse_block(text)
    except InspectError:
        error = _fallback_error(text)
        if span > 1:
            sink.mark_unparsed(rec.numbers[1:] if rec.numbers else range(rec.line + 1, rec.line_end + 1))
            line_end, span = rec.line, 1
    if rec.stamp is not None:
        tk, tv = _stamp_time(rec, sink)
    else:
        # No time of its own: it is printed when the transfer fails, just before the next record.
        tk, tv = "next", None
    raw = "\n".join(rec.raw)
    first = next((b.strip() for b in rec.bodies if b.strip() not in ("", "{", "[")), "")
    sink.builder.add(
        time_kind=tk, time_value=tv, source=sink.source, line=rec.line, line_end=line_end,
        span=span, fmt=sink.fmt, kind="raw-stderr", raw=raw, host=rec.host, process=rec.ident,
        pid=pid_number(rec.pid), level="ERROR", message=error.message or first,
        error=error, ids=extract_ids(raw),
    )


def emit_xapi(rec: Rec, sink: Sink) -> None:
    x = rec.head
    raw = "\n".join(rec.raw)
    frames: list[dict[str, Any]] = []
    messages = []
    bt = P.backtrace_frame()
    for i, body in enumerate(rec.bodies):
        xm = x if i == 0 and x is not None else P.xapi_header().match(body)  # the framer matched line 1
        msg = decode_xapi_escapes(body[xm.end() :] if xm else body)
        if rec.kind == "backtrace":
            fm = bt.match(msg.strip())
            if fm is not None:
                frames.append({"function": fm.group("bt_component"), "file": fm.group("bt_file"),
                               "line": int(fm.group("bt_line")), "col": None, "is_async": False})
                continue
        messages.append(msg)
    message = "\n".join(messages) if messages else (decode_xapi_escapes(rec.bodies[0]))
    namespace = level = context = None
    tk, tv = _stamp_time(rec, sink)
    if x is not None:
        level = _XAPI_LEVELS.get(x.group("xapi_level"), None)
        namespace = intern(x.group("brand"))
        thread = (x.group("thread_id") + " " + (x.group("thread_name") or "")).strip()
        context = f"{thread}|{(x.group('task') or '').strip()}"
        if x.group("xapi_time"):
            tk, tv = "xapi", x.group("xapi_time")
    error = error_from_text(message)
    if frames:
        error.frames = frames
    sink.builder.add(
        time_kind=tk, time_value=tv, source=sink.source, line=rec.line, line_end=rec.line_end,
        span=len(rec.raw), fmt=sink.fmt, kind=rec.kind, raw=raw, host=rec.host, process=rec.ident,
        pid=pid_number(rec.pid), namespace=namespace, level=level, message=message,
        context=context, error=error, ids=extract_ids(decode_xapi_escapes(raw)),
    )


def emit_repeat(rec: Rec, sink: Sink) -> None:
    body = rec.bodies[0]
    m = _REPEAT.match(body)
    inner = m.group("inner") if m else body
    x = P.xapi_header().match(inner)
    tk, tv = _stamp_time(rec, sink)
    raw = "\n".join(rec.raw)
    sink.builder.add(
        time_kind=tk, time_value=tv, source=sink.source, line=rec.line, line_end=rec.line_end,
        fmt=sink.fmt, kind="repeat", raw=raw, host=rec.host, process=rec.ident,
        namespace=x.group("brand") if x else None,
        level=_XAPI_LEVELS.get(x.group("xapi_level")) if x else None,
        message=body, context=None, error=error_from_text(inner), ids=extract_ids(raw),
    )


def emit_plain(rec: Rec, sink: Sink) -> None:
    """A syslog line that is not an xo record (systemd notes, xapi-nbd, stderr-only lines)."""
    body = rec.bodies[0]
    namespace = None
    message = body
    level = None
    if rec.dialect == "nbd":
        m = _NBD_SECTION.match(body)
        if m is not None:
            namespace, message = m.group("section"), m.group("msg")
        if message.startswith(_NBD_ERROR) or "exiting" in message:
            level = "ERROR"
        elif message.startswith(_NBD_WARN):
            level = "WARN"
        else:
            level = "INFO"
    if rec.extra and rec.extra.get("priority"):
        level = _PRIORITY_LEVEL.get(rec.extra["priority"], level)
    tk, tv = _stamp_time(rec, sink)
    raw = "\n".join(rec.raw)
    sink.builder.add(
        time_kind=tk, time_value=tv, source=sink.source, line=rec.line, line_end=rec.line_end,
        fmt=sink.fmt, kind="syslog", raw=raw, host=rec.host, process=rec.ident,
        pid=pid_number(rec.pid), namespace=namespace, level=level, message=message,
        error=error_from_text(message), ids=extract_ids(raw),
    )


def emit_fragment(rec: Rec, sink: Sink) -> None:
    raw = "\n".join(rec.raw)
    if rec.kind == "fragment":
        text = rec.bodies[0].strip()
        facts = error_from_text(text)
        erroneous = facts.name or facts.code or _ERROR_WORDS.search(text)
        sink.builder.add(
            time_kind=None, time_value=None, source=sink.source, line=rec.line, line_end=rec.line_end,
            fmt=sink.fmt, kind="fragment", raw=raw, level="ERROR" if erroneous else None,
            message=text, error=facts, ids=extract_ids(raw),
        )
        return
    lines: list[str] = []
    for b in rec.bodies:
        s = b.strip()
        if s.startswith("at ") and ") at " in s:
            lines.extend(_FLAT_FRAMES.split(s))
        else:
            lines.append(s)
    namespace = level = None
    head_message = None
    if rec.head is not None:  # "xo:backups:worker ERROR unhandled error event {" pasted without its time
        namespace, level = rec.head.group("namespace"), rec.head.group("level")
        head_message, data = _split_message(lines[0][rec.head.end() :], lines[1:])
        lines = (data or "").split("\n") if data else []
    text = "\n".join(lines)
    try:
        error = parse_block(text)
    except InspectError:
        error = _fallback_error(text)
    if error.name is None and error.code is None:
        other = error_from_text(text)
        error.name, error.code = other.name, other.code
        error.message = error.message or other.message
    first = next((s for s in lines if s not in ("", "{", "[")), "")
    if level is None and (error.name or error.code):
        level = "ERROR"
    sink.builder.add(
        time_kind=None, time_value=None, source=sink.source, line=rec.line, line_end=rec.line_end,
        span=len(rec.raw), fmt=sink.fmt, kind="fragment", raw=raw, namespace=namespace, level=level,
        message=head_message if head_message is not None else (error.message or first), error=error,
        ids=extract_ids(raw),
    )


def emit(rec: Rec, sink: Sink) -> None:
    if rec.dialect == "xo":
        if rec.kind == "record":
            emit_xo(rec, sink)
        else:
            emit_raw_block(rec, sink)
    elif rec.dialect == "xapi":
        if rec.kind == "repeat":
            emit_repeat(rec, sink)
        else:
            emit_xapi(rec, sink)
    elif rec.dialect in ("nbd", "syslog"):
        emit_plain(rec, sink)
    else:
        emit_fragment(rec, sink)
