"""The event table as jsonl, csv or an aligned text table."""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from xodiag.events import COLUMNS, LIST_COLUMNS
from xodiag.render.sanitize import one_line, visible


def _plain(value: Any) -> Any:
    if value is None:
        return None
    try:
        import pandas as pd

        if value is pd.NaT or (not isinstance(value, list | dict | str) and pd.isna(value)):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if hasattr(value, "item"):
        return value.item()
    return value


def write_jsonl(df: Any, out: IO[str]) -> None:
    """One JSON object per event with exactly the documented columns (times as UTC ISO strings)."""
    if not len(df):
        return
    text = df[list(COLUMNS)].to_json(orient="records", lines=True, date_format="iso", date_unit="ms",
                                     force_ascii=False)
    out.write(text if text.endswith("\n") else text + "\n")


def write_csv(df: Any, out: IO[str], header: bool) -> None:
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    cols = list(COLUMNS)
    for row in df[cols].itertuples(index=False, name=None):
        cells = []
        for name, value in zip(cols, row, strict=True):
            v = _plain(value)
            if name in LIST_COLUMNS:
                cells.append(json.dumps(v or [], ensure_ascii=False))
            elif v is None:
                cells.append("")
            else:
                cells.append(visible(str(v)))
        writer.writerow(cells)


def write_table(df: Any, out: IO[str], width: int = 160) -> None:
    """A compact human view: time, location, level, namespace, message and error."""
    for row in df.itertuples(index=False):
        t = _plain(row.time)
        when = t[:23] if isinstance(t, str) else "-" * 23
        loc = f"{row.source.rsplit('/', 1)[-1]}:{row.line}"
        if row.line_end != row.line:
            loc += f"-{row.line_end}"
        err = " ".join(str(x) for x in (row.error_name, row.error_code) if isinstance(x, str) and x)
        msg = one_line(str(row.message or ""))
        text = f"{when} {loc:<28} {str(row.level or '-'):<5} {str(row.namespace or '-')[:26]:<26} {msg}"
        if err:
            text += f"  [{one_line(err)}]"
        out.write(text[:width] + "\n")
