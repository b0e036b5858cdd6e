"""textsearch.contains against pandas' str.contains, on every regex the taxonomy and the rules search with."""

from __future__ import annotations

import importlib
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xodiag import taxonomy
from xodiag.rules import _MODULES
from xodiag.sources import fastlane
from xodiag.textsearch import contains


def _patterns() -> list[str | re.Pattern[str]]:
    out: list[str | re.Pattern[str]] = []
    for k in taxonomy.KINDS:
        out += [p for p in (k.message, k.namespace, k.error) if p]
    out.append("|".join(f"(?:{k.message})" for k in taxonomy.KINDS if k.message))
    for name in _MODULES:
        mod = importlib.import_module(f"xodiag.rules.{name}")
        out += [v for v in vars(mod).values() if isinstance(v, re.Pattern)]
    return out


PATTERNS = _patterns()
_TOKENS = st.sampled_from([
    "export through vhd", "qcow2", "unhandled error event", "UND_ERR_ABORTED", "RequestAbortedError",
    "can't connect to one nbd client", "will retry reading block", "VDI_IN_USE", "timed out", "ETIMEDOUT",
    "EHOSTUNREACH", "import_raw_vdi", "premature close", "writer step failed", "ENOSPC", "No space left",
    "Got new client", "Caught exception while handling client", "VBD.plug", "xo:xapi", "retry", "ERROR",
    "é", "ü", "\t", "\n", "\x07", " ", "^", "$", "Error", "_", "-", ".", "(", ")",
])
_VALUES = st.lists(st.one_of(st.none(), st.lists(_TOKENS, max_size=6).map(" ".join), st.text(max_size=20)),
                   min_size=1, max_size=25)


def test_patterns_found() -> None:
    assert len(PATTERNS) > 40


@pytest.mark.parametrize("enabled", [True, False])
@settings(max_examples=60, deadline=None)
@given(values=_VALUES, case=st.booleans())
def test_same_as_pandas(values: list[str | None], case: bool, enabled: bool) -> None:
    saved = fastlane.ENABLED
    fastlane.ENABLED = enabled
    try:
        series = pd.Series(values, dtype=object)
        for pattern in PATTERNS:
            ref = series.fillna("").str.contains(pattern, case=case, regex=True) if isinstance(pattern, str) \
                else series.fillna("").str.contains(pattern, regex=True)
            got = contains(series, pattern, case=case) if isinstance(pattern, str) else contains(series, pattern)
            assert got.tolist() == ref.astype(bool).tolist(), pattern
    finally:
        fastlane.ENABLED = saved


def test_matcher_reads_arrays_in_place_and_anything_else_as_a_sequence() -> None:
    """Matcher.mask reads a C-ordered object ndarray through its buffer and every other input (a list, a
    tuple, a strided view, a non-object array) as a sequence: the same answers either way."""
    import numpy as np

    mod = fastlane.module()
    if mod is None:
        pytest.skip("the compiled extension is not built here")
    m = mod.Matcher(("ab", 0))
    values = ["xab", None, "é ab", "zz", "ab\n", 3, "a\x07b ab"]
    expect = [1, 0, 2, 0, 1, 0, 2]
    arr = np.array(values, dtype=object)
    assert list(m.mask(arr)) == list(m.mask(values)) == list(m.mask(tuple(values))) == expect
    assert list(m.mask(np.repeat(arr, 2)[::2])) == expect  # not contiguous
    assert list(m.mask(np.zeros(3))) == [0, 0, 0]  # numbers count as ""
    assert list(m.mask(np.array([["ab", "x"], ["y", "ab"]], dtype=object))) == [0, 0]  # rows of a 2-D array
    with pytest.raises(TypeError):
        m.mask(np.array("ab", dtype=object))  # 0-d: not a sequence
    assert list(m.mask(np.array([], dtype=object))) == []
    with pytest.raises(TypeError):
        m.mask(5)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(*[st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2),
                                           st.text(max_size=6))] * 3), min_size=0, max_size=30))
def test_joined_text_is_the_row_by_row_join(rows: list[tuple]) -> None:
    """Timeline text for a set of columns: each row's str cells joined by single spaces, others as ""."""
    from xodiag.timeline import _joined

    df = pd.DataFrame(rows, columns=["a", "b", "c"], dtype=object)
    for cols in (("a",), ("a", "b"), ("c", "a", "b")):
        want = [" ".join(v if isinstance(v, str) else "" for v in r) for r in zip(*(df[c] for c in cols), strict=True)]
        assert list(_joined(df, cols)) == want
