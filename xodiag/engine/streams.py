"""The VDI as XAPI streams it (dynamic VHD, qcow2) and forward-only decoders for those streams.

Writers (from a raw disk file, two passes: find the allocated blocks, then write):

- ``write_vhd(raw, out)``: a dynamic VHD laid out for sequential reading, as XAPI streams it: footer copy @0,
  dynamic header @512, BAT @1536, then for each allocated 2 MiB block (in block order) its 512-byte sector
  bitmap and its data, then the footer. All-zero blocks stay out of the BAT; a bitmap bit is set for each
  non-zero sector. The footer's current size is the raw size (creator ``tap``, which qemu reads as "use the
  current size, not the CHS geometry").
- ``write_qcow2(raw, out)``: qcow2 v3 with 64 KiB clusters and 16-bit refcounts, laid out for sequential
  reading: header, L1 table, refcount table, refcount blocks, every L2 table, then the data clusters in guest
  order. All-zero clusters stay unallocated. The virtual size is the raw size.

Decoders read a binary file-like object that only has ``.read(n)`` (an HTTP body; no seek), strictly forward,
as XO's ``QcowStream``/VHD stream readers do:

- ``VhdStream(src).init()`` reads the footer copy, the dynamic header and the BAT;
  ``Qcow2Stream(src).init()`` reads the header, the L1 table and the L2 tables (all of them when they come
  before the data, as in ``write_qcow2`` and XAPI's layout). qemu allocates an L2 table when the first write
  lands in its range (512 MiB with 64 KiB clusters), so in its images later L2 tables sit among the data
  clusters: there ``init()`` stops at the first data cluster, ``metadata_complete`` is False (and
  ``allocated_blocks()`` raises) until ``blocks()`` has read the remaining L2 tables as it meets them. The
  decoder walks the file with a min-heap of wanted offsets (L1 -> L2 tables -> data clusters); anything
  wanted behind the read position raises. Compressed clusters (zlib) are decoded; backing files,
  encryption, external data files and extended L2 entries are refused.
- After ``init()``: ``virtual_size``, ``block_size`` (the VHD block, 2 MiB; the qcow2 cluster, 64 KiB),
  ``allocated_blocks(block=2 MiB)`` (indices of the ``block``-sized blocks that hold allocated data, what XO
  then reads over NBD) and ``position`` (bytes read so far).
- ``blocks()`` yields ``(offset, data)`` runs of allocated data in increasing virtual offset while reading the
  file strictly forward. When the file is in guest order (XAPI's, ours, qemu-img convert's) every run goes
  straight through; otherwise runs that come early are held back (up to ``REORDER_LIMIT`` bytes) until
  nothing still unread can lie below them. Zero/unallocated areas are not yielded.
- Errors are ``StreamDecodeError`` with a one-line message: ``Can't read backward in stream ...`` when
  something wanted lies behind the read position, ``stream ended early at byte N ...`` on a short stream,
  bad magic/cookie/checksum, unsupported features (differencing VHD, backing file, encryption, ...).
- ``sha256_of_stream(stream)`` hashes the whole virtual disk (holes as zeros) in virtual order without
  writing it; ``decode_to(stream, path)`` writes it as a sparse raw file.
"""

from __future__ import annotations

import errno
import hashlib
import heapq
import http.client
import os
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

__all__ = [
    "BLOCK",
    "REORDER_LIMIT",
    "DiskStream",
    "Qcow2Stream",
    "Readable",
    "StreamDecodeError",
    "VhdStream",
    "decode_to",
    "open_stream",
    "sha256_of_stream",
    "write_qcow2",
    "write_vhd",
]

SECTOR = 512
BLOCK = 2 * 1024 * 1024
"""XO's NBD read size and the VHD block size."""
_CHUNK = 4 * 1024 * 1024
_ZEROS = memoryview(bytes(_CHUNK))
_LOOKBACK = 4096  # bytes kept behind the read position, for qcow2 compressed clusters that share a sector


class StreamDecodeError(Exception):
    """A VHD/qcow2 stream that can't be decoded forward: bad metadata, short stream, backward offsets."""


class Readable(Protocol):
    """What the decoders need from their source: ``read(n)``, and optionally ``close()``."""

    def read(self, n: int, /) -> bytes: ...


class _Forward:
    """Reads a ``Readable`` strictly forward, keeping count of the position."""

    def __init__(self, src: Readable) -> None:
        self.src = src
        self.pos = 0
        self._tail = b""  # the last bytes read, for a small look-back

    def _raw(self, n: int, what: str, allow_short: bool = False) -> bytes:
        if n <= 0:
            return b""
        parts: list[bytes] = []
        got = 0
        while got < n:
            try:
                data = self.src.read(n - got)
            except http.client.IncompleteRead as exc:
                raise StreamDecodeError(
                    f"stream ended early at byte {self.pos + got + len(exc.partial)} (reading {what}): {exc!r}"
                ) from exc
            if not data:
                if allow_short:
                    break
                raise StreamDecodeError(
                    f"stream ended early at byte {self.pos + got} (wanted {n} bytes of {what} at byte {self.pos})"
                )
            if not parts and len(data) == n:
                parts.append(bytes(data) if not isinstance(data, bytes) else data)
                got = n
                break
            parts.append(bytes(data))
            got += len(data)
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        self.pos += len(out)
        if len(out) >= _LOOKBACK:
            self._tail = out[-_LOOKBACK:]
        else:
            self._tail = (self._tail + out)[-_LOOKBACK:]
        return out

    def skip_to(self, offset: int, what: str) -> None:
        if offset < self.pos:
            raise StreamDecodeError(
                f"Can't read backward in stream: {what} at byte {offset}, stream is at byte {self.pos}"
            )
        while self.pos < offset:
            self._raw(min(_CHUNK, offset - self.pos), f"the gap before {what}")

    def read_at(self, offset: int, n: int, what: str, *, lookback: bool = False, allow_short: bool = False) -> bytes:
        if offset < self.pos and lookback and self.pos - offset <= len(self._tail):
            behind = self.pos - offset
            head = self._tail[len(self._tail) - behind :][:n]
            return head + self._raw(n - len(head), what, allow_short)
        self.skip_to(offset, what)
        return self._raw(n, what, allow_short)


class DiskStream(Protocol):
    """What both decoders expose."""

    virtual_size: int
    block_size: int
    initialized: bool

    def init(self) -> None: ...

    def allocated_blocks(self, block: int = BLOCK) -> list[int]: ...

    def blocks(self) -> Iterator[tuple[int, bytes]]: ...

    def close(self) -> None: ...


def _close(src: object) -> None:
    close = getattr(src, "close", None)
    if callable(close):
        close()


def _blocks_of_extents(extents: list[tuple[int, int]], block: int, vsize: int) -> list[int]:
    """Indices of ``block``-sized blocks touched by the ``(offset, length)`` extents (clipped to ``vsize``)."""
    out: set[int] = set()
    for off, length in extents:
        end = min(off + length, vsize)
        if end > off:
            out.update(range(off // block, (end - 1) // block + 1))
    return sorted(out)


REORDER_LIMIT = 256 * 1024 * 1024
"""Most bytes ``blocks()`` holds back to put a stream whose data is out of guest order back in order."""


def _in_guest_order(runs: Iterator[tuple[int, bytes]], frontier: Callable[[], int]) -> Iterator[tuple[int, bytes]]:
    """Yield ``runs`` (file order) in increasing guest offset.

    ``frontier()`` is the lowest guest offset any later run may have; a buffered run below it can go out. For a
    stream laid out in guest order (XAPI's, ours, qemu-img's) each run goes straight through.
    """
    buf: list[tuple[int, int, bytes]] = []
    held = 0
    seq = 0
    for off, data in runs:
        seq += 1
        heapq.heappush(buf, (off, seq, data))
        held += len(data)
        low = frontier()
        while buf and buf[0][0] < low:
            o, _, d = heapq.heappop(buf)
            held -= len(d)
            yield o, d
        if held > REORDER_LIMIT:
            raise StreamDecodeError(
                f"stream data is out of guest order: more than {REORDER_LIMIT} bytes held back before disk byte {low}"
            )
    while buf:
        o, _, d = heapq.heappop(buf)
        yield o, d


# --------------------------------------------------------------------------------------------------- VHD

_VHD_COOKIE = b"conectix"
_VHD_DYN_COOKIE = b"cxsparse"
_VHD_UNUSED = 0xFFFFFFFF
_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427x")
_DYN = struct.Struct(">8sQQIIII16sI4x512s192s256x")


def _vhd_checksum(buf: bytes, at: int) -> int:
    return ~(sum(buf[:at]) + sum(buf[at + 4 :])) & 0xFFFFFFFF


def _chs(size: int) -> tuple[int, int, int]:
    """The VHD spec's CHS geometry for ``size`` bytes."""
    total = min(size // SECTOR, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total // spt
    else:
        spt = 17
        cth = total // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total // spt
    return cth // heads, heads, spt


def _vhd_footer(size: int, uid: bytes) -> bytes:
    cyl, heads, spt = _chs(size)
    fields = (_VHD_COOKIE, 2, 0x00010000, SECTOR, 0, b"tap\0", 0x00010003, b"Lnux", size, size, cyl, heads, spt, 3)
    buf = bytearray(_FOOTER.pack(*fields, 0, uid, 0))
    struct.pack_into(">I", buf, 64, _vhd_checksum(bytes(buf), 64))
    return bytes(buf)


def _vhd_header(bat_offset: int, entries: int, block_size: int) -> bytes:
    buf = bytearray(
        _DYN.pack(
            _VHD_DYN_COOKIE,
            0xFFFFFFFFFFFFFFFF,
            bat_offset,
            0x00010000,
            entries,
            block_size,
            0,
            bytes(16),
            0,
            bytes(512),
            bytes(192),
        )
    )
    struct.pack_into(">I", buf, 36, _vhd_checksum(bytes(buf), 36))
    return bytes(buf)


def _may_have_data(fd: int, start: int, end: int) -> bool:
    """False when the file is a hole over [start, end) (SEEK_DATA), True when it may hold data."""
    if not hasattr(os, "SEEK_DATA"):
        return True
    try:
        return os.lseek(fd, start, os.SEEK_DATA) < end
    except OSError as exc:  # ENXIO: no data at or after start
        return exc.errno != errno.ENXIO


def _read_padded(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    buf = f.read(n)
    return buf if len(buf) == n else buf + bytes(n - len(buf))


def _raw_size(raw: Path) -> int:
    size = raw.stat().st_size
    if size % SECTOR:
        raise ValueError(f"{raw}: size {size} is not a multiple of {SECTOR}")
    return size


def write_vhd(raw: Path, out: Path) -> None:
    """Write ``raw`` as a dynamic VHD laid out for sequential reading (all metadata before any data)."""
    size = _raw_size(raw)
    n_blocks = -(-size // BLOCK)
    spb = BLOCK // SECTOR
    bitmaps: dict[int, bytes] = {}
    zero_block = bytes(BLOCK)
    with open(raw, "rb") as f:
        fd = f.fileno()
        for i in range(n_blocks):
            start = i * BLOCK
            if not _may_have_data(fd, start, min(start + BLOCK, size)):
                continue
            buf = _read_padded(f, start, BLOCK)
            if buf == zero_block:
                continue
            mask = (np.frombuffer(buf, dtype=np.uint64).reshape(spb, SECTOR // 8) != 0).any(axis=1)
            bitmaps[i] = np.packbits(mask).tobytes()  # MSB first: sector 0 is bit 7 of byte 0

        bat = np.full(n_blocks, _VHD_UNUSED, dtype=">u4")
        bat_offset = 3 * SECTOR
        bat_bytes = -(-(n_blocks * 4) // SECTOR) * SECTOR
        bitmap_bytes = -(-(spb // 8) // SECTOR) * SECTOR
        pos = bat_offset + bat_bytes
        for i in sorted(bitmaps):
            bat[i] = pos // SECTOR
            pos += bitmap_bytes + BLOCK
        uid = uuid.uuid5(uuid.NAMESPACE_URL, f"xodiag-vhd:{size}:{len(bitmaps)}").bytes
        footer = _vhd_footer(size, uid)
        with open(out, "wb", buffering=_CHUNK) as o:
            o.write(footer)
            o.write(_vhd_header(bat_offset, n_blocks, BLOCK))
            bat_buf = bat.tobytes()
            o.write(bat_buf + b"\xff" * (bat_bytes - len(bat_buf)))
            pad = bytes(bitmap_bytes - spb // 8)
            for i in sorted(bitmaps):
                o.write(bitmaps[i] + pad)
                o.write(_read_padded(f, i * BLOCK, BLOCK))
            o.write(footer)


class VhdStream:
    """A dynamic VHD stream read strictly forward (see the module docstring)."""

    def __init__(self, src: Readable) -> None:
        self._r = _Forward(src)
        self.virtual_size = 0
        self.block_size = 0
        self.initialized = False
        self.metadata_complete = False
        self._bitmap_bytes = 0
        self._plan: list[tuple[int, int]] = []  # (file offset, block index), in file order
        self._frontier = 0

    @property
    def position(self) -> int:
        return self._r.pos

    def init(self) -> None:
        footer = self._r.read_at(0, SECTOR, "the VHD footer copy")
        fields = _FOOTER.unpack(footer)
        cookie, data_offset, current, disk_type, checksum = fields[0], fields[3], fields[9], fields[13], fields[14]
        if cookie != _VHD_COOKIE:
            raise StreamDecodeError(f"not a VHD stream: footer cookie {cookie!r} at byte 0, expected {_VHD_COOKIE!r}")
        if checksum != _vhd_checksum(footer, 64):
            raise StreamDecodeError(
                f"VHD footer checksum mismatch: stored 0x{checksum:08x}, computed 0x{_vhd_checksum(footer, 64):08x}"
            )
        if disk_type == 2:
            raise StreamDecodeError("fixed VHD streams are not supported (XO asks XAPI for a dynamic VHD)")
        if disk_type == 4:
            raise StreamDecodeError("differencing VHD streams are not supported (absent sectors are in the parent)")
        if disk_type != 3:
            raise StreamDecodeError(f"unknown VHD disk type {disk_type}")
        header = self._r.read_at(data_offset, 1024, "the VHD dynamic header")
        h = _DYN.unpack(header)
        dcookie, table_offset, entries, block_size, hsum = h[0], h[2], h[4], h[5], h[6]
        if dcookie != _VHD_DYN_COOKIE:
            raise StreamDecodeError(
                f"bad VHD dynamic header cookie {dcookie!r} at byte {data_offset}, expected {_VHD_DYN_COOKIE!r}"
            )
        if hsum != _vhd_checksum(header, 36):
            raise StreamDecodeError(
                f"VHD dynamic header checksum mismatch: stored 0x{hsum:08x}, computed 0x{_vhd_checksum(header, 36):08x}"
            )
        if block_size == 0 or block_size % (SECTOR * 8):
            raise StreamDecodeError(f"bad VHD block size {block_size}")
        if entries * block_size < current:
            raise StreamDecodeError(f"VHD BAT has {entries} entries of {block_size} B, too few for {current} B")
        bat = np.frombuffer(self._r.read_at(table_offset, entries * 4, "the VHD BAT"), dtype=">u4")
        self.virtual_size = current
        self.block_size = block_size
        self._bitmap_bytes = -(-(block_size // SECTOR // 8) // SECTOR) * SECTOR
        n_used = -(-current // block_size)
        idx = np.nonzero(bat[:n_used] != _VHD_UNUSED)[0]
        offs = bat[idx].astype(np.int64) * SECTOR
        order = np.argsort(offs, kind="stable")
        self._plan = [(int(offs[k]), int(idx[k])) for k in order]
        self.initialized = True
        self.metadata_complete = True

    def allocated_blocks(self, block: int = BLOCK) -> list[int]:
        """Indices of the ``block``-sized blocks holding allocated (BAT-mapped) data."""
        self._need_init()
        bs = self.block_size
        return _blocks_of_extents([(i * bs, bs) for _, i in self._plan], block, self.virtual_size)

    def _need_init(self) -> None:
        if not self.initialized:
            raise StreamDecodeError("call init() before using the stream")

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """``(offset, data)`` runs of allocated data (bitmap bits set) in increasing virtual offset."""
        if not self.initialized:
            self.init()
        return _in_guest_order(self._file_runs(), lambda: self._frontier)

    def _file_runs(self) -> Iterator[tuple[int, bytes]]:
        bs = self.block_size
        spb = bs // SECTOR
        vsize = self.virtual_size
        # lowest block index among the blocks after each position of the plan
        after = [vsize] * (len(self._plan) + 1)
        for k in range(len(self._plan) - 1, -1, -1):
            after[k] = min(after[k + 1], self._plan[k][1] * bs)
        for k, (off, i) in enumerate(self._plan):
            bitmap = self._r.read_at(off, self._bitmap_bytes, f"the bitmap of VHD block {i}")[: spb // 8]
            data = self._r._raw(bs, f"VHD block {i}")
            base = i * bs
            if bitmap == b"\xff" * len(bitmap):
                runs: list[tuple[int, int]] = [(0, spb)]
            elif not any(bitmap):
                continue
            else:
                bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8)).astype(np.int8)
                edges = np.diff(np.concatenate(([0], bits, [0])))
                runs = list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))
            for s0, s1 in runs:
                a = base + s0 * SECTOR
                b = min(base + s1 * SECTOR, vsize)
                if b > a:
                    self._frontier = min(after[k + 1], b)
                    yield a, data[s0 * SECTOR : s0 * SECTOR + (b - a)]
        # the trailing footer: the rest of the stream must end with a copy of the footer
        tail = b""
        while True:
            chunk = self._r._raw(_CHUNK, "the trailing VHD footer", allow_short=True)
            if not chunk:
                break
            tail = (tail + chunk)[-SECTOR:]
        if (
            len(tail) < SECTOR
            or tail[:8] != _VHD_COOKIE
            or _vhd_checksum(tail, 64) != struct.unpack_from(">I", tail, 64)[0]
        ):
            raise StreamDecodeError(f"stream ended early at byte {self._r.pos}: no valid trailing VHD footer")

    def close(self) -> None:
        _close(self._r.src)


# ------------------------------------------------------------------------------------------------- qcow2

_QCOW_MAGIC = b"QFI\xfb"
_QCOW_HDR = struct.Struct(">4sIQIIQIIQQIIQ")  # up to and including snapshots_offset (72 bytes)
_QCOW_V3 = struct.Struct(">QQQII")  # incompatible, compatible, autoclear, refcount_order, header_length
_OFFSET_MASK = 0x00FFFFFFFFFFFE00
_COPIED = 1 << 63
_COMPRESSED = 1 << 62
_CS = 65536
_L1, _L2, _DATA, _COMP = 0, 1, 2, 3
_KNOWN_INCOMPAT = 0b11111  # dirty, corrupt, external data file, compression type, extended L2


def write_qcow2(raw: Path, out: Path) -> None:
    """Write ``raw`` as qcow2 v3 (64 KiB clusters) laid out for sequential reading (all metadata first)."""
    size = _raw_size(raw)
    cs = _CS
    l2_entries = cs // 8
    n_cl = -(-size // cs)
    mask = np.zeros(n_cl, dtype=bool)
    with open(raw, "rb") as f:
        fd = f.fileno()
        for start in range(0, size, BLOCK):
            end = min(start + BLOCK, size)
            if not _may_have_data(fd, start, end):
                continue
            n = -(-(end - start) // cs) * cs
            buf = _read_padded(f, start, n)
            mask[start // cs : start // cs + n // cs] = (
                np.frombuffer(buf, dtype=np.uint64).reshape(-1, cs // 8) != 0
            ).any(axis=1)
        data_idx = np.nonzero(mask)[0]
        l1_size = -(-n_cl // l2_entries)
        l2_needed = np.unique(data_idx // l2_entries)
        n_l2, n_data = len(l2_needed), len(data_idx)
        l1_clusters = max(1, -(-(l1_size * 8) // cs))
        rb_entries = cs * 8 // 16  # refcount_order 4: 16-bit refcounts
        rb = rt = 1
        while True:
            total = 1 + l1_clusters + rt + rb + n_l2 + n_data
            rb2 = -(-total // rb_entries)
            rt2 = -(-(rb2 * 8) // cs)
            if (rb2, rt2) == (rb, rt):
                break
            rb, rt = rb2, rt2
        l1_off = cs
        rt_off = l1_off + l1_clusters * cs
        rb_off = rt_off + rt * cs
        l2_off = rb_off + rb * cs
        data_off = l2_off + n_l2 * cs

        l1 = np.zeros(l1_clusters * l2_entries, dtype=">u8")
        l1[l2_needed] = (l2_off + np.arange(n_l2, dtype=np.uint64) * cs) | _COPIED
        l2 = np.zeros(n_l2 * l2_entries, dtype=">u8")
        table = np.searchsorted(l2_needed, data_idx // l2_entries)
        l2[table * l2_entries + data_idx % l2_entries] = (data_off + np.arange(n_data, dtype=np.uint64) * cs) | _COPIED
        rtable = np.zeros(rt * l2_entries, dtype=">u8")
        rtable[:rb] = rb_off + np.arange(rb, dtype=np.uint64) * cs
        refcounts = np.zeros(rb * rb_entries, dtype=">u2")
        refcounts[:total] = 1

        header = bytearray(cs)
        _QCOW_HDR.pack_into(header, 0, _QCOW_MAGIC, 3, 0, 0, 16, size, 0, l1_size, l1_off, rt_off, rt, 0, 0)
        _QCOW_V3.pack_into(header, _QCOW_HDR.size, 0, 0, 0, 4, 104)
        with open(out, "wb", buffering=_CHUNK) as o:
            for part in (bytes(header), l1.tobytes(), rtable.tobytes(), refcounts.tobytes(), l2.tobytes()):
                o.write(part)
            # data clusters in guest order, in runs of consecutive clusters read at most 4 MiB at a time
            k = 0
            per_read = _CHUNK // cs
            while k < n_data:
                j = k + 1
                while j < n_data and j - k < per_read and data_idx[j] == data_idx[j - 1] + 1:
                    j += 1
                o.write(_read_padded(f, int(data_idx[k]) * cs, (j - k) * cs))
                k = j


class Qcow2Stream:
    """A qcow2 stream read strictly forward with a min-heap of wanted file offsets (see the module docstring)."""

    def __init__(self, src: Readable) -> None:
        self._r = _Forward(src)
        self.virtual_size = 0
        self.block_size = 0
        self.initialized = False
        self.version = 0
        self._cluster_bits = 0
        self._heap: list[tuple[int, int, int, int, int]] = []  # (file offset, seq, kind, a, b)
        self._gheap: list[tuple[int, int]] = []  # (lowest guest offset, seq) of the same items
        self._done: set[int] = set()  # seqs popped from _heap, still in _gheap
        self._frontier = 0
        self._seq = 0
        self._pending_l2 = 0
        self._allocated: list[np.ndarray] = []  # guest cluster indices with data
        self._compression = 0

    @property
    def position(self) -> int:
        return self._r.pos

    @property
    def metadata_complete(self) -> bool:
        """True once every L2 table has been read (after ``init()`` for XAPI's and our layout)."""
        return self.initialized and self._pending_l2 == 0

    def _push(self, offset: int, kind: int, a: int, b: int, guest: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (offset, self._seq, kind, a, b))
        heapq.heappush(self._gheap, (guest, self._seq))

    def _pop(self) -> tuple[int, int, int, int, int]:
        item = heapq.heappop(self._heap)
        self._done.add(item[1])
        return item

    def _lowest_pending(self) -> int:
        """The lowest guest offset of the items still wanted (virtual size when none)."""
        g = self._gheap
        while g and g[0][1] in self._done:
            self._done.discard(heapq.heappop(g)[1])
        return g[0][0] if g else self.virtual_size

    def init(self) -> None:
        head = self._r.read_at(0, _QCOW_HDR.size, "the qcow2 header")
        (
            magic,
            version,
            backing_off,
            _backing_size,
            cluster_bits,
            size,
            crypt,
            l1_size,
            l1_off,
            _rt_off,
            _rt_cl,
            _nb_snap,
            _snap_off,
        ) = _QCOW_HDR.unpack(head)
        if magic != _QCOW_MAGIC:
            raise StreamDecodeError(f"not a qcow2 stream: magic {magic!r} at byte 0, expected {_QCOW_MAGIC!r}")
        if version not in (2, 3):
            raise StreamDecodeError(f"unsupported qcow2 version {version}")
        if not 9 <= cluster_bits <= 21:
            raise StreamDecodeError(f"bad qcow2 cluster_bits {cluster_bits}")
        if backing_off:
            raise StreamDecodeError("qcow2 streams with a backing file are not supported")
        if crypt:
            raise StreamDecodeError(f"encrypted qcow2 streams are not supported (crypt_method {crypt})")
        if version == 3:
            incompat, _compat, _autoclear, _rorder, hlen = _QCOW_V3.unpack(
                self._r._raw(_QCOW_V3.size, "the qcow2 v3 header")
            )
            if incompat & ~_KNOWN_INCOMPAT:
                raise StreamDecodeError(f"unknown qcow2 incompatible features 0x{incompat:x}")
            if incompat & 2:
                raise StreamDecodeError("qcow2 image is marked corrupt")
            if incompat & 4:
                raise StreamDecodeError("qcow2 streams with an external data file are not supported")
            if incompat & 16:
                raise StreamDecodeError("qcow2 streams with extended L2 entries are not supported")
            if hlen > 104:
                self._compression = self._r._raw(1, "the qcow2 compression type")[0]
        cs = 1 << cluster_bits
        l2_entries = cs // 8
        if l1_size * l2_entries * cs < size:
            raise StreamDecodeError(f"qcow2 L1 table of {l1_size} entries is too small for {size} B")
        self.version = version
        self._cluster_bits = cluster_bits
        self.virtual_size = size
        self.block_size = cs
        self._push(l1_off, _L1, 0, l1_size * 8, 0)
        self.initialized = True
        while self._heap and self._heap[0][2] in (_L1, _L2):
            off, _, kind, a, b = self._pop()
            if kind == _L1:
                self._read_l1(off, b)
            else:
                self._read_l2(off, a)

    def _read_l1(self, off: int, n: int) -> None:
        cs = self.block_size
        span = (cs // 8) * cs
        needed = -(-self.virtual_size // span)
        l1 = np.frombuffer(self._r.read_at(off, n, "the qcow2 L1 table"), dtype=">u8")[:needed]
        offs = l1 & np.uint64(_OFFSET_MASK)
        for i in np.nonzero(offs)[0].tolist():
            o = int(offs[i])
            if o % cs:
                raise StreamDecodeError(f"qcow2 L2 table {i} at unaligned byte {o}")
            self._push(o, _L2, i, cs, i * span)
            self._pending_l2 += 1

    def _read_l2(self, off: int, index: int) -> None:
        cs = self.block_size
        l2_entries = cs // 8
        self._pending_l2 -= 1
        raw = self._r.read_at(off, cs, f"qcow2 L2 table {index}")
        first = index * l2_entries
        n = min(l2_entries, -(-self.virtual_size // cs) - first)
        e = np.frombuffer(raw, dtype=">u8")[:n].astype(np.uint64)
        compressed = (e & np.uint64(_COMPRESSED)) != 0
        offs = e & np.uint64(_OFFSET_MASK)
        zero = (e & np.uint64(1)) != 0 if self.version == 3 else np.zeros(n, dtype=bool)
        data = ~compressed & (offs != 0) & ~zero
        didx = np.nonzero(data)[0]
        doffs = offs[didx].astype(np.int64)
        if len(doffs) and (doffs % cs).any():
            bad = int(didx[np.nonzero(doffs % cs)[0][0]])
            raise StreamDecodeError(f"qcow2 L2 table {index}: cluster {first + bad} at unaligned byte")
        # runs of clusters consecutive both in the guest and in the file, each read as one piece
        if len(didx):
            breaks = np.nonzero((np.diff(didx) != 1) | (np.diff(doffs) != cs))[0] + 1
            starts = np.concatenate(([0], breaks))
            ends = np.concatenate((breaks, [len(didx)]))
            for s, t in zip(starts.tolist(), ends.tolist(), strict=True):
                g = (first + int(didx[s])) * cs
                self._push(int(doffs[s]), _DATA, g, (t - s) * cs, g)
        cidx = np.nonzero(compressed)[0]
        if len(cidx):
            if self._compression != 0:
                raise StreamDecodeError(f"qcow2 compression type {self._compression} (zstd) is not supported")
            x = 62 - (self._cluster_bits - 8)
            for i in cidx.tolist():
                ent = int(e[i])
                coff = ent & ((1 << x) - 1)
                nsec = ((ent >> x) & ((1 << (self._cluster_bits - 8)) - 1)) + 1
                self._push(coff, _COMP, (first + i) * cs, nsec * SECTOR - (coff & (SECTOR - 1)), (first + i) * cs)
        self._allocated.append(first + np.concatenate((didx, cidx)))

    def allocated_blocks(self, block: int = BLOCK) -> list[int]:
        """Indices of the ``block``-sized blocks holding allocated clusters (needs every L2 table read)."""
        if not self.initialized:
            raise StreamDecodeError("call init() before using the stream")
        if self._pending_l2:
            pending = min(o for o, _, k, _, _ in self._heap if k == _L2)
            raise StreamDecodeError(
                f"qcow2 allocation map incomplete: an L2 table at byte {pending} comes after data clusters"
            )
        cs = self.block_size
        clusters = np.unique(np.concatenate(self._allocated)) if self._allocated else np.zeros(0, dtype=np.int64)
        if cs <= block:
            blocks = np.unique(clusters * cs // block)
            return [int(b) for b in blocks if b * block < self.virtual_size]
        return _blocks_of_extents([(int(c) * cs, cs) for c in clusters], block, self.virtual_size)

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """``(offset, data)`` runs of allocated clusters in increasing virtual offset, reading forward."""
        if not self.initialized:
            self.init()
        return _in_guest_order(self._file_runs(), lambda: self._frontier)

    def _file_runs(self) -> Iterator[tuple[int, bytes]]:
        cs = self.block_size
        vsize = self.virtual_size
        while self._heap:
            off, _, kind, guest, n = self._pop()
            if kind == _L2:
                self._read_l2(off, guest)
            elif kind == _L1:
                self._read_l1(off, n)
            elif kind == _DATA:
                what = f"the data of guest byte {guest}"
                self._r.skip_to(off, what)
                for p in range(0, n, _CHUNK):
                    m = min(_CHUNK, n - p)
                    data = self._r._raw(m, what)
                    g = guest + p
                    if g + m > vsize:
                        data = data[: max(0, vsize - g)]
                    if data:
                        self._frontier = min(self._lowest_pending(), g + len(data))
                        yield g, data
            else:
                comp = self._r.read_at(
                    off, n, f"the compressed cluster of guest byte {guest}", lookback=True, allow_short=True
                )
                d = zlib.decompressobj(-15)
                try:
                    data = d.decompress(comp, cs)
                except zlib.error as exc:
                    raise StreamDecodeError(f"bad compressed qcow2 cluster at byte {off}: {exc}") from exc
                if len(data) != cs:
                    raise StreamDecodeError(f"compressed qcow2 cluster at byte {off} gives {len(data)} B, not {cs}")
                data = data[: max(0, vsize - guest)]
                if data:
                    self._frontier = min(self._lowest_pending(), guest + len(data))
                    yield guest, data

    def close(self) -> None:
        _close(self._r.src)


# ------------------------------------------------------------------------------------------------ helpers


def open_stream(src: Readable, fmt: str) -> VhdStream | Qcow2Stream:
    """A decoder for ``fmt`` (``vhd`` or ``qcow2``, as in XAPI's ``/export_raw_vdi?format=``); not yet init()ed."""
    if fmt == "vhd":
        return VhdStream(src)
    if fmt == "qcow2":
        return Qcow2Stream(src)
    raise ValueError(f"unknown stream format {fmt!r} (vhd or qcow2)")


def sha256_of_stream(stream: DiskStream) -> str:
    """The sha256 of the whole virtual disk (holes as zeros), hashed in virtual order, nothing written."""
    if not getattr(stream, "initialized", False):
        stream.init()
    h = hashlib.sha256()
    pos = 0
    for off, data in stream.blocks():
        if off < pos:
            raise StreamDecodeError(f"data for disk byte {off} comes after disk byte {pos}: not in guest order")
        while pos < off:
            n = min(_CHUNK, off - pos)
            h.update(_ZEROS[:n])
            pos += n
        h.update(data)
        pos = off + len(data)
    while pos < stream.virtual_size:
        n = min(_CHUNK, stream.virtual_size - pos)
        h.update(_ZEROS[:n])
        pos += n
    return h.hexdigest()


def decode_to(stream: DiskStream, out_path: Path) -> None:
    """Write the whole virtual disk as a sparse raw file (any order of runs)."""
    if not getattr(stream, "initialized", False):
        stream.init()
    with open(out_path, "wb") as o:
        for off, data in stream.blocks():
            o.seek(off)
            o.write(data)
        o.truncate(stream.virtual_size)
