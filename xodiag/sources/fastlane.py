"""The compiled fast lane of the line framer (``xodiag/_fastlane.c``), when it is built.

The lane frames xo-server records (journald/syslog prefix or none, xo header, continuation lines and
util.inspect data) and xapi's bracketed xensource lines (backtraces grouped by thread and host), and
writes their rows straight into the event builder; the error facts of util.inspect data still come
from the grammar (``records.block_facts``). It hands every other line (escapes, non-ASCII text,
unknown shapes) back to ``LineFramer``, which remains the reference: the tests run both over the same
inputs and require identical event tables. The lane holds no regex of its own: the header regexes come
from the grammars (``patterns.py``) and the id and error regexes from ``events.py``.

``XODIAG_PURE_PYTHON=1`` turns the lane off; so does a missing extension (no C compiler at
install time) or a missing ``libpcre2-8``: everything still works, only slower.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from xodiag import events as E
from xodiag.sources import patterns as P

if TYPE_CHECKING:
    from xodiag.sources.lines import LineFramer
    from xodiag.sources.records import Sink

FORMATS = frozenset({"xo-journal", "xo-console", "xensource"})


def _spec(rx: re.Pattern[str]) -> tuple[str, int]:
    return rx.pattern, int(rx.flags)


def available() -> bool:
    """Whether the compiled lane is built and loadable (whatever ``ENABLED`` says)."""
    return _module() is not None


# Tests switch this to compare both paths; the environment variable sets it for a whole run.
ENABLED = not os.environ.get("XODIAG_PURE_PYTHON")


def _cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Whether the lane's regex work on the next batch runs ahead on a second thread (prematched): only
# where a second core can take it.
PREMATCH = not os.environ.get("XODIAG_NO_PREMATCH") and _cores() > 1


def facts() -> Any:
    """The compiled ``extract_ids`` / ``error_from_text`` (plain ASCII text only), or None."""
    return _facts() if ENABLED else None


@functools.cache
def _facts() -> Any:
    mod = _module()
    if mod is None:
        return None
    return mod.Facts(
        ids=_spec(E._ID_RE), ctx=_spec(E._CTX_RE), exports=_spec(E._EXPORT_RE), task_refs=_spec(E._TASK_REF_RE),
        addresses=_spec(E._ADDR_RE), err_head=_spec(E._err_head_re()), code_prop=_spec(E._CODE_PROP_RE),
        xapi_code=_spec(E._XAPI_CODE_RE), errno=_spec(E._ERRNO_RE), ocaml=_spec(E._OCAML_EXN_RE),
        session_ctx=E._SESSION_CTX, empty=E.EMPTY, needs=E._NEEDS, id_dash_offsets=E._ID_DASH_OFFSETS,
    )


@functools.cache
def _module() -> Any:
    try:
        from xodiag import _fastlane  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _fastlane


def module() -> Any:
    """The compiled module when it is built and enabled, else None."""
    return _module() if ENABLED else None


def make_lane(framer: LineFramer, sink: Sink) -> Any:
    """A lane for this framer and sink, or None (format not covered, or no compiled lane)."""
    mod = _module()
    if not ENABLED or mod is None or sink.fmt not in FORMATS:
        return None
    from xodiag.sources.records import _XAPI_LEVELS, block_facts

    return mod.Lane(framer, sink.builder, sink.ctx, sink.source, sink.fmt,
                    syslog=_spec(P.syslog_prefix()), xo_header=_spec(P.xo_header()), facts=facts(),
                    xapi_header=_spec(P.xapi_header()), xapi_levels=_XAPI_LEVELS, block_facts=block_facts,
                    error_head_in_message=_spec(P.error_head_in_message()),
                    backtrace_frame=_spec(P.backtrace_frame()))


# How many batches the helper may run ahead of the framing. One is not enough: the helper needs the GIL
# for a moment to start and to hand over each batch, and the lane holds it for a whole batch at a time,
# so a helper only one batch ahead often makes the reader wait (0.07 s of 1.4 s on the 1M-line journal).
AHEAD = 2


def prematched(lane: Any, batches: Iterable[Sequence[str]]) -> Iterator[tuple[Sequence[str], Any]]:
    """Each batch with the lane's ``prematch`` of it (or None), computed ahead on a helper thread.

    ``Lane.prematch`` runs the lane's regexes over a batch without holding the GIL, so on a second core it
    overlaps with the framing of the batch before (which needs the GIL). The lane takes a line's result
    from it instead of matching again; the event table is the same either way. The thread lives only
    while the batches are read, is never more than ``AHEAD`` batches ahead of the reader (``AHEAD + 1``
    batches and their Pre in memory at most), and is joined when the reading ends, early or not.
    """
    if lane is None or not PREMATCH:
        for batch in batches:
            yield batch, None
        return
    import collections
    import queue
    import threading

    todo: queue.SimpleQueue[Sequence[str] | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def work() -> None:
        while (lines := todo.get()) is not None:
            try:
                done.put(lane.prematch(lines))
            except BaseException:  # only a cache: the lane matches these lines itself, and the reader
                done.put(None)  # must never wait for an answer that will not come

    helper = threading.Thread(target=work, name="xodiag-prematch", daemon=True)
    helper.start()
    try:
        ahead: collections.deque[Sequence[str]] = collections.deque()
        for batch in batches:  # read and split while the helper works on the batches before
            todo.put(batch)
            ahead.append(batch)
            if len(ahead) > AHEAD:
                yield ahead.popleft(), done.get()
        while ahead:
            yield ahead.popleft(), done.get()
    finally:
        todo.put(None)
        helper.join()
