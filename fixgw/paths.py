"""Where fixgw's bundled ``cfg/`` and ``spec/`` are (pure core, stdlib only).

In a checkout (and an editable install) they sit beside the package, at the top of
the repository, where people edit them. A regular install (``pip install .``) copies
them to ``<prefix>/share/fixgw/`` as data files (``pyproject.toml``), because they
are QuickFIX settings and dictionaries, not Python. The checkout wins when both exist.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _candidates(name: str) -> list[Path]:
    shares = [Path(sysconfig.get_path("data")), Path(sys.prefix)]
    user = sysconfig.get_preferred_scheme("user")
    try:
        shares.append(Path(sysconfig.get_path("data", user)))
    except KeyError:
        pass
    return [_CHECKOUT / name] + [base / "share" / "fixgw" / name for base in shares]


def bundled(name: str, sentinel: str) -> Path:
    """The first ``name`` directory holding ``sentinel``; the checkout's path if none does
    (so an error message names where the files were expected)."""
    for path in _candidates(name):
        if (path / sentinel).is_file():
            return path
    return _CHECKOUT / name


CFG_DIR = bundled("cfg", "simulator.cfg")
SPEC_DIR = bundled("spec", "kalshi-fixt11.xml")
