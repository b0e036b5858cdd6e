"""The ``xodiag`` console script.

It starts with the cyclic garbage collector off: the imports of a command (typer, lark, pandas, ...)
make no garbage cycles worth collecting, yet the collector's passes over them cost about 40 ms of a
parse (``tests/bench/bench_parse.py``). ``cli.main_callback`` turns it back on before every command
but ``parse``, which creates no cycles (``reader.read_events`` keeps it off anyway) and exits when done.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    from xodiag.cli import entry

    entry()
