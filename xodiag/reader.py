"""Inputs -> event table chunks, plus a summary per input.

``read_events`` streams: it never holds more than one chunk of events (and one input's framer
state) in memory, so a 1M-line journal is read in bounded memory. ``event_table`` concatenates the
chunks for commands that need the whole table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xodiag.events import COLUMNS, INT_COLUMNS, EventBuilder
from xodiag.sources import fastlane, journaljson
from xodiag.sources.detect import FORMATS, detect
from xodiag.sources.fastlane import make_lane, prematched
from xodiag.sources.inputs import Input, open_inputs
from xodiag.sources.jobjson import read_job_json
from xodiag.sources.lines import LineFramer
from xodiag.sources.records import Sink, emit
from xodiag.times import YearContext, find_anchor, resolve

if TYPE_CHECKING:
    import pandas as pd

# Events per chunk (read_events yields one DataFrame per chunk). Each chunk has a fixed cost (its frame,
# its times, a pass of Python code); 20000 halves it against 10000 (read_events on the 1M-line journal,
# 10 alternating runs: 0.96). A consumer that drops each chunk before asking for the next (parse does)
# peaks where 10000-event chunks did when two were held at a time (parse held two before).
CHUNK_EVENTS = 20000
BATCH_LINES = 5000


@dataclass
class InputSummary:
    path: str
    format: str
    lines: int = 0
    events: int = 0
    unparsed: int = 0
    unparsed_at: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    year_source: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "format": self.format, "lines": self.lines, "events": self.events,
            "unparsed": self.unparsed, "unparsed_lines": self.unparsed_at, "notes": self.notes,
            "error": self.error, "year_source": self.year_source,
        }

    def one_line(self) -> str:
        from xodiag.render.sanitize import one_line

        path = one_line(self.path)
        if self.error:
            return f"{path}: error: {one_line(self.error)}"
        text = (f"{path}: {self.format}, {self.lines} lines, {self.events} events, "
                f"{self.unparsed} unparsed")
        if self.unparsed_at:
            more = "" if self.unparsed <= len(self.unparsed_at) else ", ..."
            text += " (lines " + ", ".join(map(str, self.unparsed_at)) + more + ")"
        if self.notes:
            text += "; " + one_line("; ".join(self.notes))
        return text


@dataclass
class ReadOptions:
    input_format: str | None = None
    year: int | None = None
    tz: dt.tzinfo = dt.UTC


def _head(inp: Input, limit: int = 1 << 20) -> str:
    """The first ~1 MiB of an input's text (cut at a line end)."""
    out: list[str] = []
    size = 0
    for chunk in inp.chunks():
        out.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    text = "".join(out)
    if size >= limit and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


_OBJECT_COLUMNS = tuple(c for c in COLUMNS if c not in ("time", "pid", *INT_COLUMNS))
_POSITION = {name: i for i, name in enumerate(COLUMNS)}


def _frame(builder: EventBuilder, ctx: YearContext) -> pd.DataFrame:
    """One chunk of the event table, rows in line order (interleaved processes close records out of order).

    The object columns go into one 2-D block and the line numbers into another, and the frame is made
    from those blocks: no per-column Series, and no consolidation copy later.
    """
    import numpy as np
    import pandas as pd

    cols, kinds, values = builder.take()
    n = len(kinds)
    times, quality = resolve(kinds, values, ctx)
    compiled = fastlane.module()
    ints_of = compiled.ints if compiled is not None else None  # list or IntColumn -> int64 array, in line order
    line = np.empty(n, dtype=np.int64)
    if ints_of is not None:
        ints_of(line, cols["line"])
    else:
        line[:] = np.fromiter(cols["line"], dtype=np.int64, count=n)
    order = np.argsort(line, kind="stable") if n > 1 and bool((line[1:] < line[:-1]).any()) else None

    def into(out: Any, items: list[Any]) -> None:  # without the compiled module
        arr = np.fromiter(items, dtype=object, count=n)
        out[:] = arr if order is None else arr[order]

    obj = np.empty((len(_OBJECT_COLUMNS), n), dtype=object)
    if compiled is not None:  # the lists' references move into the block, in line order (the lists end empty)
        compiled.move_rows(obj, [None if name == "time_quality" else cols[name] for name in _OBJECT_COLUMNS], order)
    for j, name in enumerate(_OBJECT_COLUMNS):
        if name == "time_quality":
            obj[j] = quality if order is None else quality[order]
        elif compiled is None:
            into(obj[j], cols[name])
    ints = np.empty((len(INT_COLUMNS), n), dtype=np.int64)
    for j, name in enumerate(INT_COLUMNS):
        if name == "line":
            ints[j] = line if order is None else line[order]
        elif ints_of is not None:
            ints_of(ints[j], cols[name], order)
        else:
            arr = np.fromiter(cols[name], dtype=np.int64, count=n)
            ints[j] = arr if order is None else arr[order]
    if ints_of is not None:
        pid_values, missing = np.empty(n, dtype=np.int64), np.empty(n, dtype=bool)
        ints_of(pid_values, cols["pid"], order, missing)
    else:
        pids = np.empty(n, dtype=object)
        into(pids, cols["pid"])
        missing = pids == None  # noqa: E711 (element-wise)
        pids[missing] = 0
        pid_values = pids.astype(np.int64)
    pid = pd.arrays.IntegerArray(pid_values, missing)
    time = (times if order is None else times[order]).array
    return _from_blocks([
        (obj, _OBJECT_COLUMNS), (ints, INT_COLUMNS), (time, ("time",)), (pid, ("pid",)),
    ], n)


def _from_blocks(blocks: list[tuple[Any, tuple[str, ...]]], n: int) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    try:
        from pandas.api.internals import create_dataframe_from_blocks
    except ImportError:  # pandas < 3: the same frame through the constructor
        data: dict[str, Any] = {}
        for arr, names in blocks:
            for j, name in enumerate(names):
                col = arr[j] if isinstance(arr, np.ndarray) else arr
                data[name] = pd.Series(col, dtype=col.dtype, copy=False)
        return pd.DataFrame(data, columns=list(COLUMNS), copy=False)
    placed = [(arr, np.array([_POSITION[c] for c in names], dtype=np.intp)) for arr, names in blocks]
    return create_dataframe_from_blocks(placed, index=pd.RangeIndex(n), columns=pd.Index(COLUMNS))


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic GC off while events are read and consumed: events hold no cycles, and with ten
    lists per row its passes over the young chunks would otherwise take a quarter of the parse
    time. Reference counting still frees every chunk once its consumer drops it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_events(paths: list[str], opts: ReadOptions | None = None) -> Iterator[tuple[InputSummary, Any]]:
    """Yield (summary, DataFrame chunk) pairs; a summary is final once its input's last chunk is out.

    An input that yields no event still yields once, with an empty frame, so that every input has
    a summary.
    """
    with _no_gc():
        yield from _read_events(paths, opts or ReadOptions())


def _read_events(paths: list[str], opts: ReadOptions) -> Iterator[tuple[InputSummary, Any]]:
    inputs = list(open_inputs(paths))
    heads: dict[int, str] = {}
    anchors: dict[int, dt.datetime | None] = {}
    for i, inp in enumerate(inputs):
        if inp.error is None:
            heads[i] = _head(inp)
            anchors[i] = find_anchor(heads[i])
    global_anchor = next((a for a in anchors.values() if a is not None), None)

    for i, inp in enumerate(inputs):
        summary = InputSummary(path=inp.name, format="unknown")
        if inp.error is not None or i not in heads:
            summary.error = inp.error or "unreadable"
            yield summary, None
            continue
        fmt = opts.input_format or detect(heads[i])
        summary.format = fmt
        ctx = YearContext(anchors.get(i) or global_anchor, opts.year, inp.mtime, opts.tz)
        builder = EventBuilder()
        sink = Sink(inp.name, fmt, builder, ctx)
        yield from _read_one(inp, fmt, sink, summary)
        summary.year_source = ctx.source
        summary.notes = list(dict.fromkeys(summary.notes + inp.notes))
        if inp.error is not None:
            summary.error = inp.error
        elif summary.events == 0 and summary.lines > 0 and fmt != "job-json":
            summary.notes.append("no events: unknown format" if fmt in ("unknown", "fragment")
                                 else f"no {fmt} events found")
            if fmt == "fragment":
                summary.format = "unknown"


def _finish_chunk(sink: Sink, summary: InputSummary) -> Any:
    df = _frame(sink.builder, sink.ctx)
    summary.events += len(df)
    return df


def _account(sink: Sink, summary: InputSummary) -> None:
    if sink.unparsed:
        sink.unparsed.sort()
        summary.unparsed += len(sink.unparsed)
        room = 5 - len(summary.unparsed_at)
        if room > 0:
            summary.unparsed_at.extend(sink.unparsed[:room])
        sink.unparsed.clear()


def _read_one(inp: Input, fmt: str, sink: Sink, summary: InputSummary) -> Iterator[tuple[InputSummary, Any]]:
    yielded = False
    if fmt == "job-json":
        text = inp.text()
        summary.lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        summary.notes.extend(read_job_json(text, sink))
        _account(sink, summary)
        yield summary, _finish_chunk(sink, summary)
        return

    builder = sink.builder

    def extend_last(n: int) -> bool:
        if builder.n == 0:
            return False
        builder.cols["line_end"][-1] = n
        builder.cols["span"][-1] += 1
        return True

    framer = LineFramer(lambda rec: emit(rec, sink), extend_last)
    framer.unparsed = sink.unparsed
    framer.lane = make_lane(framer, sink)
    batches: Iterator[Sequence[str]]
    if fmt == "journal-json":
        lines = journaljson.convert(inp.lines())
        batches = iter(lambda: tuple(itertools.islice(lines, BATCH_LINES)), ())
    else:
        batches = inp.line_batches()
    n = 0
    for batch, pre in prematched(framer.lane, batches):
        framer.feed(batch, n + 1, pre)
        n += len(batch)
        if builder.n >= CHUNK_EVENTS:
            _account(sink, summary)
            yield summary, _finish_chunk(sink, summary)
            yielded = True
    framer.close()
    framer.lane = None  # the lane refers back to the framer: no cycle left for the GC
    summary.lines = n
    _account(sink, summary)
    if builder.n or not yielded:
        yield summary, _finish_chunk(sink, summary)


def event_table(paths: list[str], opts: ReadOptions | None = None) -> tuple[Any, list[InputSummary]]:
    """The whole event table (one DataFrame, sorted by time then source order) and the summaries."""
    import pandas as pd

    frames = []
    summaries: list[InputSummary] = []
    for summary, df in read_events(paths, opts):
        if not summaries or summaries[-1] is not summary:
            summaries.append(summary)
        if df is not None and len(df):
            frames.append(df)
    if frames:
        table = pd.concat(frames, ignore_index=True)
    else:
        table = _frame(EventBuilder(), YearContext(None, None, None, dt.UTC))  # empty, with the right dtypes
    return table, summaries


__all__ = ["FORMATS", "InputSummary", "ReadOptions", "event_table", "read_events"]
