"""Facts about the QuickFIX build (TLS, optimisation) and the trust it uses (adapter).

PyPI's quickfix compiles TLS out; fixgw needs a build with HAVE_SSL. A build whose
CXXFLAGS only add a define silently loses the interpreter's ``-O3 -DNDEBUG`` and
runs several times slower, so the wheel records its compiler switches in the
library (``-frecord-gcc-switches``) and :func:`engine_build` reads them back. QuickFIX's
client also calls OpenSSL's ``SSL_CTX_set_default_verify_paths``, which adds the
system trust store (and whatever ``SSL_CERT_FILE``/``SSL_CERT_DIR`` point at)
to the pinned CA file. :func:`pin_only` points both at an empty private
directory so the configured CA file is the only anchor.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import NamedTuple

from fixgw.errors import ConfigError

_EMPTY_TRUST: Path | None = None


def linked_libssl() -> str | None:
    """Path of the libssl mapped into this process after importing quickfix."""
    import quickfix  # noqa: F401  (loads _quickfix and its shared libraries)

    with open("/proc/self/maps") as maps:
        for line in maps:
            if "libssl" in line:
                return line.split()[-1]
    return None


def require_ssl_build() -> str:
    import quickfix

    lib = linked_libssl()
    if lib is None or not hasattr(quickfix, "SSLSocketInitiator"):
        raise ConfigError(
            "the installed quickfix was built without TLS; rebuild it with `make venv` "
            "(HAVE_SSL and -lssl -lcrypto), Kalshi refuses plain TCP"
        )
    return lib


def engine_library() -> Path:
    """The compiled QuickFIX extension module this process imports."""
    import _quickfix

    return Path(_quickfix.__file__)


PATCH_9 = b"fixgw patch 9: data wrappers keep the GIL\0"  # the marker .ci/quickfix-wheel.sh compiles in


class EngineBuild(NamedTuple):
    """How the engine was compiled, read from the library itself rather than from a claim."""

    switches: tuple[str, ...]  # every option gcc recorded for any of its compilation units
    asserts: bool  # imports __assert_fail: assert() is live, i.e. NDEBUG was not defined
    gil_kept: bool = False  # the wheel's patch 9: the data classes' wrappers keep the GIL
    levels: tuple[str | None, ...] = ()  # the -O level each recorded command line ended with (None: none)

    @property
    def optimisation(self) -> str | None:
        """The -O level every unit was built with, or None (a unit without one, or with -O0)."""
        if not self.levels or None in self.levels or "-O0" in self.levels:
            return None
        return " ".join(sorted(set(self.levels)))  # type: ignore[arg-type]

    def describe(self) -> str:
        return (f"{self.optimisation or 'unoptimised'}, {'assertions on' if self.asserts else 'NDEBUG'}, "
                f"{'data wrappers keep the GIL' if self.gil_kept else 'every wrapper lets go of the GIL'}, "
                f"switches: {' '.join(self.switches) or 'not recorded'}")


def _sections(library: Path, wanted: set[bytes]) -> dict[bytes, bytes]:
    with open(library, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return {}
        wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
        f.seek(0x28 if wide else 0x20)
        shoff = struct.unpack(order + ("Q" if wide else "I"), f.read(8 if wide else 4))[0]
        f.seek(0x3A if wide else 0x2E)
        entsize, count, names_index = struct.unpack(order + "HHH", f.read(6))
        entry = order + ("IIQQQQ" if wide else "IIIIII")

        def header(i: int) -> tuple[int, int, int]:
            f.seek(shoff + i * entsize)
            name, _, _, _, offset, size = struct.unpack(entry, f.read(struct.calcsize(entry)))
            return name, offset, size

        def read(offset: int, size: int) -> bytes:
            f.seek(offset)
            return f.read(size)

        names = read(*header(names_index)[1:])
        found = {}
        for i in range(count):
            name, offset, size = header(i)
            key = names[name:names.index(b"\0", name)]
            if key in wanted:
                found[key] = read(offset, size)
        return found


def engine_build(library: Path | None = None) -> EngineBuild:
    """The engine's build, from its ``.GCC.command.line`` section and its dynamic imports.

    gcc records each unit's options there (``-frecord-gcc-switches``) but not its
    ``-D`` defines, so NDEBUG is judged by its effect: QuickFIX and SWIG use
    ``assert``, which imports ``__assert_fail`` unless NDEBUG was defined.
    """
    found = _sections(library or engine_library(), {b".GCC.command.line", b".dynstr", b".rodata"})
    switches: dict[str, None] = {}
    levels: dict[str | None, None] = {}  # gcc merges identical command lines: one entry per distinct one
    for unit in found.get(b".GCC.command.line", b"").split(b"\0"):
        words = [w for w in unit.decode(errors="replace").split() if w.startswith("-")]
        if words:
            switches.update(dict.fromkeys(words))
            levels.setdefault(([w for w in words if w.startswith("-O")] or [None])[-1])  # the last -O wins
    asserts = b"__assert_fail\0" in found.get(b".dynstr", b"")
    return EngineBuild(tuple(switches), asserts, PATCH_9 in found.get(b".rodata", b""), tuple(levels))


def require_optimised_build(library: Path | None = None) -> EngineBuild:
    build = engine_build(library)
    if build.optimisation is None or build.asserts or not build.gil_kept:
        raise ConfigError(
            f"the installed quickfix ({library or engine_library()}) is not an optimised release build "
            f"({build.describe()}); rebuild it with `make venv` (.ci/quickfix-wheel.sh)"
        )
    return build


def pin_only() -> Path:
    """Make OpenSSL's default verify paths empty for this process (idempotent)."""
    global _EMPTY_TRUST
    if _EMPTY_TRUST is None:
        _EMPTY_TRUST = Path(tempfile.mkdtemp(prefix="fixgw-notrust-"))
    os.environ["SSL_CERT_DIR"] = str(_EMPTY_TRUST)
    os.environ["SSL_CERT_FILE"] = str(_EMPTY_TRUST / "none.pem")
    return _EMPTY_TRUST
