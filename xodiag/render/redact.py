"""Redaction of secrets and identities in reports (on by default; --no-redact turns it off).

- XAPI session ids (OpaqueRef after ``session_id=``, also inside NBD export names) and session track ids;
- passwords and tokens in call parameters (``pwd = '...'``, ``password: '...'``, ``"token": "..."``);
- IPv4 addresses -> ``ip-1``, ``ip-2``...; host names -> ``host-1``...; each value keeps its placeholder
  throughout one report, so events can still be matched. Loopback addresses are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_SESSION = re.compile(r"(?P<k>session_id\s*[=:]\s*['\"]?|session\s*=\s*['\"]?|_session['\"]?\s*[:=]\s*['\"]?)"
                      r"(?P<v>OpaqueRef:[0-9a-fA-F-]+|[0-9a-fA-F-]{8,})")
_TRACK = re.compile(r"(?P<k>trackid=)(?P<v>[0-9a-fA-F]+)")
_SECRET = re.compile(
    r"(?P<k>\b(?:pwd|pass|passwd|password|secret|token|api_?key|authenticationToken|auth|cookie)\b"
    r"['\"]?\s*(?:=|:)\s*)(?P<v>'[^'\n]*'|\"[^\"\n]*\"|[^\s,;)}\]]+)",
    re.IGNORECASE,
)
_IPV4 = re.compile(r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])")
_FQDN = re.compile(r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:local|lan|internal|home|corp|intra|"
                   r"localdomain|com|net|org|fr|de|eu|io)\b", re.IGNORECASE)


class Redactor:
    """Secrets always; with ``identities`` also IP addresses and host names (for what leaves the machine)."""

    def __init__(self, hosts: Iterable[str] = (), identities: bool = True) -> None:
        self.identities = identities
        self.ips: dict[str, str] = {}
        self.hosts: dict[str, str] = {}
        for h in hosts:
            if isinstance(h, str) and h and h not in ("-", "localhost") and not _IPV4.fullmatch(h):
                self._host(h)
        self._host_re: re.Pattern[str] | None = None

    def _host(self, name: str) -> str:
        # Exact spelling, as the logs write it: "xo" the host must not turn "XO" the product into host-N.
        key = name
        if key not in self.hosts:
            self.hosts[key] = f"host-{len(self.hosts) + 1}"
            self._host_re = None
        return self.hosts[key]

    def _ip(self, m: re.Match[str]) -> str:
        ip = m.group()
        if ip.startswith("127.") or ip == "0.0.0.0":
            return ip
        if ip not in self.ips:
            self.ips[ip] = f"ip-{len(self.ips) + 1}"
        return self.ips[ip]

    def text(self, s: str) -> str:
        if not s:
            return s
        s = _SESSION.sub(lambda m: m.group("k") + "<redacted-session>", s)
        s = _TRACK.sub(lambda m: m.group("k") + "<redacted>", s)
        s = _SECRET.sub(lambda m: m.group("k") + "<redacted>", s)
        if not self.identities:
            return s
        s = _IPV4.sub(self._ip, s)
        for m in _FQDN.finditer(s):
            self._host(m.group())
        if self.hosts:
            if self._host_re is None:
                names = "|".join(re.escape(n) for n in sorted(self.hosts, key=len, reverse=True))
                # A host name as a word, or as the start of a file name (".../xcp-a.daemon.log").
                self._host_re = re.compile(rf"(?<![\w./@-])(?:{names})(?![\w:/@-])|(?<=/)(?:{names})(?=\.)")
            s = self._host_re.sub(lambda m: self.hosts[m.group()], s)
        return s

    def walk(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        if isinstance(value, dict):
            return {self.walk(k): self.walk(v) for k, v in value.items()}
        return value


class NoRedaction(Redactor):
    def text(self, s: str) -> str:
        return s


def redactor_for(table: Any, enabled: bool = True, identities: bool = True) -> Redactor:
    if not enabled:
        return NoRedaction()
    if not identities:
        return Redactor(identities=False)
    hosts = table["host"].dropna().unique().tolist() if len(table) else []
    return Redactor(hosts)
