"""Round trip on every bundled sample against its hand-written ground truth (samples/*/expected.json).

expected.json was written from the logs by hand, not by running the parser: per file the format,
the number of physical lines and events, and the key fields of a few events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from xodiag.reader import event_table

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CASES = sorted(
    (folder.name, name, spec)
    for folder in SAMPLES.iterdir()
    if (folder / "expected.json").is_file()
    for name, spec in json.loads((folder / "expected.json").read_text())["files"].items()
)


@pytest.fixture(scope="module")
def tables() -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    out = {}
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        table, summaries = event_table([str(folder)])
        out[folder.name] = (table, {Path(s.path).name: s for s in summaries})
    return out


def test_every_format_has_a_sample() -> None:
    formats = {spec["format"] for _, _, spec in CASES}
    assert formats >= {"xo-console", "xo-journal", "journal-json", "fragment", "job-json", "xensource",
                       "xapi-nbd"}


def test_april_2026_incident_is_bundled() -> None:
    folder = SAMPLES / "april-2026-nbd-stream-init"
    names = {p.name for p in folder.iterdir()}
    assert "backup-job.json" in names and "xo-server.journal" in names


@pytest.mark.parametrize(("folder", "name", "spec"), CASES, ids=[f"{c[0]}/{c[1]}" for c in CASES])
def test_sample_round_trip(folder: str, name: str, spec: dict[str, Any],
                           tables: dict[str, tuple[pd.DataFrame, dict[str, Any]]]) -> None:
    table, summaries = tables[folder]
    summary = summaries[name]
    rows = table[table["source"].str.endswith("/" + name)]
    assert summary.format == spec["format"]
    assert summary.lines == spec["lines"]
    assert summary.error is None
    assert len(rows) == spec["events"], summary.one_line()
    assert summary.lines == int(rows["span"].sum()) + summary.unparsed
    for check in spec.get("checks", []):
        hit = rows[rows["line"] == check["line"]]
        assert len(hit) == 1, f"no event starts at line {check['line']}"
        row = hit.iloc[0]
        for key, want in check.items():
            if key == "line":
                continue
            got = row[key]
            if key == "time":
                got = None if pd.isna(got) else got.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            elif key in ("pid", "line_end"):
                got = None if pd.isna(got) else int(got)
            assert got == want, f"{name}:{check['line']} {key}: {got!r} != {want!r}"
