"""One timeline across every input: event kinds, clock skew between XO and each host, correlation keys.

Rules read the timeline, never the raw files.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xodiag.findings import Evidence
from xodiag.render.sanitize import one_line
from xodiag.taxonomy import classify

if TYPE_CHECKING:
    import pandas as pd

# XO-side and host-side events that happen at the same moment, used to measure clock skew.
_XO_ANCHORS = ("export-open", "nbd-connect-failed", "qcow2-close-noise", "read-retry")
_HOST_ANCHORS = ("export-task", "get-nbd-info", "nbd-new-client")
_CLIENT_RE = re.compile(r"(?:HTTPS?|INET) (?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3})->")
HOST_FORMATS = ("xensource", "xapi-nbd")


@dataclass
class Timeline:
    df: pd.DataFrame
    skew: dict[str, float] = field(default_factory=dict)  # host -> seconds host clock is ahead of XO
    inputs: list[Any] = field(default_factory=list)
    _texts: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)

    def of(self, *kinds: str) -> pd.DataFrame:
        return self.df[self.df["what"].isin(kinds)]

    def contains(self, pattern: str, cols: tuple[str, ...] = ("raw",), rows: pd.DataFrame | None = None,
                 case: bool = True) -> Any:
        """Where ``pattern`` is found in ``cols`` joined by spaces (missing values as ""), over ``rows`` (a
        subset of ``df``, default all of it): ``(df[c1].fillna("") + " " + ...).str.contains(pattern)`` as a
        boolean array, with the joined text built once per set of columns and searched compiled."""
        from xodiag.textsearch import contains

        text = self._texts.get(cols)
        if text is None:
            text = self._texts[cols] = _joined(self.df, cols)
        if rows is not None:
            text = text[self.df.index.get_indexer(rows.index)]
        return contains(text, pattern, case=case)

    def has(self, *kinds: str) -> bool:
        return bool(self.df["what"].isin(kinds).any())

    def xo(self) -> pd.DataFrame:
        return self.df[~self.df["format"].isin(HOST_FORMATS)]

    def evidence(self, rows: pd.DataFrame, limit: int = 3) -> list[Evidence]:
        out = []
        for r in rows.head(limit).itertuples(index=False):
            out.append(evidence_of(r))
        return out


def _text_or_empty(arr: Any) -> Any:
    """The object array with every non-str cell as "" (a new array; str cells are shared)."""
    import numpy as np

    is_str = np.fromiter(map(isinstance, arr, itertools.repeat(str)), dtype=bool, count=len(arr))
    out = np.empty(len(arr), dtype=object)
    out.fill("")  # one shared str (np.full would make a new str per row)
    out[is_str] = arr[is_str]
    return out


def _joined(df: pd.DataFrame, cols: tuple[str, ...]) -> Any:
    """The columns' text joined by single spaces, row by row (non-str cells as ""), as an object array:
    element-wise string concatenation, no Python loop per row."""
    out = _text_or_empty(df[cols[0]].to_numpy(dtype=object))
    for c in cols[1:]:
        out = out + " " + _text_or_empty(df[c].to_numpy(dtype=object))
    return out


def _time_text(t: Any) -> str | None:
    import pandas as pd

    if t is None or pd.isna(t):
        return None
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evidence_of(r: Any) -> Evidence:
    """The line to show for an event; its time is on XO's clock (host skew applied)."""
    err = r.error_message if isinstance(r.error_message, str) else ""
    if r.format == "job-json":
        first = f"{r.context}: {r.message}" + (f": {err}" if err else "")
    elif r.kind == "raw-stderr":
        name = r.error_name if isinstance(r.error_name, str) else "Error"
        first = f"(stderr, no prefix) {name}: {err or r.message}"
    else:
        raw = r.raw if isinstance(r.raw, str) else ""
        first = next((ln for ln in raw.split("\n") if ln.strip() not in ("", "{", "[")), raw.split("\n", 1)[0])
    text = first if len(first) <= 300 else first[:297] + "..."
    return Evidence(path=r.source, line=int(r.line), time=_time_text(r.time_xo), text=one_line(text))


def estimate_skew(df: pd.DataFrame, tolerance_s: float = 3.0) -> dict[str, float]:
    """Seconds each host's clock (as read) is ahead of XO's, from events that happen together.

    Host-side anchors (xapi's export task and VDI.get_nbd_info, xapi-nbd's ``Got new client``) are paired
    with XO-side anchors (export opened, NBD connect attempts, read retries). Every pairwise difference is
    a candidate offset; the one that lines up the most host anchors with an XO anchor (within
    ``tolerance_s``) wins; among equals, one near a 15-minute (time-zone) step, then the best fit.
    This absorbs a wrong ``--tz`` as well as real clock drift.
    """
    import numpy as np

    xo = df[df["what"].isin(_XO_ANCHORS) & df["time"].notna()]["time"]
    if xo.empty:
        return {}
    xo_s = np.sort(xo.astype("int64").to_numpy()[:500]) / 1e9
    out: dict[str, float] = {}
    host_rows = df[df["format"].isin(HOST_FORMATS) & df["what"].isin(_HOST_ANCHORS) & df["time"].notna()]
    for host, rows in host_rows.groupby("host"):
        t = rows["time"].astype("int64").to_numpy()[:500] / 1e9
        cands = np.unique(np.round((t[:, None] - xo_s[None, :]).ravel()))
        best: tuple[int, int, float, float] | None = None
        chosen = 0.0
        for c in cands:
            dist = np.min(np.abs((t - c)[:, None] - xo_s[None, :]), axis=1)
            hits = int(np.sum(dist <= tolerance_s))
            # Among equals: an offset within the tolerance of a time-zone step (15 min), then the better fit,
            # then the smallest offset.
            off_step = abs(c - round(c / 900) * 900) > tolerance_s
            key = (hits, -int(off_step), -float(np.median(dist)), -abs(float(c)))
            if best is None or key > best:
                best, chosen = key, float(c)
        if best is not None and best[0] >= 1:
            out[str(host)] = chosen
    return out


def link(df: pd.DataFrame) -> list[int]:
    """Correlation groups: events that share a VDI, VBD or SR id, a XAPI task ref or an NBD export name
    (its VDI uuid) end up in one group (union-find over those keys). Each group is numbered by its
    first event; events with no key are their own group."""
    parent = list(range(len(df)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    cols = [df[c].tolist() for c in ("vdi", "vbd", "sr", "task_refs")]
    keyed = sorted({i for col in cols for i, keys in enumerate(col) if keys and isinstance(keys, list)})
    for i in keyed:  # rows without any key stay their own group: parent[i] == i throughout
        for col in cols:
            keys = col[i]
            if not isinstance(keys, list):
                continue
            for key in keys:
                j = first.setdefault(key, i)
                if j != i:
                    a, b = find(i), find(j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    for i in keyed:
        parent[i] = find(i)
    return parent


def build(table: pd.DataFrame, inputs: list[Any] | None = None) -> Timeline:
    """Classify, estimate skew, correct host times, sort; adds the columns what, time_xo, client_ip,
    vdi_key and group (correlation group, see ``link``)."""
    import pandas as pd

    df = table.copy(deep=False)  # new columns only: the caller's table is left as it was
    df["what"] = classify(df) if len(df) else pd.Series(dtype=object)
    skew = estimate_skew(df) if len(df) else {}
    df["time_xo"] = df["time"].copy()  # its own array: host rows are shifted in place below
    for host, seconds in skew.items():
        if abs(seconds) >= 1.0:
            mask = df["format"].isin(HOST_FORMATS) & (df["host"] == host)
            df.loc[mask, "time_xo"] = df.loc[mask, "time"] - pd.Timedelta(seconds=seconds)
    ctx = df["context"].where(df["context"].notna(), "")
    df["client_ip"] = ctx.map(lambda c: (m.group("ip") if (m := _CLIENT_RE.search(c)) else None))
    df["vdi_key"] = df["vdi"].map(lambda v: v[0] if isinstance(v, list) and v else None)
    df["order"] = range(len(df))
    df = df.sort_values(["time_xo", "order"], kind="stable", na_position="last").reset_index(drop=True)
    df["group"] = link(df) if len(df) else []
    return Timeline(df=df, skew=skew, inputs=inputs or [])
