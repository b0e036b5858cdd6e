"""XO's backup job log, as exported from the web UI, -> task events with line spans.

Both task shapes are read: the one before XO's April 2026 task rework (``message``, ``infos``,
``warnings`` on each task) and the one after it (``@vates/task`` through ``taskFormatAdapter``: the
same keys, root infos/warnings lifted to the top level, ``properties.name`` where ``message`` is
missing, plus ``abortionRequestedAt`` and ``updatedAt``).

Every line belongs to the innermost task (or info/warning entry) that contains it. A task gives a
``task-start`` event (its opening lines, up to its ``end`` key) and, when it has ended, a
``task-end`` event (from its ``end`` key); infos and warnings give one event each. Lines between
those (closing brackets) extend the event before them, so every line is in exactly one event.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from xodiag.events import ErrorFacts, Ids, extract_ids
from xodiag.parse.frames import parse_frames
from xodiag.sources.jsonscan import JArr, JObj, plain, scan
from xodiag.sources.records import Sink


@dataclass
class _Owner:
    obj: JObj
    role: str  # job | task | info | warning
    path: str
    parent: _Owner | None
    first: int = 0  # first and last line of the object
    last: int = 0


def _name(task: JObj) -> str:
    msg = task.get("message")
    if isinstance(msg, str):
        return msg
    props = task.get("properties")
    if isinstance(props, JObj) and isinstance(props.get("name"), str):
        return props.get("name")
    return "task"


def _label(task: JObj) -> str:
    name = _name(task)
    data = task.get("data")
    if isinstance(data, JObj):
        label = data.get("name_label") or data.get("type")
        if isinstance(label, str):
            return f"{name} ({label})"
    return name


def _error_from_result(result: Any) -> ErrorFacts:
    facts = ErrorFacts()
    if not isinstance(result, JObj):
        return facts
    r = plain(result)
    if not any(k in r for k in ("message", "name", "stack", "code")):
        return facts
    facts.name = r.get("name") if isinstance(r.get("name"), str) else None
    facts.message = r.get("message") if isinstance(r.get("message"), str) else None
    code = r.get("code")
    facts.code = str(code) if code is not None else None
    stack = r.get("stack")
    if isinstance(stack, str):
        frames = [ln.strip() for ln in stack.replace("\\n", "\n").split("\n") if ln.strip().startswith("at ")]
        facts.frames = parse_frames(frames) or None
        if facts.name is None:
            head = stack.split("\n", 1)[0]
            facts.name = head.split(":", 1)[0].split(" [", 1)[0].strip() or None
    return facts


def _data_ids(obj: JObj, ids: Ids) -> None:
    data = obj.get("data")
    if not isinstance(data, JObj):
        return
    typ, ident = data.get("type"), data.get("id")
    if isinstance(ident, str):
        if typ == "VM" and ident not in ids.vm:
            ids.vm.append(ident.lower())
        elif typ == "SR" and ident not in ids.sr:
            ids.sr.append(ident.lower())


def read_job_json(text: str, sink: Sink) -> list[str]:
    """Add the job log's events to ``sink``; return notes on what was lost or skipped."""
    result = scan(text)
    notes = list(result.notes)
    starts = [0]
    pos = text.find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    n_lines = len(starts) - (1 if text.endswith("\n") else 0)
    if n_lines <= 0:
        return notes

    def line_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset)

    root = result.value
    if not isinstance(root, JObj):
        sink.unparsed.extend(range(1, n_lines + 1))
        notes.append("not a job log: no JSON object found")
        return notes

    owners: list[_Owner] = []

    def visit(obj: JObj, role: str, path: str, parent: _Owner | None) -> None:
        own = _Owner(obj, role, path, parent)
        own.first = line_of(obj.start)
        own.last = line_of(obj.end - 1) if obj.end is not None else n_lines
        owners.append(own)
        for key, sub_role in (("infos", "info"), ("warnings", "warning")):
            arr = obj.get(key)
            if isinstance(arr, JArr):
                for item in arr.items:
                    if isinstance(item, JObj):
                        visit(item, sub_role, path, own)
        tasks = obj.get("tasks")
        if isinstance(tasks, JArr):
            for item in tasks.items:
                if isinstance(item, JObj):
                    visit(item, "task", f"{path} > {_label(item)}", own)

    visit(root, "job", _label(root) if root.get("message") else "job", None)
    owners.sort(key=lambda o: (o.obj.start))

    owner_of: list[int] = [-1] * (n_lines + 2)
    for i, own in enumerate(owners):  # parents come before children, so children win
        for ln in range(own.first, own.last + 1):
            owner_of[ln] = i

    # Runs of consecutive lines with one owner, each becoming an event or extending the one before.
    events: list[dict[str, Any]] = []
    seen_start: set[int] = set()
    ln = 1
    while ln <= n_lines:
        i = owner_of[ln]
        j = ln
        while j + 1 <= n_lines and owner_of[j + 1] == i:
            j += 1
        if i < 0:
            sink.unparsed.extend(range(ln, j + 1))
            ln = j + 1
            continue
        own = owners[i]
        end_line = line_of(own.obj.key_pos["end"]) if "end" in own.obj.key_pos else None
        if own.role in ("info", "warning"):
            events.append({"owner": own, "role": own.role, "line": ln, "line_end": j})
        elif i not in seen_start:
            seen_start.add(i)
            if end_line is not None and ln < end_line <= j:
                events.append({"owner": own, "role": "start", "line": ln, "line_end": end_line - 1})
                events.append({"owner": own, "role": "end", "line": end_line, "line_end": j})
            else:
                events.append({"owner": own, "role": "start", "line": ln, "line_end": j})
        elif end_line is not None and ln <= end_line <= j:
            if ln < end_line and events:  # closing brackets of the children belong to the event before
                events[-1]["line_end"] = end_line - 1
                ln = end_line
            events.append({"owner": own, "role": "end", "line": ln, "line_end": j})
        elif events:
            events[-1]["line_end"] = j
        else:
            sink.unparsed.extend(range(ln, j + 1))
        ln = j + 1

    lines = text.split("\n")
    for ev in events:
        _emit(ev, lines, sink)
    # Objects that own no line (compact one-line JSON) still give their events, spanning no line.
    for i, own in enumerate(owners):
        if i not in seen_start and own.role in ("job", "task"):
            _emit({"owner": own, "role": "start", "line": own.first, "line_end": own.first - 1}, lines, sink)
    return notes


def _emit(ev: dict[str, Any], lines: list[str], sink: Sink) -> None:
    own: _Owner = ev["owner"]
    obj = own.obj
    role = ev["role"]
    raw = "\n".join(lines[ev["line"] - 1 : ev["line_end"]])
    ids = extract_ids(raw)
    _data_ids(obj, ids)
    error = ErrorFacts()
    level = "INFO"
    anchor = own if role in ("start", "end") else own.parent
    assert anchor is not None
    name = _name(anchor.obj)
    status = anchor.obj.get("status")
    if role == "start":
        kind, time_key, message = "task-start", "start", f"{name} started" if own.role == "task" else name
    elif role == "end":
        kind, time_key, message = "task-end", "end", f"{name}: {status}"
        error = _error_from_result(obj.get("result"))
        if status == "failure":
            level = "ERROR"
        elif status == "interrupted":
            level = "WARN"
    else:
        kind = "task-info" if role == "info" else "task-warning"
        time_key = "start"
        msg = obj.get("message")
        message = msg if isinstance(msg, str) else str(plain(obj))
        level = "WARN" if role == "warning" else "INFO"
        _data_ids(anchor.obj, ids)
    t = anchor.obj.get(time_key) if role != "end" else obj.get("end")
    time_kind = "epoch_ms" if isinstance(t, int | float) and not isinstance(t, bool) else None
    sink.builder.add(
        time_kind=time_kind, time_value=t if time_kind else None, source=sink.source, line=ev["line"],
        line_end=ev["line_end"], fmt=sink.fmt, kind=kind, raw=raw, process="job", namespace=name,
        level=level, message=message, context=anchor.path, error=error, ids=ids,
    )
