"""The ``xodiag`` console script.

It starts with the cyclic garbage collector off: the imports of a command (typer, lark, pandas, ...)
make no garbage cycles worth collecting, yet the collector's passes over them cost about 40 ms of a
parse (``tests/bench/bench_parse.py``). ``cli.main_callback`` turns it back on before every command
but ``parse``, which creates no cycles (``reader.read_events`` keeps it off anyway) and exits when done.

It also asks glibc's malloc to keep freed memory for reuse (``_fastlane.keep_freed_memory``): a parse
frees and allocates the same few MiB per chunk of events, and each round trip to the system costs page
faults. This is a setting for this process only; importing xodiag as a library changes nothing.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from xodiag import _fastlane  # type: ignore[attr-defined]
    except ImportError:  # not built: the pure-Python framer, and malloc as it is
        pass
    else:
        _fastlane.keep_freed_memory()
    from xodiag.cli import entry

    entry()
