"""TLS facts about the QuickFIX build and the trust it uses (adapter).

PyPI's quickfix compiles TLS out; fixgw needs a build with HAVE_SSL. QuickFIX's
client also calls OpenSSL's ``SSL_CTX_set_default_verify_paths``, which adds the
system trust store (and whatever ``SSL_CERT_FILE``/``SSL_CERT_DIR`` point at)
to the pinned CA file. :func:`pin_only` points both at an empty private
directory so the configured CA file is the only anchor.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def pin_only() -> Path:
    """Make OpenSSL's default verify paths empty for this process (idempotent)."""
    global _EMPTY_TRUST
    if _EMPTY_TRUST is None:
        _EMPTY_TRUST = Path(tempfile.mkdtemp(prefix="fixgw-notrust-"))
    os.environ["SSL_CERT_DIR"] = str(_EMPTY_TRUST)
    os.environ["SSL_CERT_FILE"] = str(_EMPTY_TRUST / "none.pem")
    return _EMPTY_TRUST
