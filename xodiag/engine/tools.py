"""External programs the engine runs, and a one-line install hint when one is missing."""

from __future__ import annotations

import shutil

__all__ = ["DEFAULT_TOOLS", "PACKAGES", "MissingTool", "require"]

#: program -> Debian package that ships it
PACKAGES: dict[str, str] = {
    "nbdkit": "nbdkit",
    "qemu-img": "qemu-utils",
    "certtool": "gnutls-bin",
    "nbdcopy": "libnbd-bin",
    "nbdinfo": "libnbd-bin",
}

#: what the engine always needs (nbdcopy/nbdinfo are optional: tests and benchmarks)
DEFAULT_TOOLS: tuple[str, ...] = ("nbdkit", "qemu-img", "certtool")


class MissingTool(RuntimeError):
    """A required program is not on PATH; ``str()`` is one line saying how to install it."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        packages = sorted({PACKAGES.get(n, n) for n in self.names})
        what = ", ".join(self.names)
        pkgs = " ".join(packages)
        them = "it" if len(packages) == 1 else "them"
        super().__init__(f"{what} not found: install {them} with `apt-get install {pkgs}`")


def require(*names: str) -> dict[str, str]:
    """Check that every program in ``names`` (default: nbdkit, qemu-img, certtool) is on PATH.

    Returns ``{name: absolute path}``; raises :class:`MissingTool` naming all the missing ones.
    """
    wanted = names or DEFAULT_TOOLS
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in wanted:
        path = shutil.which(name)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        raise MissingTool(missing)
    return found
