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
