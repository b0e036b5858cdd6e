"""Open what the user gives: files, stdin, compressed files, directories and support bundles.

Every input becomes an ``Input`` that streams its decoded lines (big files are never held whole in
memory). Problems never raise: they become one-line notes (``Input.notes``) and, when nothing at all
could be read, ``Input.error``.
"""

from __future__ import annotations

import bz2
import codecs
import io
import lzma
import os
import stat
import sys
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
_SKIP_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".pdf", ".rrd", ".db", ".sqlite", ".zip", ".md"}
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class _GzipReader(io.RawIOBase):
    """gzip that keeps what it could decode when the stream is truncated or corrupt."""

    def __init__(self, fh: BinaryIO, note: Callable[[str], None]) -> None:
        self._fh = fh
        self._note = note
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buf = b""
        self._done = False
        self._fed = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        while not self._buf and not self._done:
            raw = self._fh.read(CHUNK)
            if not raw:
                if self._fed and not self._d.eof:
                    self._note("truncated gzip stream: the end of the file is missing; kept what was readable")
                self._done = True
                break
            self._fed = True
            try:
                self._buf = self._d.decompress(raw)
            except zlib.error as exc:
                self._note(f"corrupt gzip data ({exc}); kept what was readable")
                self._done = True
                break
            if self._d.eof:
                # Concatenated gzip members (logrotate + cat) continue with a new decompressor.
                rest = self._d.unused_data
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._fed = bool(rest)
                if rest:
                    try:
                        self._buf += self._d.decompress(rest)
                    except zlib.error:
                        self._done = True
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class _Tolerant(io.RawIOBase):
    """bz2/xz reader that turns a truncated or corrupt stream into end-of-file plus a note."""

    def __init__(self, fh: BinaryIO, note: Callable[[str], None]) -> None:
        self._fh = fh
        self._note = note
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        if self._done:
            return 0
        try:
            data = self._fh.read(len(b))
        except (EOFError, OSError, lzma.LZMAError) as exc:
            self._note(f"truncated or corrupt compressed data ({exc}); kept what was readable")
            self._done = True
            return 0
        b[: len(data)] = data
        return len(data)


_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13, 27))


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes, or many control characters that text logs do not have."""
    if not sample:
        return False
    if sample.count(b"\x00") * 100 > len(sample):
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    return controls * 20 > len(sample)


@dataclass
class Input:
    """One logical input: a file, stdin, or a member of a directory or archive."""

    name: str
    opener: Callable[[], BinaryIO] | None = None
    mtime: float | None = None
    size: int | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _binary(self) -> BinaryIO:
        assert self.opener is not None
        fh = self.opener()
        head = fh.read(6)
        rest = fh
        raw: io.RawIOBase
        if head[:2] == b"\x1f\x8b":
            raw = _GzipReader(_Prefixed(head, rest), self.note)
        elif head[:3] == b"BZh":
            raw = _Tolerant(bz2.BZ2File(_Prefixed(head, rest)), self.note)  # type: ignore[arg-type]
        elif head[:6] == b"\xfd7zXZ\x00":
            raw = _Tolerant(lzma.LZMAFile(_Prefixed(head, rest)), self.note)  # type: ignore[arg-type]
        elif rest.seekable():  # a plain file (or bytes in memory): read it as it is, with no extra copy
            rest.seek(0)
            return rest
        else:
            raw = _Prefixed(head, rest)
        # Buffered: read(n) returns n bytes unless the stream ends, so the first chunk is a real sample.
        return io.BufferedReader(raw, CHUNK)  # type: ignore[return-value]

    def chunks(self) -> Iterator[str]:
        """Decoded text in chunks of about 1 MiB."""
        if self.opener is None:
            return
        try:
            fh = self._binary()
        except OSError as exc:
            self.error = f"cannot read ({exc.strerror or exc})"
            return
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        first = True
        offset = 0
        with fh:
            while True:
                try:
                    raw = fh.read(CHUNK)
                except (OSError, EOFError) as exc:
                    self.note(f"read error ({exc}); kept what was readable")
                    raw = b""
                if first:
                    first = False
                    if not raw:
                        broken = [n for n in self.notes if n.startswith(("corrupt", "truncated"))]
                        if broken:
                            self.error = broken[0].split(";")[0] + ": nothing readable"
                        else:
                            self.note("empty input")
                        return
                    if _looks_binary(raw[:65536]):
                        self.error = "binary file, not a log"
                        return
                    if raw.startswith(codecs.BOM_UTF8):
                        raw = raw[3:]
                try:
                    text = decoder.decode(raw, final=not raw)
                except UnicodeDecodeError as exc:
                    self.note(f"invalid UTF-8 (first near byte {offset + exc.start}); replaced with U+FFFD")
                    pending = decoder.getstate()[0]
                    decoder = codecs.getincrementaldecoder("utf-8")("replace")
                    text = decoder.decode(pending + raw, final=not raw)
                offset += len(raw)
                if text:
                    yield text.replace("\x00", "\ufffd") if "\x00" in text else text
                if not raw:
                    return

    def lines(self) -> Iterator[str]:
        """Physical lines without their terminators ("\\n", "\\r\\n")."""
        for batch in self.line_batches():
            yield from batch

    def line_batches(self) -> Iterator[tuple[str, ...]]:
        """The same lines, a tuple per decoded chunk (no per-line generator step on the hot path; a tuple,
        since nothing changes a batch: the lane's prematch on another thread then needs no reference of its
        own to each line)."""
        from xodiag.sources.fastlane import module

        compiled = module()
        carry = ""
        for text in self.chunks():
            cr = "\r" in text or "\r" in carry  # (a CRLF line may be cut between its \r and \n)
            done = compiled.split_lines(text, carry) if compiled is not None else None  # ASCII: in C
            if done is None:
                parts = (carry + text).split("\n")
                carry = parts.pop()
                lines = tuple(parts)
            else:
                lines, carry = done
            if cr:
                lines = tuple(ln[:-1] if ln.endswith("\r") else ln for ln in lines)
            if lines:
                yield lines
        if carry:
            yield (carry[:-1] if carry.endswith("\r") else carry,)

    def text(self) -> str:
        return "".join(self.chunks())


class _Prefixed(io.RawIOBase):
    """A binary stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


def _from_tar(path: Path) -> Iterator[Input]:
    """Each file member is one input, streamed in archive order; a cut archive keeps its whole members."""
    found = 0
    try:
        with tarfile.open(path, "r|*") as tar:
            for m in tar:
                if not m.isfile() or Path(m.name).suffix.lower() in _SKIP_SUFFIXES:
                    continue
                fh = tar.extractfile(m)
                if fh is None:
                    continue
                try:
                    data = fh.read()
                except (tarfile.TarError, EOFError, OSError, zlib.error):
                    break  # the member was cut: stop here, keep the members before it
                if len(data) < m.size:
                    break
                found += 1
                yield Input(
                    name=f"{path}!{m.name}",
                    opener=lambda data=data: io.BytesIO(data),  # type: ignore[misc]
                    mtime=float(m.mtime),
                    size=len(data),
                )
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        if not found:
            yield Input(name=str(path), error=f"unreadable archive ({exc})")
            return
        yield Input(name=str(path), error=f"archive cut short after {found} member(s) ({exc})")


def _from_path(path: Path, top: bool = True) -> Iterator[Input]:
    try:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            files = [p for p in files if p.suffix.lower() not in _SKIP_SUFFIXES and p.name != "expected.json"]
            if not files:
                yield Input(name=str(path), error="directory holds no log files")
            for p in files:
                yield from _from_path(p, top=False)
            return
        if path.name.lower().endswith(_TAR_SUFFIXES):
            yield from _from_tar(path)
            return
        st = path.stat()
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):  # <(zcat ...): it can be read only once
            with open(path, "rb") as fh:
                data = fh.read()
            yield Input(name=str(path), opener=lambda: io.BytesIO(data), size=len(data))
            return
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        yield Input(name=str(path), error="no such file")
        return
    except PermissionError:
        yield Input(name=str(path), error="permission denied")
        return
    except OSError as exc:
        yield Input(name=str(path), error=f"cannot read ({exc.strerror or exc})")
        return
    yield Input(name=str(path), opener=lambda: open(path, "rb"), mtime=st.st_mtime, size=st.st_size)


def open_inputs(paths: list[str]) -> Iterator[Input]:
    """Inputs in the order given; ``-`` is stdin (read once, kept in memory)."""
    for p in paths:
        if p == "-":
            data = sys.stdin.buffer.read()
            yield Input(name="-", opener=lambda data=data: io.BytesIO(data), size=len(data))  # type: ignore[misc]
        else:
            yield from _from_path(Path(os.path.expanduser(p)))
