"""JavaScript stack frames (grammars/js_stack.lark), each distinct frame text parsed once."""

from __future__ import annotations

import functools
from typing import Any

from lark import Token, Tree
from lark.exceptions import LarkError

from xodiag.parse.grammar import parser


@functools.lru_cache(maxsize=65536)
def _parse_frame(text: str) -> tuple[tuple[str, Any], ...] | None:
    try:
        tree = parser("js_stack").parse(text)
    except LarkError:
        return None
    frame = tree.children[0]
    out: dict[str, Any] = {"function": None, "file": None, "line": None, "col": None, "is_async": False}
    numbers: list[int] = []

    def walk(node: Tree | Token) -> None:
        if isinstance(node, Token):
            if node.type == "ASYNC":
                out["is_async"] = True
            elif node.type == "FUNCTION":
                out["function"] = str(node)
            elif node.type in ("FILE", "SPECIAL_LOCATION"):
                out["file"] = str(node)
            elif node.type == "NUMBER":
                numbers.append(int(node))
            return
        for child in node.children:
            walk(child)

    walk(frame)
    if numbers:
        out["line"] = numbers[0]
    if len(numbers) > 1:
        out["col"] = numbers[1]
    return tuple(out.items())


def parse_frame(text: str) -> dict[str, Any] | None:
    """``at fn (file:line:col)`` -> {function, file, line, col, is_async}; None if it is not a frame."""
    text = text.strip()
    if text.endswith(","):
        text = text[:-1].rstrip()
    parsed = _parse_frame(text)
    return dict(parsed) if parsed is not None else None


def parse_frames(texts: list[str]) -> list[dict[str, Any]]:
    frames = []
    for t in texts:
        f = parse_frame(t)
        if f is not None:
            frames.append(f)
    return frames
