"""Timeline internals that whole-run tests only reach on big inputs: correlation groups and the caller's
table left untouched."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xodiag.reader import event_table
from xodiag.timeline import build, link

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _reference_groups(rows: list[tuple]) -> list[int]:
    """Union-find over shared keys, every row visited, as the definition in timeline.link reads."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        for keys in row:
            for key in keys if isinstance(keys, list) else []:
                j = first.setdefault(key, i)
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(len(rows))]


_KEYS = st.one_of(st.none(), st.lists(st.sampled_from(["v1", "v2", "v3", "t1", "t2", "s1"]), max_size=2))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(_KEYS, _KEYS, _KEYS, _KEYS), max_size=40))
def test_link_groups_rows_that_share_a_key(rows: list[tuple]) -> None:
    df = pd.DataFrame(rows, columns=["vdi", "vbd", "sr", "task_refs"], dtype=object)
    assert link(df) == _reference_groups(rows)


def test_build_leaves_the_table_as_it_was() -> None:
    table, _ = event_table([str(SAMPLES / "april-2026-nbd-stream-init")])
    before = table.copy(deep=True)
    tl = build(table)
    assert "what" in tl.df.columns and "what" not in table.columns
    pd.testing.assert_frame_equal(table, before)
