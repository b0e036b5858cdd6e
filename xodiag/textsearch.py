"""Regex search over table columns: ``Series.str.contains`` semantics, compiled where possible.

``contains(values, pattern)`` gives the same answers as ``values.fillna("").str.contains(pattern)``:
values that are not strings count as "". Plain ASCII strings are searched by PCRE2 through the compiled
module (``xodiag/_fastlane.c``), on which PCRE2 and Python's ``re`` agree; any other string, and every
string when the module is missing or PCRE2 cannot compile the pattern, goes through ``re``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from xodiag.sources import fastlane


@functools.lru_cache(maxsize=1024)
def _matcher(pattern: str, flags: int, enabled: bool) -> Any:
    mod = fastlane.module() if enabled else None
    if mod is None:
        return None
    try:
        return mod.Matcher((pattern, flags))
    except ValueError:  # a construct PCRE2 lacks: Python decides
        return None


def contains(values: Any, pattern: str | re.Pattern[str], *, case: bool = True) -> np.ndarray:
    """Boolean array: where ``pattern`` (a Python regex) is found in ``values`` (non-strings count as "")."""
    arr = values.to_numpy(dtype=object) if hasattr(values, "to_numpy") else np.asarray(values, dtype=object)
    flags = 0 if case else re.IGNORECASE
    if isinstance(pattern, re.Pattern):
        flags |= pattern.flags & ~re.UNICODE
        pattern = pattern.pattern
    matcher = _matcher(pattern, flags, fastlane.ENABLED)
    rx = re.compile(pattern, flags)
    if matcher is None:
        empty = rx.search("") is not None
        return np.fromiter((rx.search(v) is not None if isinstance(v, str) else empty for v in arr),
                           dtype=bool, count=len(arr))
    codes = np.frombuffer(matcher.mask(arr), dtype=np.uint8)
    out = codes == 1
    for i in np.flatnonzero(codes == 2):
        out[i] = rx.search(arr[i]) is not None
    return out
