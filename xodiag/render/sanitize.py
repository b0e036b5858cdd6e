"""Keep log content from driving the terminal: control characters become visible escapes."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Replace control characters (ESC, CSI, BEL, ...) by ``\\xNN``; keeps tab and newline."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(text: str) -> str:
    return visible(text.replace("\r", "").replace("\n", "\\n"))
