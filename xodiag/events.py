"""The event table's schema, and the columnar builder that records become events through.

An event is one logical log entry: a journal line, an xo-server record with its multi-line data,
an OCaml backtrace, a job-log task start or end, a pasted error block. Events are plain data; they
are accumulated column by column (one list per column) and turned into a pandas DataFrame once per
chunk, because building one Python object per row is what makes naive log pipelines slow.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

# Column name -> one-line description. docs/events.md renders the same table; a test keeps them equal.
COLUMNS: dict[str, str] = {
    "time": "UTC time of the event (tz-aware); NaT when the input has none",
    "time_quality": "exact | inferred-year | none: how the time was obtained",
    "source": "path of the input (`-` for stdin; `bundle.tar.gz!var/log/xensource.log` inside archives)",
    "line": "first physical line of the event in its source (1-based)",
    "line_end": "last physical line of the event (equal to `line` for one-line events)",
    "span": "number of physical lines the event holds: `line_end - line + 1`, less the lines of other "
    "processes interleaved in it (journald); 0 for a job-log task that shares its line with another",
    "format": "input format: xo-console, xo-journal, journal-json, fragment, job-json, xensource, xapi-nbd",
    "kind": "record shape: record, raw-stderr, syslog, backtrace, repeat, task-start, task-end, "
    "task-info, task-warning, fragment",
    "host": "host name from the syslog prefix or journal field",
    "process": "syslog identifier (xo-server, xapi, xapi-nbd, ...) or `job` for the job log",
    "pid": "process id from the syslog prefix or the journal (xapi's own lines have none)",
    "namespace": "xo-server logger namespace, xapi logging module (brand), xapi-nbd section, or job task name",
    "level": "DEBUG, INFO, WARN, ERROR or FATAL (xapi and syslog levels are mapped to these)",
    "message": "the log message, without the data that follows it",
    "context": "xapi thread and task (`<thread> | <task>`), or the job task path",
    "error_name": "class of the error (RequestAbortedError, XapiError, Failure, ...)",
    "error_code": "error code (UND_ERR_ABORTED, VDI_IN_USE, NO_NBD_AVAILABLE, ECONNREFUSED, ...)",
    "error_message": "the error's message",
    "frames": "stack frames, innermost first: list of {function, file, line, col, is_async}",
    "vm": "VM UUIDs and OpaqueRefs named as such in the event",
    "vdi": "VDI UUIDs and OpaqueRefs named as such (including the VDI of an NBD export name)",
    "vbd": "VBD UUIDs and OpaqueRefs named as such",
    "sr": "SR UUIDs and OpaqueRefs named as such",
    "uuids": "every UUID in the event",
    "refs": "every OpaqueRef in the event, except session refs",
    "task_refs": "XAPI task references (`R:3f2a1b0c9d8e`, `D:2c4e6a8b0d1f`)",
    "export_names": "NBD export names (`/<vdi-uuid>?session_id=OpaqueRef:...`)",
    "addresses": "IPv4 addresses (with `:port` when given)",
    "raw": "the record's text as read (syslog prefixes included, escape sequences kept)",
}

# The columns EventBuilder keeps a list (or a compiled column) for (the others come from its time parts)
BUILT_COLUMNS = tuple(c for c in COLUMNS if c not in ("time", "time_quality"))
INT_COLUMNS = ("line", "line_end", "span")  # int64 columns of the table (pid has missing values)

# Every empty list cell of the table is this one object (a chunk has millions of empty cells): cells
# are read, never mutated in place.
EMPTY: list[Any] = []

LIST_COLUMNS = ("frames", "vm", "vdi", "vbd", "sr", "uuids", "refs", "task_refs", "export_names", "addresses")

# The columns whose cells nearly all hold one value, with that value: the builder keeps them in
# SparseColumns, which store only the other cells (the lane writes them too: lane.c, col_sparse)
SPARSE_COLUMNS: dict[str, Any] = {
    **dict.fromkeys(("context", "error_name", "error_code", "error_message")),
    **dict.fromkeys(LIST_COLUMNS, EMPTY),
}

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID_RE = re.compile(r"(?:OpaqueRef:)?" + UUID)
# Where the first "-" of an _ID_RE match lies from its start (UUID: 8 hex digits first; OpaqueRef: 10 more).
# The compiled extraction only tries matches there, around each "-" of the text (a test checks the claim).
_ID_DASH_OFFSETS = (8, 18)
# What names the object, just before an id: "vdi  = '", "VDI ", "vdiRef: '", "\"vm\": \"", "VBD with UUID ".
_CTX_RE = re.compile(
    r"(?<![A-Za-z])(?P<kind>vm|vdi|vbd|sr)(?:_?(?:ref|uuid|s))?(?: with uuid)?[\"']?\s*[:=]?\s*[\"']?$",
    re.IGNORECASE,
)
_EXPORT_RE = re.compile(r"/(?P<vdi>" + UUID + r")\?session_id=(?:OpaqueRef:)?[0-9a-fA-F-]{0,36}")
_TASK_REF_RE = re.compile(r"(?<![\w:])[RD]:[0-9a-f]{12}\b")
_ADDR_RE = re.compile(r"(?<![\d.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?::[0-9]{1,5})?(?![\d.])")
_SESSION_CTX = ("session_id=", "session=", "session_id =", "session: ", "session = ", "session_id: '")

# Error facts in free text (journal messages, xapi exceptions, pasted UI strings).


@functools.cache
def _err_head_re() -> re.Pattern[str]:
    """``Name [alias]: message`` anywhere in free text; the name is node_inspect.lark's ERROR_NAME."""
    from xodiag.parse.grammar import terminal_regex

    name = terminal_regex("node_inspect", "ERROR_NAME")
    return re.compile(r"(?<![\w$])(?P<head>" + name + r"): (?P<msg>[^\n]*)")


# XAPI and undici codes: VDI_IN_USE(...), Server_error(VDI_IN_USE, ...), UND_ERR_ABORTED; not NBD_CMD_*.
_XAPI_CODE_RE = re.compile(r"(?<![\w.])(?!NBD_)(?P<code>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![\w.])")
_CODE_PROP_RE = re.compile(r"\bcode:\s*['\"](?P<code>[A-Za-z0-9_]+)['\"]")
_ERRNO_RE = re.compile(
    r"\b(?P<code>E(?:CONNREFUSED|CONNRESET|HOSTUNREACH|TIMEDOUT|PIPE|NETUNREACH|CONNABORTED|IO|NOSPC))\b"
)
_OCAML_EXN_RE = re.compile(r"(?:exception|Caught exception[^:]*:)\s*(?P<name>[A-Z][\w.]*)(?:\((?P<arg>.*)\))?")

# Literals without which a regex above cannot match (any one of them): the searches are skipped when none
# is in the text. A test checks each claim against random text.
_NEEDS: dict[str, tuple[str, ...]] = {
    "err_head": ("Error", "Exception"),
    "code_prop": ("code:",),
    "xapi_code": ("_",),
    "errno": (),
    "ocaml": ("exception",),
}


def _has_any(text: str, needles: tuple[str, ...]) -> bool:
    return not needles or any(n in text for n in needles)


@dataclass(slots=True)
class ErrorFacts:
    name: str | None = None
    code: str | None = None
    message: str | None = None
    frames: list[dict[str, Any]] | None = None


_FASTLANE: Any = None
RESERVE_ROWS = 30720  # a chunk's events: reader.CHUNK_EVENTS plus the batch that crossed it (1 MiB of text)


def _fastlane() -> Any:
    """xodiag.sources.fastlane, imported on first use (it imports this module)."""
    global _FASTLANE
    if _FASTLANE is None:
        from xodiag.sources import fastlane

        _FASTLANE = fastlane
    return _FASTLANE


def _compiled() -> Any:
    """The compiled versions of the two functions below (xodiag/_fastlane.c), or None."""
    return _fastlane().facts()


def error_from_text(text: str) -> ErrorFacts:
    """Best-effort error facts from free text (no structure): names, codes, messages."""
    fast = _compiled()
    if fast is not None:
        got = fast.error_facts(text)
        if got is not None:
            return ErrorFacts(*got)
    return error_from_text_py(text)


def error_from_text_py(text: str) -> ErrorFacts:
    """The reference implementation of ``error_from_text`` (any text)."""
    facts = ErrorFacts()
    m = _err_head_re().search(text) if _has_any(text, _NEEDS["err_head"]) else None
    if m:
        facts.name = m.group("head").split(" [", 1)[0]
        facts.message = m.group("msg").strip() or None
    m = ((_has_any(text, _NEEDS["code_prop"]) and _CODE_PROP_RE.search(text))
         or (_has_any(text, _NEEDS["xapi_code"]) and _XAPI_CODE_RE.search(text))
         or (_has_any(text, _NEEDS["errno"]) and _ERRNO_RE.search(text)))
    if m:
        facts.code = m.group("code")
    if facts.name is None and _has_any(text, _NEEDS["ocaml"]):
        m = _OCAML_EXN_RE.search(text)
        if m and m.group("name") not in ("exception",):
            facts.name = m.group("name")
            facts.message = (m.group("arg") or "").strip() or facts.message
    return facts


@dataclass(slots=True)
class Ids:
    vm: list[str] = field(default_factory=list)
    vdi: list[str] = field(default_factory=list)
    vbd: list[str] = field(default_factory=list)
    sr: list[str] = field(default_factory=list)
    uuids: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    task_refs: list[str] = field(default_factory=list)
    export_names: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)


def _add(lst: list[str], value: str) -> None:
    if value not in lst:
        lst.append(value)


def extract_ids(text: str, ids: Ids | None = None) -> Ids:
    """VM, VDI, VBD and SR ids, UUIDs, refs, task refs, NBD export names and addresses in ``text``."""
    if ids is None:
        fast = _compiled()
        if fast is not None:
            got = fast.extract_ids(text)
            if got is not None:
                return Ids(*got)
    return extract_ids_py(text, ids)


def extract_ids_py(text: str, ids: Ids | None = None) -> Ids:
    """The reference implementation of ``extract_ids`` (any text; adds to ``ids`` when given)."""
    ids = ids or Ids()
    if "-" in text:
        if "session_id=" in text:
            for m in _EXPORT_RE.finditer(text):
                _add(ids.export_names, m.group(0))
                _add(ids.vdi, m.group("vdi").lower())
        for m in _ID_RE.finditer(text):
            value = m.group()
            start = m.start()
            before = text[max(0, start - 16) : start]
            if value[0] in "Oo":
                if before.endswith(_SESSION_CTX):
                    continue  # a session id is a secret, not an object reference
                value = "OpaqueRef:" + value[10:].lower()
                _add(ids.refs, value)
            else:
                value = value.lower()
                _add(ids.uuids, value)
            c = _CTX_RE.search(before)
            if c is not None:
                kind = c.group("kind").lower()
                _add(getattr(ids, kind), value)
    if "R:" in text or "D:" in text:
        for m in _TASK_REF_RE.finditer(text):
            _add(ids.task_refs, m.group())
    if "." in text:
        for m in _ADDR_RE.finditer(text):
            addr = m.group()
            if all(int(o) < 256 for o in addr.split(":", 1)[0].split(".")):
                _add(ids.addresses, addr)
    return ids


class EventBuilder:
    """Accumulates events column by column; ``frame()`` builds a DataFrame chunk and resets."""

    def __init__(self) -> None:
        # time and time_quality are made from time_kind / time_value when the chunk is built
        self.cols: dict[str, Any] = {name: [] for name in BUILT_COLUMNS}
        # time is kept as raw parts until the frame is built: (kind, value, zone-hint)
        self.time_kind: list[str | None] = []
        self.time_value: Any = []
        self.pending: list[int] = []  # rows whose time is that of the next timed event ("next")
        mod = _fastlane().module()
        if mod is not None:
            # The chunk's room up front: no list grows by copying itself. The line numbers and the times
            # go into IntColumns (mutable sequences of int64 cells): the lane writes them with no int
            # object per row, and reader._frame copies them out whole. The columns of SPARSE_COLUMNS
            # go into SparseColumns, which store only the cells that do not hold the default.
            for name in INT_COLUMNS:
                self.cols[name] = mod.IntColumn(RESERVE_ROWS)
            for name, default in SPARSE_COLUMNS.items():
                self.cols[name] = mod.SparseColumn(default)
            self.time_value = mod.IntColumn(RESERVE_ROWS)
            for lst in (*self.cols.values(), self.time_kind):
                if type(lst) is list:
                    mod.reserve(lst, RESERVE_ROWS)

    @property
    def n(self) -> int:
        """Rows so far (the compiled fast lane appends to the columns directly)."""
        return len(self.time_kind)

    def _fill_pending(self, time_kind: str, time_value: Any) -> None:
        """Rows waiting for the next timed event take this one's time."""
        for i in self.pending:
            self.time_kind[i], self.time_value[i] = time_kind, time_value
        self.pending.clear()

    def add(
        self,
        *,
        time_kind: str | None,
        time_value: Any,
        source: str,
        line: int,
        line_end: int,
        fmt: str,
        span: int | None = None,
        kind: str,
        raw: str,
        host: str | None = None,
        process: str | None = None,
        pid: int | None = None,
        namespace: str | None = None,
        level: str | None = None,
        message: str | None = None,
        context: str | None = None,
        error: ErrorFacts | None = None,
        ids: Ids | None = None,
    ) -> None:
        c = self.cols
        if time_kind == "iso" or time_kind == "xapi":  # the compiled parser's epoch ns, as the lane gives
            mod = _fastlane().module()
            ns = mod.iso_ns(time_value, time_kind == "xapi") if mod is not None and type(time_value) is str else None
            if ns is not None:
                time_kind, time_value = "ns", ns
        if time_kind == "next":
            self.pending.append(self.n)
            time_kind = time_value = None
        elif time_kind is not None and self.pending:
            self._fill_pending(time_kind, time_value)
        self.time_kind.append(time_kind)
        self.time_value.append(time_value)
        c["source"].append(source)
        c["line"].append(line)
        c["line_end"].append(line_end)
        c["span"].append(line_end - line + 1 if span is None else span)
        c["format"].append(fmt)
        c["kind"].append(kind)
        c["host"].append(host)
        c["process"].append(process)
        c["pid"].append(pid)
        c["namespace"].append(namespace)
        c["level"].append(level)
        c["message"].append(message)
        c["context"].append(context)
        if error is None:
            error = ErrorFacts()
        c["error_name"].append(error.name)
        c["error_code"].append(error.code)
        c["error_message"].append(error.message)
        c["frames"].append(error.frames or EMPTY)
        if ids is None:
            ids = extract_ids(raw)
        c["vm"].append(ids.vm or EMPTY)
        c["vdi"].append(ids.vdi or EMPTY)
        c["vbd"].append(ids.vbd or EMPTY)
        c["sr"].append(ids.sr or EMPTY)
        c["uuids"].append(ids.uuids or EMPTY)
        c["refs"].append(ids.refs or EMPTY)
        c["task_refs"].append(ids.task_refs or EMPTY)
        c["export_names"].append(ids.export_names or EMPTY)
        c["addresses"].append(ids.addresses or EMPTY)
        c["raw"].append(raw)

    def take(self) -> tuple[dict[str, Any], list[str | None], Any]:
        out = (self.cols, self.time_kind, self.time_value)
        self.__init__()  # rows still waiting for a time keep none
        return out
