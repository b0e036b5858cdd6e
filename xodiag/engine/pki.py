"""A throwaway x509 PKI for the loopback pool, made with certtool (gnutls-bin).

The file names are the ones ``nbdkit --tls-certificates=DIR`` looks for: ``ca-cert.pem``,
``server-cert.pem`` and ``server-key.pem``. One server certificate covers every host address of the
run (plus ``localhost``); its PEM text is what ``VDI.get_nbd_info`` returns as ``cert``.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .tools import require

__all__ = ["Pki", "PkiError", "make_pki"]


class PkiError(RuntimeError):
    """certtool failed."""


@dataclass(frozen=True)
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    ca_cert_pem: str
    server_cert_pem: str
    #: the server certificate's CN, returned as ``subject`` in ``VDI.get_nbd_info``
    subject: str
    addresses: tuple[str, ...]


def _certtool(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(["certtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PkiError(f"certtool {args[0]} failed (rc {proc.returncode}): {last}")


def make_pki(
    dir: Path,
    addresses: list[str],
    *,
    cn: str = "xodiag-host",
    dns_names: tuple[str, ...] = ("localhost",),
    days: int = 3650,
) -> Pki:
    """Create a CA and a server certificate valid for ``addresses`` (IPs) and ``dns_names`` in ``dir``.

    RSA 2048 keys (what XAPI uses; ~0.1 s each). ``dir`` is created if needed.
    """
    require("certtool")
    for a in addresses:
        ipaddress.ip_address(a)  # ValueError on anything that is not an IP literal
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    ca_key = dir / "ca-key.pem"
    ca_cert = dir / "ca-cert.pem"
    key = dir / "server-key.pem"
    cert = dir / "server-cert.pem"
    key_args = ["--key-type=rsa", "--bits=2048", "--no-text"]
    _certtool(["--generate-privkey", *key_args, "--outfile", str(ca_key)], dir)
    (dir / "ca.info").write_text(
        f"cn = xodiag test CA\nca\ncert_signing_key\nexpiration_days = {days}\n", encoding="ascii"
    )
    _certtool(
        [
            "--generate-self-signed",
            "--load-privkey",
            str(ca_key),
            "--template",
            str(dir / "ca.info"),
            "--outfile",
            str(ca_cert),
            "--no-text",
        ],
        dir,
    )
    _certtool(["--generate-privkey", *key_args, "--outfile", str(key)], dir)
    lines = [f"cn = {cn}"]
    lines += [f"ip_address = {a}" for a in dict.fromkeys(addresses)]
    lines += [f"dns_name = {d}" for d in dns_names]
    lines += ["tls_www_server", "encryption_key", "signing_key", f"expiration_days = {days}"]
    (dir / "server.info").write_text("\n".join(lines) + "\n", encoding="ascii")
    _certtool(
        [
            "--generate-certificate",
            "--load-ca-certificate",
            str(ca_cert),
            "--load-ca-privkey",
            str(ca_key),
            "--load-privkey",
            str(key),
            "--template",
            str(dir / "server.info"),
            "--outfile",
            str(cert),
            "--no-text",
        ],
        dir,
    )
    key.chmod(0o600)
    ca_key.chmod(0o600)
    return Pki(
        dir=dir,
        ca_cert=ca_cert,
        ca_key=ca_key,
        server_cert=cert,
        server_key=key,
        ca_cert_pem=ca_cert.read_text(encoding="ascii"),
        server_cert_pem=cert.read_text(encoding="ascii"),
        subject=cn,
        addresses=tuple(addresses),
    )
