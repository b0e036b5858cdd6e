"""Benchmark (not a test): the engine's copy of a 1 GiB disk over NBD (TLS) and through the stream path.

    python tests/bench/bench_engine.py [--size 1G] [--seed 1]

Runs the `clean` scenario (NBD, TLS) and `nbd-info-empty` (XO falls back to the HTTP export stream) under
XO's policy on one freshly generated disk, and prints each wall time and MB/s; both copies are verified
by sha256. See bench_nbd.py for the client against nbdcopy on the same export.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from xodiag.engine.policies import POLICIES
from xodiag.engine.run import prepare_disk, run_one
from xodiag.engine.scenarios import BY_NAME


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1G")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    units = {"M": 1024**2, "G": 1024**3}
    size = int(float(args.size[:-1]) * units[args.size[-1].upper()]) if args.size[-1].upper() in units \
        else int(args.size)
    work = Path(tempfile.mkdtemp(prefix="xodiag-bench-"))
    try:
        t = time.perf_counter()
        disk = prepare_disk(work, size, args.seed)
        print(f"disk {size / 2**20:.0f} MiB and its VHD/qcow2 images made in {time.perf_counter() - t:.1f} s")
        for name, label in (("clean", "NBD over TLS"), ("nbd-info-empty", "HTTP export stream (VHD)")):
            r = asyncio.run(run_one(BY_NAME[name], POLICIES["xo-2026.04"], disk, seed=args.seed))
            rate = size / 1e6 / r.duration_s if r.duration_s else 0.0
            print(f"{label:<26} {r.outcome:<9} path={r.path:<6} verified={r.data_verified}  "
                  f"{r.duration_s:6.2f} s  {rate:7.0f} MB/s (pool start and teardown included)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
