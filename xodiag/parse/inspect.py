"""Node util.inspect data blocks (grammars/node_inspect.lark) -> the error they carry.

Each distinct block is parsed once. The cache key is the block with UUIDs and digits masked
(length-preserving), so blocks that differ only in ids, times and line:col numbers share one parse;
the parse yields character spans, which are then read from the block's own text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lark import Token, Tree
from lark.exceptions import LarkError

from xodiag.events import UUID, ErrorFacts
from xodiag.parse.frames import parse_frames
from xodiag.parse.grammar import parser

_UUID_RE = re.compile(UUID)
_UUID_MASK = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
_DIGITS = str.maketrans("123456789", "000000000")

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ErrorTemplate:
    """Where the error's parts are in the block text (character spans)."""

    head: Span | None  # "Name [alias]: message"
    class_name: Span | None  # "XapiError" of "XapiError {"
    code: Span | None
    message: Span | None  # a `message: '...'` property
    frames: tuple[Span, ...]


def mask(text: str) -> str:
    from xodiag.sources.fastlane import module

    compiled = module()
    masked = compiled.mask_ids(text) if compiled is not None else None  # the same, in C (ASCII text)
    return masked if masked is not None else _mask(text)


def _mask(text: str) -> str:
    return _UUID_RE.sub(_UUID_MASK, text).translate(_DIGITS)


def _span(tok: Token) -> Span:
    return (tok.start_pos, tok.end_pos)


def _pairs(obj: Tree) -> list[Tree]:
    return [c for c in obj.children if isinstance(c, Tree) and c.data == "pair"]


def _key_text(key: Token | Tree) -> str:
    if isinstance(key, Token):
        return str(key).strip("'\"")
    return ""


def _string_span(value: Tree | Token) -> Span | None:
    if isinstance(value, Tree) and value.data == "string" and value.children:
        first, last = value.children[0], value.children[-1]
        return (first.start_pos + 1, last.end_pos - 1)
    if isinstance(value, Token) and value.type == "STRING":
        return (value.start_pos + 1, value.end_pos - 1)
    return None


def _find_error(node: Tree | Token) -> ErrorTemplate | None:
    """The outermost error in the value (breadth first): an Error stack or an `...Error {` object."""
    queue: list[Tree | Token] = [node]
    while queue:
        cur = queue.pop(0)
        if isinstance(cur, Token):
            if cur.type == "ERROR_BRACKET":
                return ErrorTemplate((cur.start_pos + 1, cur.end_pos - 1), None, None, None, ())
            continue
        if cur.data == "error_bracket":
            tok = cur.children[0]
            code = message = None
            if len(cur.children) > 1 and isinstance(cur.children[1], Tree):
                code, message = _code_and_message(cur.children[1])
            return ErrorTemplate((tok.start_pos + 1, tok.end_pos - 1), None, code, message, ())
        if cur.data == "error":
            head = cur.children[0]
            frames: list[Span] = []
            code = message = None
            for child in cur.children[1:]:
                if isinstance(child, Tree) and child.data == "stack":
                    frames = [_span(t) for t in child.children if t.type == "FRAME"]
                elif isinstance(child, Tree) and child.data == "object":
                    code, message = _code_and_message(child)
            return ErrorTemplate(_span(head), None, code, message, tuple(frames))
        if cur.data == "object":
            cls = cur.children[0] if cur.children and isinstance(cur.children[0], Token) else None
            if cls is not None and cls.type == "CLASS" and re.search(r"(Error|Exception)\b", str(cls)):
                code, message = _code_and_message(cur)
                return ErrorTemplate(None, _span(cls), code, message, ())
        queue.extend(cur.children)
    return None


def _code_and_message(obj: Tree) -> tuple[Span | None, Span | None]:
    code = message = None
    for pair in _pairs(obj):
        key, value = pair.children[0], pair.children[1]
        name = _key_text(key)
        if name == "code" and code is None:
            code = _string_span(value) or (_span(value) if isinstance(value, Token) else None)
        elif name == "message" and message is None:
            message = _string_span(value)
    return code, message


def _top_code(node: Tree | Token) -> ErrorTemplate | None:
    """A plain object with a `code` (e.g. `{ code: 'VDI_IN_USE', params: [...] }`)."""
    if isinstance(node, Tree) and node.data == "object":
        code, message = _code_and_message(node)
        if code is not None:
            return ErrorTemplate(None, None, code, message, ())
    return None


class InspectError(Exception):
    pass


@functools.lru_cache(maxsize=16384)
def _template(masked: str) -> ErrorTemplate | None:
    try:
        tree = parser("node_inspect").parse(masked)
    except LarkError as exc:
        raise InspectError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    return _find_error(tree) or _top_code(tree)


def _cut(text: str, span: Span | None) -> str | None:
    if span is None:
        return None
    return text[span[0] : span[1]]


FrameTuple = tuple[tuple[str, object], ...]


@functools.lru_cache(maxsize=4096)
def _block_facts(text: str) -> tuple[str | None, str | None, str | None, tuple[FrameTuple, ...]]:
    """Error facts of one exact block text (real logs repeat the same trace many times over)."""
    facts = _parse_block(text)
    frames = tuple(tuple(f.items()) for f in facts.frames or ())
    return facts.name, facts.code, facts.message, frames


def parse_block(text: str) -> ErrorFacts:
    """Error facts of one util.inspect block; raises InspectError when the grammar rejects it."""
    name, code, message, frames = _block_facts(text)
    return ErrorFacts(name, code, message, [dict(f) for f in frames] or None)


def _parse_block(text: str) -> ErrorFacts:
    tpl = _template(mask(text))
    facts = ErrorFacts()
    if tpl is None:
        return facts
    if tpl.head is not None:
        head = text[tpl.head[0] : tpl.head[1]]
        name, _, msg = head.partition(":")
        facts.name = name.split(" [", 1)[0].strip() or None
        facts.message = msg.strip() or None
    elif tpl.class_name is not None:
        facts.name = _cut(text, tpl.class_name)
    facts.code = _cut(text, tpl.code)
    if facts.message is None:
        facts.message = _cut(text, tpl.message)
    if tpl.frames:
        facts.frames = parse_frames([text[s:e] for s, e in tpl.frames])
    return facts
