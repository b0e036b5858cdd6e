"""The engine's own log, in xo-server's console format, with the messages XO logs at those points.

``xodiag analyze`` reads it back; its verdict must agree with the checker's. Messages and data shapes
follow XO's code (../shared/domain/xo-export-path.md, section 8).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

# The frames Node prints for the qcow2 close at NBD init (xo-export-path.md 7.2), paths as an XO from sources.
QCOW2_CLOSE_FRAMES = (
    "at BodyReadable.destroy (/opt/xo/node_modules/undici/lib/api/readable.js:51:13)",
    "at QcowStream.close (/opt/xo/node_modules/@xen-orchestra/qcow2/dist/disk/QcowStream.mjs:40:22)",
    "at XapiQcow2StreamSource.close "
    "(/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskPassthrough.mjs:86:28)",
    "at XapiQcow2StreamSource.close (/opt/xo/node_modules/@xen-orchestra/xapi/disks/XapiQcow2StreamSource.mjs:61:18)",
    "at DiskLargerBlock.close (/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskLargerBlock.mjs:87:28)",
    "at TimeoutDisk.close (/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskPassthrough.mjs:34:29)",
    "at XapiStreamNbdSource.close (/opt/xo/node_modules/@xen-orchestra/disk-transform/dist/DiskPassthrough.mjs:34:29)",
    "at XapiStreamNbdSource.init (/opt/xo/node_modules/@xen-orchestra/xapi/disks/XapiStreamNbd.mjs:66:17)",
    "at async #openNbdStream (/opt/xo/node_modules/@xen-orchestra/xapi/disks/Xapi.mjs:108:7)",
    "at async XapiDiskSource.openSource (/opt/xo/node_modules/@xen-orchestra/xapi/disks/Xapi.mjs:262:18)",
)
HANDSHAKE_FRAMES = (
    "at readChunkStrict (/opt/xo/node_modules/@vates/read-chunk/index.js:83:13)",
    "at async #handshake (/opt/xo/node_modules/@vates/nbd-client/index.mjs:209:20)",
)
READ_FRAMES = (
    "at readChunkStrict (/opt/xo/node_modules/@vates/read-chunk/index.js:83:13)",
    "at async #readBlockResponse (/opt/xo/node_modules/@vates/nbd-client/index.mjs:263:22)",
)
SOURCE_FRAMES = (
    "at SynchronizedDisk.next (/opt/xo/node_modules/@vates/generator-toolbox/dist/synchronized.mjs:58:23)",
    "at async IncrementalRemoteWriter.transfer "
    "(/opt/xo/node_modules/@xen-orchestra/backups/_runners/_writers/_AbstractIncrementalWriter.mjs:22:14)",
)


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class XoLog:
    """Collects xo-server console lines; times are a fixed wall-clock origin plus the run's offsets."""

    def __init__(self, origin: dt.datetime | None = None) -> None:
        self.origin = origin or dt.datetime(2026, 4, 14, 0, 20, 0, tzinfo=dt.UTC)
        self.lines: list[str] = []

    def _ts(self, t: float) -> str:
        return (self.origin + dt.timedelta(seconds=t)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def log(self, t: float, namespace: str, level: str, message: str, data: list[str] | None = None) -> None:
        head = f"{self._ts(t)} {namespace} {level} {message}"
        if data:
            self.lines.append(head + " {")
            self.lines.extend(data)
            self.lines.append("}")
        else:
            self.lines.append(head)

    def error_block(self, key: str, name: str, message: str, frames: tuple[str, ...], props: dict[str, Any],
                    indent: int = 2) -> list[str]:
        pad = " " * indent
        out = [f"{pad}{key}: {name}: {message}"]
        fr = [f"{pad}    {f}" for f in frames]
        if props:
            fr[-1] += " {"
            out += fr
            for i, (k, v) in enumerate(props.items()):
                comma = "," if i < len(props) - 1 else ""
                val = _q(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
                out.append(f"{pad}  {k}: {val}{comma}")
            out.append(f"{pad}}}")
        else:
            out += fr
        return out

    def raw_stderr(self, name: str, message: str, frames: tuple[str, ...]) -> None:
        """The swallowed transfer error, printed by console.error without any prefix."""
        self.lines.append("{")
        self.lines.extend(self.error_block("err", name, message, frames, {}))
        self.lines.append("}")

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n")
