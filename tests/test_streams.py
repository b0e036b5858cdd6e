"""The engine's seeded disks, VHD/qcow2 writers and forward-only stream decoders, checked against real qemu-img."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from xodiag.engine.disk import make_disk, sha256_file
from xodiag.engine.streams import (
    BLOCK,
    Qcow2Stream,
    StreamDecodeError,
    VhdStream,
    decode_to,
    open_stream,
    sha256_of_stream,
    write_qcow2,
    write_vhd,
)

QEMU_IMG = shutil.which("qemu-img")
needs_qemu = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img (qemu-utils) is not installed")

MiB = 1024 * 1024
CASES = {
    # name: (size, seed, hole_fraction)
    "odd": (24 * MiB + 12345 * 512, 1, 0.4),  # not a multiple of 2 MiB nor of 64 KiB
    "sparse": (64 * MiB, 2, 0.9),  # mostly holes
    "tiny": (3 * MiB + 3 * 512, 3, 0.0),  # under two blocks, ends mid-cluster
}
DECODERS: dict[str, type[VhdStream] | type[Qcow2Stream]] = {"vhd": VhdStream, "qcow2": Qcow2Stream}


class Body:
    """An HTTP-body-like source: ``read(n)`` only, at most ``chunk`` bytes a call; counts bytes and close()."""

    def __init__(self, data: bytes, chunk: int | None = None) -> None:
        self._data = memoryview(data)
        self._chunk = chunk
        self.pos = 0
        self.closed = False

    def read(self, n: int, /) -> bytes:
        if self._chunk:
            n = min(n, self._chunk)
        out = bytes(self._data[self.pos : self.pos + n])
        self.pos += len(out)
        return out

    def close(self) -> None:
        self.closed = True


@dataclass
class Disk:
    raw: Path
    size: int
    sha: str
    ours: dict[str, Path]
    nonzero: list[int]  # indices of the 2 MiB blocks that are not all zeros

    def nonzero_blocks(self) -> list[int]:
        return list(self.nonzero)


@pytest.fixture(scope="module", params=sorted(CASES))
def disk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Disk:
    size, seed, holes = CASES[request.param]
    d = tmp_path_factory.mktemp(f"disk-{request.param}")
    raw = d / "disk.raw"
    sha = make_disk(raw, size, seed, hole_fraction=holes)
    ours = {"vhd": d / "ours.vhd", "qcow2": d / "ours.qcow2"}
    write_vhd(raw, ours["vhd"])
    write_qcow2(raw, ours["qcow2"])
    buf = raw.read_bytes()
    buf += bytes(-len(buf) % BLOCK)
    nonzero = np.nonzero((np.frombuffer(buf, dtype=np.uint64).reshape(-1, BLOCK // 8) != 0).any(axis=1))[0]
    return Disk(raw, size, sha, ours, nonzero.tolist())


def qemu(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert QEMU_IMG is not None
    return subprocess.run([QEMU_IMG, *map(str, args)], capture_output=True, text=True, timeout=60)


def decode(path: Path, fmt: str, chunk: int | None = None) -> str:
    stream = open_stream(Body(path.read_bytes(), chunk), fmt)
    stream.init()
    return sha256_of_stream(stream)


# --------------------------------------------------------------------------------------------- the raw disk


def test_make_disk_is_deterministic_sparse_and_hashes_itself(tmp_path: Path) -> None:
    size, seed, holes = CASES["odd"]
    a, b, c = tmp_path / "a.raw", tmp_path / "b.raw", tmp_path / "c.raw"
    sha = make_disk(a, size, seed, hole_fraction=holes)
    assert a.stat().st_size == size
    assert sha == sha256_file(a) == make_disk(b, size, seed, hole_fraction=holes)
    assert make_disk(c, size, seed + 1, hole_fraction=holes) != sha
    assert a.stat().st_blocks * 512 < size  # zero regions are holes
    with pytest.raises(ValueError, match="multiple of 512"):
        make_disk(tmp_path / "bad.raw", size + 1, seed)


def test_disk_has_holes_full_and_partial_blocks(disk: Disk) -> None:
    buf = disk.raw.read_bytes()
    assert buf[-512:] != bytes(512)  # data up to the last byte
    padded = buf + bytes(-len(buf) % BLOCK)
    sectors = (np.frombuffer(padded, dtype=np.uint64).reshape(-1, 512 // 8) != 0).any(axis=1)
    per_block = sectors.reshape(-1, BLOCK // 512).sum(axis=1)  # data sectors in each 2 MiB block
    in_disk = [min(BLOCK, disk.size - i * BLOCK) // 512 for i in range(len(per_block))]
    assert any(0 < n < full for n, full in zip(per_block, in_disk, strict=True))  # partial blocks
    if len(per_block) >= 4:
        assert (per_block == 0).any()  # holes
        assert any(n == full for n, full in zip(per_block, in_disk, strict=True))  # full blocks


# ------------------------------------------------------------------------------- (a) qemu-img's images


@needs_qemu
@pytest.mark.parametrize("fmt", ["vhd", "qcow2", "qcow2-compressed"])
def test_decoders_read_qemu_img_images(disk: Disk, fmt: str, tmp_path: Path) -> None:
    out = tmp_path / "qemu.img"
    if fmt == "vhd":
        args = ["-O", "vpc", "-o", "subformat=dynamic,force_size=on"]
    else:
        args = ["-O", "qcow2", *(["-c"] if fmt == "qcow2-compressed" else [])]
    proc = qemu("convert", "-f", "raw", *args, disk.raw, out)
    assert proc.returncode == 0, proc.stderr
    kind = fmt.split("-")[0]
    stream = DECODERS[kind](Body(out.read_bytes()))
    stream.init()
    assert stream.virtual_size == disk.size
    assert set(disk.nonzero_blocks()) <= set(stream.allocated_blocks())
    assert sha256_of_stream(stream) == disk.sha


# ------------------------------------------------------------------------------- (b) qemu-img reads ours


@needs_qemu
@pytest.mark.parametrize(("fmt", "qfmt"), [("vhd", "vpc"), ("qcow2", "qcow2")])
def test_qemu_img_reads_our_images(disk: Disk, fmt: str, qfmt: str) -> None:
    path = disk.ours[fmt]
    proc = qemu("compare", "-f", "raw", "-F", qfmt, disk.raw, path)
    assert proc.returncode == 0 and "Images are identical" in proc.stdout, proc.stdout + proc.stderr
    info = json.loads(qemu("info", "--output=json", "-f", qfmt, path).stdout)
    assert info["virtual-size"] == disk.size
    if fmt == "qcow2":
        check = qemu("check", "-f", "qcow2", path)
        assert check.returncode == 0 and "No errors were found" in check.stdout, check.stdout + check.stderr


# -------------------------------------------------------------------------------------- (c) our images


@pytest.mark.parametrize("fmt", ["vhd", "qcow2"])
def test_decoders_read_our_images(disk: Disk, fmt: str, tmp_path: Path) -> None:
    assert decode(disk.ours[fmt], fmt) == disk.sha
    assert decode(disk.ours[fmt], fmt, chunk=7 * 512 + 3) == disk.sha  # short reads, as from a socket
    stream = open_stream(Body(disk.ours[fmt].read_bytes()), fmt)
    stream.init()
    assert stream.virtual_size == disk.size
    assert stream.block_size == (BLOCK if fmt == "vhd" else 65536)
    assert stream.allocated_blocks() == disk.nonzero_blocks()  # zero blocks left out
    offsets = [off for off, _ in stream.blocks()]
    assert offsets == sorted(offsets)
    out = tmp_path / "decoded.raw"
    decode_to(open_stream(Body(disk.ours[fmt].read_bytes()), fmt), out)
    assert sha256_file(out) == disk.sha


# ------------------------------------------------------------------------------ (d) metadata before data


@pytest.mark.parametrize("fmt", ["vhd", "qcow2"])
def test_init_reads_only_the_metadata_prefix(disk: Disk, fmt: str) -> None:
    data = disk.ours[fmt].read_bytes()
    body = Body(data)
    stream = open_stream(body, fmt)
    stream.init()
    n_alloc = len(disk.nonzero_blocks())
    if fmt == "vhd":
        assert body.pos == 1536 + 4 * -(-disk.size // BLOCK)  # footer copy, header, BAT
        assert len(data) - body.pos >= n_alloc * (BLOCK + 512) + 512  # every block and the footer still unread
    else:
        buf = disk.raw.read_bytes()
        buf += bytes(-len(buf) % 65536)
        clusters = int((np.frombuffer(buf, dtype=np.uint64).reshape(-1, 8192) != 0).any(axis=1).sum())
        assert body.pos == len(data) - clusters * 65536  # header, L1, refcounts, all L2 tables; no data
        assert stream.metadata_complete
    assert stream.position == body.pos
    assert stream.allocated_blocks()
    stream.close()
    assert body.closed


@needs_qemu
def test_init_on_qemu_img_images_reads_a_prefix(disk: Disk, tmp_path: Path) -> None:
    for fmt, args in [("vhd", ["-O", "vpc", "-o", "subformat=dynamic,force_size=on"]), ("qcow2", ["-O", "qcow2"])]:
        out = tmp_path / f"q.{fmt}"
        assert qemu("convert", "-f", "raw", *args, disk.raw, out).returncode == 0
        body = Body(out.read_bytes())
        stream = open_stream(body, fmt)
        stream.init()
        assert body.pos < 1024 * 1024 < out.stat().st_size
        assert stream.allocated_blocks() == disk.nonzero_blocks()


# --------------------------------------------------------------------------------------------- (e) errors


@pytest.mark.parametrize("fmt", ["vhd", "qcow2"])
@pytest.mark.parametrize("where", ["metadata", "data", "end"])
def test_truncated_stream_names_the_byte(disk: Disk, fmt: str, where: str) -> None:
    data = disk.ours[fmt].read_bytes()
    cut = {"metadata": 700, "data": len(data) // 2 + 7, "end": len(data) - 300}[where]
    stream = open_stream(Body(data[:cut], chunk=65536), fmt)
    with pytest.raises(StreamDecodeError, match=rf"^stream ended early at byte {cut}\b"):
        sha256_of_stream(stream)


def _patch(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def test_vhd_bad_cookie_checksum_and_header(disk: Disk) -> None:
    data = disk.ours["vhd"].read_bytes()
    cases = {
        "footer cookie": _patch(data, 0, b"conectiX"),
        "footer checksum mismatch": _patch(data, 48, b"\x00\x00\x00\x00\x10"),  # current size changed
        "dynamic header checksum mismatch": _patch(data, 512 + 32, b"\x00\x10\x00\x00"),  # block size changed
    }
    for msg, bad in cases.items():
        with pytest.raises(StreamDecodeError, match=msg):
            VhdStream(Body(bad)).init()
    with pytest.raises(StreamDecodeError, match="qcow2"):
        Qcow2Stream(Body(data)).init()  # a VHD is not a qcow2: bad magic
    bad_footer = _patch(data, len(data) - 512, b"conectiX")
    with pytest.raises(StreamDecodeError, match="no valid trailing VHD footer"):
        sha256_of_stream(VhdStream(Body(bad_footer)))


def test_vhd_backward_bat_entry_raises(disk: Disk) -> None:
    data = disk.ours["vhd"].read_bytes()
    first = disk.nonzero_blocks()[0]
    bad = _patch(data, 1536 + 4 * first, struct.pack(">I", 1))  # block at byte 512: behind the BAT
    stream = VhdStream(Body(bad))
    stream.init()
    with pytest.raises(StreamDecodeError, match=r"^Can't read backward in stream: .* at byte 512, stream is at"):
        sha256_of_stream(stream)


def test_qcow2_bad_magic_and_backward_cluster(disk: Disk) -> None:
    data = disk.ours["qcow2"].read_bytes()
    with pytest.raises(StreamDecodeError, match="not a qcow2 stream: magic"):
        Qcow2Stream(Body(_patch(data, 0, b"QFI\xfa"))).init()
    with pytest.raises(StreamDecodeError, match="VHD stream: footer cookie"):
        VhdStream(Body(data)).init()
    # point the first data cluster at cluster 1 (the L1 table), which lies behind the L2 tables
    l1_off = struct.unpack_from(">Q", data, 40)[0]
    l2_off = struct.unpack_from(">Q", data, l1_off)[0] & 0x00FFFFFFFFFFFE00
    entries = np.frombuffer(data, dtype=">u8", count=8192, offset=l2_off)
    k = int(np.nonzero(entries)[0][0])
    bad = _patch(data, l2_off + 8 * k, struct.pack(">Q", (1 << 63) | 65536))
    stream = Qcow2Stream(Body(bad))
    stream.init()
    with pytest.raises(StreamDecodeError, match=r"^Can't read backward in stream: .* at byte 65536, stream is at"):
        sha256_of_stream(stream)


# ------------------------------------------------------------------------------ data out of guest order


def _expected_after_swap(disk: Disk, unit: int, i: int, j: int) -> str:
    buf = bytearray(disk.raw.read_bytes())
    buf += bytes(-len(buf) % unit)
    a, b = bytes(buf[i * unit : (i + 1) * unit]), bytes(buf[j * unit : (j + 1) * unit])
    buf[i * unit : (i + 1) * unit] = b
    buf[j * unit : (j + 1) * unit] = a
    return hashlib.sha256(bytes(buf[: disk.size])).hexdigest()


def test_out_of_order_blocks_come_out_in_guest_order(disk: Disk) -> None:
    # VHD: swap the BAT entries of the first and last allocated blocks; the later block is then read first
    blocks = disk.nonzero_blocks()
    assert len(blocks) >= 2
    i, j = blocks[0], blocks[-1]
    data = disk.ours["vhd"].read_bytes()
    ei, ej = data[1536 + 4 * i : 1540 + 4 * i], data[1536 + 4 * j : 1540 + 4 * j]
    bad = _patch(_patch(data, 1536 + 4 * i, ej), 1536 + 4 * j, ei)
    stream = VhdStream(Body(bad))
    offsets = [off for off, _ in stream.blocks()]
    assert offsets == sorted(offsets)
    assert sha256_of_stream(VhdStream(Body(bad))) == _expected_after_swap(disk, BLOCK, i, j)


def test_out_of_order_clusters_come_out_in_guest_order(disk: Disk) -> None:
    # qcow2: swap the L2 entries of the first and last allocated clusters
    data = disk.ours["qcow2"].read_bytes()
    l1_off = struct.unpack_from(">Q", data, 40)[0]
    l2_off = struct.unpack_from(">Q", data, l1_off)[0] & 0x00FFFFFFFFFFFE00
    entries = np.frombuffer(data, dtype=">u8", count=8192, offset=l2_off)
    allocated = np.nonzero(entries)[0].tolist()
    i, j = allocated[0], allocated[-1]  # the last one is a partial cluster for the odd sizes
    ei, ej = data[l2_off + 8 * i : l2_off + 8 * i + 8], data[l2_off + 8 * j : l2_off + 8 * j + 8]
    bad = _patch(_patch(data, l2_off + 8 * i, ej), l2_off + 8 * j, ei)
    offsets = [off for off, _ in Qcow2Stream(Body(bad)).blocks()]
    assert offsets == sorted(offsets)
    assert sha256_of_stream(Qcow2Stream(Body(bad))) == _expected_after_swap(disk, 65536, i, j)


# ------------------------------------------------------------------- qemu layouts with metadata among data


@needs_qemu
def test_qcow2_l2_tables_after_data_and_writes_out_of_order(tmp_path: Path) -> None:
    # 4 KiB clusters: an L2 table maps 2 MiB, and qemu allocates each one when the first write lands in it,
    # so L2 tables sit among data clusters, and the data is in write order, not guest order
    qemu_io = shutil.which("qemu-io")
    assert qemu_io is not None, "qemu-io comes with qemu-img in qemu-utils"
    img, raw = tmp_path / "w.qcow2", tmp_path / "w.raw"
    assert qemu("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", img, "8M").returncode == 0
    writes = [("0x11", 0, 65536), ("0x22", 6 * MiB, 65536), ("0x33", 3 * MiB, 8192), ("0x44", MiB + 512, 4096)]
    cmds = [arg for p, off, n in writes for arg in ("-c", f"write -P {p} {off} {n}")]
    subprocess.run([qemu_io, *cmds, str(img)], check=True, capture_output=True, timeout=60)
    assert qemu("convert", "-f", "qcow2", "-O", "raw", img, raw).returncode == 0

    stream = Qcow2Stream(Body(img.read_bytes()))
    stream.init()
    assert not stream.metadata_complete
    with pytest.raises(StreamDecodeError, match="allocation map incomplete: an L2 table at byte"):
        stream.allocated_blocks()
    runs = list(stream.blocks())
    assert [off for off, _ in runs] == [0, MiB, 3 * MiB, 6 * MiB]  # guest order although written 0, 6M, 3M, 1M
    assert stream.metadata_complete
    assert stream.allocated_blocks() == [0, 1, 3]
    assert sha256_of_stream(Qcow2Stream(Body(img.read_bytes()))) == sha256_file(raw)


@needs_qemu
@pytest.mark.parametrize("cluster", [4096, 65536])
@pytest.mark.parametrize("compress", [False, True])
def test_qcow2_decoder_is_right_or_refuses(cluster: int, compress: bool, tmp_path: Path) -> None:
    # qemu-img's own layouts vary (compressed clusters packed behind later L2 tables, freed clusters reused);
    # the decoder either reconstructs the disk exactly or says it can't read backward, never a wrong disk
    # (with qemu-img 7.2, this disk compressed with 4 KiB clusters has clusters behind a later L2 table)
    size, seed, holes = CASES["odd"]
    raw, img = tmp_path / "d.raw", tmp_path / "d.qcow2"
    sha = make_disk(raw, size, seed, hole_fraction=holes)
    args = ["-c"] if compress else []
    assert qemu("convert", "-f", "raw", "-O", "qcow2", *args, "-o", f"cluster_size={cluster}", raw, img).returncode == 0
    stream = Qcow2Stream(Body(img.read_bytes()))
    try:
        got = sha256_of_stream(stream)
    except StreamDecodeError as exc:
        assert str(exc).startswith("Can't read backward in stream"), str(exc)
    else:
        assert got == sha
