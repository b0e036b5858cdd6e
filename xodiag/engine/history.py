"""A Jepsen-style history: every operation and fault of a run, with its time.

Each entry: ``{t, process, type, f, value}``; ``type`` is ``invoke``, ``ok``, ``fail`` or ``info`` (faults
and notes), ``t`` seconds since the run started (scaled time, as measured), ``process`` who did it
(``xo``, ``nemesis``, ``host-1``...).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class History:
    start: float = field(default_factory=time.monotonic)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> float:
        return round(time.monotonic() - self.start, 6)

    def add(self, process: str, type_: str, f: str, value: Any = None) -> dict[str, Any]:
        entry = {"t": self.now(), "process": process, "type": type_, "f": f, "value": value}
        self.entries.append(entry)
        return entry

    def invoke(self, process: str, f: str, value: Any = None) -> dict[str, Any]:
        return self.add(process, "invoke", f, value)

    def ok(self, process: str, f: str, value: Any = None) -> dict[str, Any]:
        return self.add(process, "ok", f, value)

    def fail(self, process: str, f: str, value: Any = None) -> dict[str, Any]:
        return self.add(process, "fail", f, value)

    def info(self, process: str, f: str, value: Any = None) -> dict[str, Any]:
        return self.add(process, "info", f, value)

    def count(self, f: str, type_: str | None = None) -> int:
        return sum(1 for e in self.entries if e["f"] == f and (type_ is None or e["type"] == type_))

    def faults(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["process"] == "nemesis"]

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.entries, indent=1, default=str) + "\n")
