"""A seeded raw disk image for the transfer engine: holes, data and partly filled 2 MiB blocks, any size.

``make_disk(path, size, seed)`` is deterministic for ``(size, seed)`` (and the optional ``hole_fraction``): the
same arguments give the same bytes and so the same sha256. The layout works in 2 MiB blocks (XO's NBD read
size); each block is a hole (all zeros, left as a hole in the file), fully written, or partly written with a few
runs of sectors (some 512-byte aligned, some 4 KiB or 64 KiB aligned, so VHD sector bitmaps and qcow2 clusters
both see partial allocation). The first block is partly written (like a partition table) and the last block
always has data up to the very last byte, so an odd size (not a multiple of 2 MiB) is exercised.

Data bytes are cheap pseudo-random bytes: slices of a seeded 8 MiB pool at random offsets, with the first 8
bytes of every 512-byte sector replaced by the sector number mixed with the seed. So every sector's content is
distinct, and a sector written at the wrong place changes the hash. About 1 GB/s on a small VM.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np

SECTOR = 512
BLOCK = 2 * 1024 * 1024
HASH_CHUNK = 4 * 1024 * 1024
_POOL = 8 * 1024 * 1024
_ZEROS = memoryview(bytes(HASH_CHUNK))

__all__ = ["BLOCK", "SECTOR", "disk_runs", "make_disk", "sha256_file"]


def sha256_file(path: Path) -> str:
    """The sha256 hex digest of a file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    buf = bytearray(HASH_CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return h.hexdigest()


def _block_runs(rng: random.Random, start: int, length: int, kind: str) -> list[tuple[int, int]]:
    """Data runs ``(offset, length)`` inside one block, sorted, non-overlapping, sector aligned."""
    sectors = length // SECTOR
    if kind == "full":
        return [(start, length)]
    # partial: 1-6 runs; cut points at sector, 4 KiB or 64 KiB granularity
    k = rng.randint(1, 6)
    grain = rng.choice([1, 8, 128])
    slots = max(sectors // grain, 2)
    cuts = sorted(rng.sample(range(slots + 1), min(2 * k, slots + 1)))
    if len(cuts) % 2:
        cuts.pop()
    runs: list[tuple[int, int]] = []
    for a, b in zip(cuts[0::2], cuts[1::2], strict=True):
        s0, s1 = min(a * grain, sectors), min(b * grain, sectors)
        if s1 > s0:
            runs.append((start + s0 * SECTOR, (s1 - s0) * SECTOR))
    return runs


def disk_runs(size: int, seed: int, hole_fraction: float = 0.4) -> list[tuple[int, int]]:
    """The data runs ``(offset, length)`` of ``make_disk(_, size, seed, hole_fraction=...)``, sorted and merged."""
    if size <= 0 or size % SECTOR:
        raise ValueError(f"disk size must be a positive multiple of {SECTOR}, got {size}")
    rng = random.Random(f"xodiag-disk:{seed}:{size}:{hole_fraction}")
    n_blocks = -(-size // BLOCK)
    kinds: list[str] = []
    for _ in range(n_blocks):
        x = rng.random()
        if x < hole_fraction:
            kinds.append("hole")
        elif x < hole_fraction + (1 - hole_fraction) / 2:
            kinds.append("full")
        else:
            kinds.append("partial")
    kinds[0] = "partial"
    if n_blocks >= 4:
        # at least one hole and one full block somewhere in the middle
        if "hole" not in kinds[1:-1]:
            kinds[1 + rng.randrange(n_blocks - 2)] = "hole"
        if "full" not in kinds[1:-1]:
            choices = [i for i in range(1, n_blocks - 1) if kinds[i] != "hole"] or [1]
            kinds[rng.choice(choices)] = "full"
    runs: list[tuple[int, int]] = []
    for i, kind in enumerate(kinds):
        start = i * BLOCK
        length = min(BLOCK, size - start)
        if kind != "hole":
            runs.extend(_block_runs(rng, start, length, kind))
    # the last bytes of the disk are data, whatever the last block's kind
    tail = min(size, rng.choice([SECTOR, 4096, 65536 + SECTOR]))
    runs.append((size - tail, tail))
    runs.sort()
    merged: list[tuple[int, int]] = []
    for off, length in runs:
        if merged and off <= merged[-1][0] + merged[-1][1]:
            o, n = merged[-1]
            merged[-1] = (o, max(n, off + length - o))
        else:
            merged.append((off, length))
    return merged


def _data_chunks(seed: int, size: int, runs: list[tuple[int, int]]) -> Iterator[tuple[int, bytes]]:
    """The bytes of each run, in at most 4 MiB pieces: pool slices with per-sector stamps."""
    gen = np.random.Generator(np.random.SFC64([seed & 0xFFFFFFFF, size & 0xFFFFFFFF, size >> 32]))
    pool = np.frombuffer(gen.bytes(_POOL + HASH_CHUNK), dtype=np.uint8)
    key = np.uint64((seed * 0x9E3779B97F4A7C15 + 0x5851F42D4C957F2D) & 0xFFFFFFFFFFFFFFFF)
    for off, length in runs:
        pos = off
        end = off + length
        while pos < end:
            n = min(HASH_CHUNK, end - pos)
            start = int(gen.integers(0, _POOL // 8)) * 8
            arr = pool[start : start + n].copy().view(np.uint64).reshape(-1, SECTOR // 8)
            lba = np.arange(pos // SECTOR, (pos + n) // SECTOR, dtype=np.uint64)
            arr[:, 0] = lba ^ key
            yield pos, arr.tobytes()
            pos += n


def make_disk(path: Path, size: int, seed: int, *, hole_fraction: float = 0.4) -> str:
    """Write a seeded raw disk of ``size`` bytes (a multiple of 512) at ``path``; return its sha256 hex.

    Zero regions are holes in the file (written with seek). ``hole_fraction`` is the share of 2 MiB blocks
    left empty (0.9 gives a mostly sparse disk). Deterministic for ``(size, seed, hole_fraction)``.
    """
    runs = disk_runs(size, seed, hole_fraction)
    h = hashlib.sha256()
    pos = 0
    with open(path, "wb") as f:
        for off, data in _data_chunks(seed, size, runs):
            while pos < off:
                n = min(HASH_CHUNK, off - pos)
                h.update(_ZEROS[:n])
                pos += n
            f.seek(off)
            f.write(data)
            h.update(data)
            pos = off + len(data)
        f.truncate(size)
    while pos < size:
        n = min(HASH_CHUNK, size - pos)
        h.update(_ZEROS[:n])
        pos += n
    return h.hexdigest()
