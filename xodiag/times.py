"""Turn the time facts of records into UTC timestamps, with a quality mark.

Kinds of time value:
- ``iso``: ISO-8601 with a zone (xo-server records, journalctl short-iso): exact.
- ``epoch_ms`` / ``epoch_us``: job-log and journal-json numbers: exact.
- ``xapi``: xapi's compact UTC time (``20260303T01:00:12.345Z``): exact.
- ``syslog``: ``Mon DD HH:MM:SS[.ffffff]`` local time without a year: the year comes from an anchor
  (an ISO time or epoch value in the same inputs), else ``--year``, else the file's mtime; the zone is
  the offset learned from xo-server's embedded UTC times in the same journal, else ``--tz`` (UTC by
  default). A month that goes back by six or more (Dec -> Jan) starts a new year.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from xodiag.sources.patterns import MONTHS

_ANCHOR_RE = re.compile(
    r"(?P<iso>\b(?P<y>20[0-9]{2})-(?P<m>[01][0-9])-(?P<d>[0-3][0-9])T[0-9]{2}:[0-9]{2})"
    r"|(?P<ms>\"(?:start|end|__REALTIME_TIMESTAMP)\"\s*:\s*\"?(?P<num>1[0-9]{12,15})\b)"
    r"|(?P<xapi>\b(?P<xy>20[0-9]{2})(?P<xm>[01][0-9])(?P<xd>[0-3][0-9])T[0-9]{2}:[0-9]{2}:[0-9]{2})"
)


def find_anchor(text: str) -> dt.datetime | None:
    """The first absolute date in a piece of text (ISO time, epoch ms/us in JSON, xapi compact time)."""
    for m in _ANCHOR_RE.finditer(text):
        try:
            if m.group("iso"):
                return dt.datetime(int(m.group("y")), int(m.group("m")), int(m.group("d")), tzinfo=dt.UTC)
            if m.group("ms"):
                num = int(m.group("num"))
                secs = num / 1000 if num < 10**14 else num / 1_000_000
                return dt.datetime.fromtimestamp(secs, dt.UTC)
            if m.group("xapi"):
                return dt.datetime(int(m.group("xy")), int(m.group("xm")), int(m.group("xd")), tzinfo=dt.UTC)
        except (ValueError, OverflowError, OSError):
            continue
    return None


def parse_zone(text: str) -> dt.tzinfo:
    """``UTC``, ``Europe/Paris`` or ``+02:00`` -> tzinfo; ValueError when unknown."""
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])([0-9]{1,2}):?([0-9]{2})?", text.strip())
    if m:
        sign = 1 if m.group(1) == "+" else -1
        delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        return dt.timezone(sign * delta)
    if text.strip().upper() in ("UTC", "Z", "GMT"):
        return dt.UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(text.strip())
    except (KeyError, ValueError, OSError, ImportError) as exc:
        raise ValueError(f"unknown time zone {text!r} (use UTC, +02:00 or a name like Europe/Paris)") from exc


def _split_stamp(stamp: str) -> tuple[int, int, str] | None:
    """``Apr  4 02:22:11.123`` -> (4, 4, "02:22:11.123")."""
    month = MONTHS.get(stamp[:3])
    day_s, _, hms = stamp[4:].lstrip().partition(" ")
    if month is None or not day_s.isdigit():
        return None
    return month, int(day_s), hms


@dataclass
class YearContext:
    """Per-input state for yearless syslog stamps."""

    anchor: dt.datetime | None
    year_option: int | None
    mtime: float | None
    zone: dt.tzinfo
    offset: dt.timedelta | None = None  # learned from xo-server's embedded UTC times
    year: int | None = None
    last_month: int | None = None
    source: str | None = None  # anchor | --year | mtime

    def _start_year(self, month: int, day: int) -> int:
        if self.anchor is not None:
            self.source = "anchor"
            best = None
            for y in (self.anchor.year - 1, self.anchor.year, self.anchor.year + 1):
                try:
                    d = dt.datetime(y, month, min(day, 28), tzinfo=dt.UTC)
                except ValueError:
                    continue
                dist = abs((d - self.anchor).total_seconds())
                if best is None or dist < best[0]:
                    best = (dist, y)
            assert best is not None
            return best[1]
        if self.year_option is not None:
            self.source = "--year"
            return self.year_option
        self.source = "mtime"
        ref = dt.datetime.fromtimestamp(self.mtime, dt.UTC) if self.mtime else dt.datetime.now(dt.UTC)
        # A log ends before its file's mtime: a month after the mtime's month is from the year before.
        return ref.year - 1 if month > ref.month + 1 else ref.year

    def iso_of(self, stamp: str) -> str | None:
        """``Apr  4 02:22:11.123`` -> ``2026-04-04T02:22:11.123`` (local time, year inferred)."""
        parts = _split_stamp(stamp)
        if parts is None:
            return None
        month, day, hms = parts
        year = self.year
        if year is None:
            year = self.year = self._start_year(month, day)
        elif self.last_month is not None and self.last_month - month >= 6:
            year = self.year = year + 1  # Dec -> Jan: a new year
        elif self.last_month is not None and month - self.last_month > 6:
            # A late line from before New Year (interleaved streams): the previous year, for this line only.
            return f"{year - 1:04d}-{month:02d}-{day:02d}T{hms}"
        self.last_month = month
        return f"{year:04d}-{month:02d}-{day:02d}T{hms}"

    def learn_offset(self, stamp: str, iso: str) -> None:
        """Learn the journal's local offset from one record that has both times."""
        if self.offset is not None:
            return
        local = self.iso_of_peek(stamp, iso)
        if local is None:
            return
        try:
            utc = dt.datetime.fromisoformat(iso).astimezone(dt.UTC).replace(tzinfo=None)
            loc = dt.datetime.fromisoformat(local)
        except ValueError:
            return
        delta = loc - utc
        quarter = round(delta.total_seconds() / 900) * 900
        if abs(quarter) <= 14 * 3600:
            self.offset = dt.timedelta(seconds=quarter)

    def iso_of_peek(self, stamp: str, iso: str) -> str | None:
        """The local time of ``stamp``, with the year of the UTC time ``iso`` logged on the same line."""
        parts = _split_stamp(stamp)
        if parts is None:
            return None
        month, day, hms = parts
        year = int(iso[:4])
        if month == 1 and iso[5:7] == "12":
            year += 1
        elif month == 12 and iso[5:7] == "01":
            year -= 1
        return f"{year:04d}-{month:02d}-{day:02d}T{hms[:8]}"


FIRST_YEAR, LAST_YEAR = 1678, 2261  # whole years that nanosecond timestamps hold (the fast lane uses the same)


def _ns(naive: Any) -> Any:
    """Naive UTC datetimes (any resolution pandas picked) -> datetime64[ns]; NaT outside FIRST_YEAR..LAST_YEAR
    instead of a silent wrap-around."""
    years = naive.dt.year
    return naive.where((years >= FIRST_YEAR) & (years <= LAST_YEAR)).to_numpy(dtype="datetime64[ns]")


def _ints() -> Any:
    """The compiled ``ints(out, values)`` (a list of int into an int64 array), or None."""
    from xodiag.sources.fastlane import module

    compiled = module()
    return None if compiled is None else compiled.ints


def resolve(kinds: list[str | None], values: list[Any], ctx: YearContext) -> tuple[Any, Any]:
    """Vectorised conversion of one chunk: (tz-aware UTC DatetimeIndex, quality per row as an object array).

    Kinds: ``ns`` (epoch nanoseconds, UTC: the compiled fast lane parses ISO times itself), ``iso``,
    ``xapi`` (xensource's compact ISO), ``epoch_ms``, ``epoch_us``, ``syslog`` (yearless local time).
    """
    import numpy as np
    import pandas as pd

    n = len(kinds)
    quality = np.empty(n, dtype=object)
    if n and kinds.count("ns") == n:  # a chunk the fast lane timed entirely: no per-kind selection needed
        ints = _ints()  # (list.count: the kinds are interned, compared by identity first)
        ns = np.empty(n, dtype=np.int64)
        if ints is not None:
            ints(ns, values)
        else:
            ns[:] = np.fromiter(values, dtype=np.int64, count=n)
        quality.fill("exact")
        return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"), quality
    out = np.full(n, np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    quality.fill("none")  # one shared str (np.full would make a new str per row)
    present = set(kinds)
    present.discard(None)
    if present:
        kinds_arr = np.fromiter(kinds, dtype=object, count=n)
        vals_arr = np.fromiter(values, dtype=object, count=n)
    for kind in present:
        idx = np.flatnonzero(kinds_arr == kind)
        vals = vals_arr[idx]
        if kind == "ns":
            arr = vals.astype(np.int64).view("datetime64[ns]")
            q = "exact"
        elif kind in ("iso", "xapi"):
            if kind == "xapi":
                vals = np.array([f"{v[:4]}-{v[4:6]}-{v[6:8]}{v[8:]}" for v in vals], dtype=object)
            conv = pd.to_datetime(pd.Series(vals, dtype=object), format="ISO8601", utc=True, errors="coerce")
            arr = _ns(conv.dt.tz_localize(None))
            q = "exact"
        elif kind in ("epoch_ms", "epoch_us"):
            unit = "ms" if kind == "epoch_ms" else "us"
            nums = pd.to_numeric(pd.Series(vals, dtype=object), errors="coerce")
            arr = _ns(pd.to_datetime(nums, unit=unit, errors="coerce"))
            q = "exact"
        elif kind == "syslog":
            # Lines of one second share a stamp: convert each run of equal stamps once, then spread it.
            heads = np.ones(len(vals), dtype=bool)
            heads[1:] = vals[1:] != vals[:-1]
            local = [ctx.iso_of(stamp) for stamp in vals[heads]]  # in order: iso_of is stateful (rollovers)
            naive = pd.to_datetime(pd.Series(local, dtype=object), format="ISO8601", errors="coerce")
            if ctx.offset is not None:
                once = _ns(naive - pd.Timedelta(ctx.offset))
            else:
                # The repeated hour of a DST fall-back: take the standard-time reading (the later one).
                loc = naive.dt.tz_localize(ctx.zone, ambiguous=np.zeros(len(naive), dtype=bool),
                                           nonexistent="shift_forward")
                once = _ns(loc.dt.tz_convert("UTC").dt.tz_localize(None))
            arr = once[np.cumsum(heads) - 1]
            q = "inferred-year"
        else:
            continue
        out[idx] = arr
        quality[idx[~np.isnat(arr)]] = q
    index = pd.DatetimeIndex(out).tz_localize("UTC")
    return index, quality
