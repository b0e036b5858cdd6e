"""A tolerant JSON reader that keeps positions.

XO's job log is pretty-printed JSON (``JSON.stringify(log, null, 2)``); users also share it cut off
(a partial download) or pasted with ``...`` elisions. ``scan`` builds the values it can, records the
character offset of every object and key, and reports what it had to skip or close.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      |(?P<str>"(?:[^"\\\n]|\\.)*(?:"|$))
      |(?P<num>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      |(?P<lit>true|false|null)
      |(?P<punct>[{}\[\]:,])
      |(?P<junk>\.\.\.|…|[^\s{}\[\]:,"]+)""",
    re.VERBOSE | re.MULTILINE,
)


@dataclass
class JObj:
    """A JSON object with positions: ``start``/``end`` offsets, and each key's offset."""

    start: int
    end: int | None = None
    items: dict[str, Any] = field(default_factory=dict)
    key_pos: dict[str, int] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.items.get(key, default)


@dataclass
class JArr:
    start: int
    end: int | None = None
    items: list[Any] = field(default_factory=list)


@dataclass
class ScanResult:
    value: Any
    notes: list[str]
    truncated_at: int | None  # offset where the text ended inside an open value


def _string(tok: str) -> str:
    if not tok.endswith('"') or len(tok) == 1:
        tok = tok + '"'
    try:
        return json.loads(tok)
    except json.JSONDecodeError:
        return tok[1:-1]


def scan(text: str) -> ScanResult:
    notes: list[str] = []
    stack: list[JObj | JArr] = []
    pending_key: list[str | None] = []
    root: Any = None
    expect_key = False
    last_key: str | None = None
    truncated_at = None
    skipped = 0

    def put(value: Any, pos: int) -> None:
        nonlocal root, last_key
        if not stack:
            if root is None:
                root = value
            return
        top = stack[-1]
        if isinstance(top, JObj):
            if last_key is not None:
                top.items[last_key] = value
                last_key = None
        else:
            top.items.append(value)

    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        tok = m.group()
        pos = m.start()
        if kind == "ws":
            continue
        if kind == "junk":
            skipped += 1
            if skipped <= 3:
                line = text.count("\n", 0, pos) + 1
                notes.append(f"skipped text {tok[:20]!r} at line {line}")
            continue
        if kind == "punct":
            if tok == "{":
                obj = JObj(start=pos)
                put(obj, pos)
                stack.append(obj)
                pending_key.append(last_key)
                expect_key = True
            elif tok == "[":
                arr = JArr(start=pos)
                put(arr, pos)
                stack.append(arr)
                pending_key.append(last_key)
                expect_key = False
            elif tok in "}]":
                if stack:
                    done = stack.pop()
                    pending_key.pop()
                    done.end = m.end()
                expect_key = bool(stack) and isinstance(stack[-1], JObj)
            elif tok == ",":
                expect_key = bool(stack) and isinstance(stack[-1], JObj)
            elif tok == ":":
                expect_key = False
            continue
        if kind == "str" and expect_key and stack and isinstance(stack[-1], JObj):
            key = _string(tok)
            stack[-1].key_pos[key] = pos
            last_key = key
            expect_key = False
            continue
        if kind == "str":
            value: Any = _string(tok)
            if not tok.endswith('"') or len(tok) == 1:
                line = text.count("\n", 0, pos) + 1
                notes.append(f"string cut at line {line}")
        elif kind == "num":
            value = json.loads(tok)
        else:
            value = {"true": True, "false": False, "null": None}[tok]
        put(value, pos)
    if skipped > 3:
        notes.append(f"skipped {skipped} pieces of non-JSON text in all")
    if stack:
        truncated_at = len(text)
        notes.append(f"document ends inside {len(stack)} open object(s)/array(s): the rest was lost")
    return ScanResult(root, notes, truncated_at)


def plain(value: Any) -> Any:
    """JObj/JArr -> dict/list."""
    if isinstance(value, JObj):
        return {k: plain(v) for k, v in value.items.items()}
    if isinstance(value, JArr):
        return [plain(v) for v in value.items]
    return value
