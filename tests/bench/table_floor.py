"""The floor under `xodiag parse`: the same kind of event table, with no parsing at all.

It starts the way xodiag does (Python, typer, pandas), reads and decodes the file in the same batches,
and builds DataFrame chunks of the event table's columns with one row per physical line: the line as
`raw`, one new string per row as `message`, line numbers, a time and a pid, every other column None.
No regex, no ids, no framing. Whatever xodiag does on top costs more than this, so
`bench_parse.py` shows it beside lnav: the ratio it reaches is the most any parser building this table
in this process could reach.

Usage: python tests/bench/table_floor.py FILE   (prints one summary line on stderr)
"""

from __future__ import annotations

import gc
import sys
import time

CHUNK_ROWS = 12_500  # about the size of a parse chunk (10 000 events plus the batch that crossed it)
READ_BYTES = 8 << 20


def main(path: str) -> int:
    t0 = time.perf_counter()
    gc.disable()  # as xodiag's reader does while it reads
    import numpy as np
    import pandas as pd
    import typer  # noqa: F401  (xodiag's command line loads it first)
    from pandas.api.internals import create_dataframe_from_blocks

    from xodiag.events import COLUMNS

    ints_names = ("line", "line_end", "span")
    obj_names = [c for c in COLUMNS if c not in ("time", "pid", *ints_names)]
    pos = {c: i for i, c in enumerate(COLUMNS)}
    placement = {
        "obj": np.array([pos[c] for c in obj_names]), "ints": np.array([pos[c] for c in ints_names]),
        "time": np.array([pos["time"]]), "pid": np.array([pos["pid"]]),
    }
    t1 = time.perf_counter()
    rows = 0
    with open(path, "rb") as f:
        while data := f.read(READ_BYTES):
            lines = (data + f.readline()).decode("utf-8", "replace").split("\n")
            if lines[-1] == "":
                lines.pop()
            for start in range(0, len(lines), CHUNK_ROWS):
                chunk = lines[start : start + CHUNK_ROWS]
                n = len(chunk)
                obj = np.empty((len(obj_names), n), dtype=object)  # None everywhere
                obj[obj_names.index("raw")] = chunk
                obj[obj_names.index("message")] = [s[60:] for s in chunk]
                ints = np.empty((len(ints_names), n), dtype=np.int64)
                ints[:] = np.arange(rows + 1, rows + n + 1)
                stamps = pd.DatetimeIndex(np.arange(n, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC")
                pid = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))
                df = create_dataframe_from_blocks(
                    [(obj, placement["obj"]), (ints, placement["ints"]), (stamps.array, placement["time"]),
                     (pid, placement["pid"])],
                    index=pd.RangeIndex(n), columns=pd.Index(COLUMNS))
                rows += len(df)
                del df, obj
    t2 = time.perf_counter()
    print(f"{path}: {rows} rows (no parsing); imports {t1 - t0:.2f} s, table {t2 - t1:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    sys.exit(main(sys.argv[1]))
