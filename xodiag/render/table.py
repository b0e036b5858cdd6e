"""The event table as csv or an aligned text table (jsonl: ``render.jsonl``)."""

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


def write_csv(df: Any, out: IO[str], header: bool) -> None:
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    if df is None:
        return
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


def _s(value: Any, default: str = "") -> str:
    v = _plain(value)
    return default if v is None or v == "" else str(v)


def write_table(df: Any, out: IO[str], width: int = 160) -> None:
    """A compact human view: time, location, level, namespace, message and error."""
    for row in df.itertuples(index=False):
        t = _plain(row.time)
        when = t[:23] if isinstance(t, str) else "-" * 23
        loc = f"{row.source.rsplit('/', 1)[-1]}:{row.line}"
        if row.line_end != row.line:
            loc += f"-{row.line_end}"
        err = " ".join(x for x in (_s(row.error_name), _s(row.error_code)) if x)
        msg = one_line(_s(row.message))
        level, ns = _s(row.level, "-"), one_line(_s(row.namespace, "-"))[:26]
        text = f"{when} {one_line(loc):<28} {level:<5} {ns:<26} {msg}"
        if err:
            text += f"  [{one_line(err)}]"
        out.write(text[:width] + "\n")
