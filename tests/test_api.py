"""The curated public API: what the README imports exists, ``__all__`` resolves, the core stays pure."""

import re
import subprocess
import sys
from pathlib import Path

import fixgw

README = Path(__file__).resolve().parent.parent / "README.md"
_FROM = re.compile(r"^\s*from (fixgw(?:\.\w+)*) import \(?([\w, ]+)\)?", re.M)


def test_every_readme_import_works():
    found = _FROM.findall(README.read_text())
    assert found, "the README imports nothing from fixgw: update this test's pattern"
    for module, names in found:
        code = f"from {module} import {names}"
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, (code, run.stderr)


def test_every_name_in_all_exists_and_is_the_defining_modules_object():
    import importlib
    for name in fixgw.__all__:
        value = getattr(fixgw, name)
        assert value is getattr(importlib.import_module(fixgw._API[name]), name), name


def test_the_names_the_readme_uses_are_public():
    assert {"Gateway", "load", "OrderError", "SessionError", "LogonError", "RateLimited", "ExecutionReport",
            "Fill", "Order", "MarginOrder", "MarketPositionUpdate"} <= set(fixgw.__all__)


def test_star_import_and_an_unknown_name():
    run = subprocess.run([sys.executable, "-c", "from fixgw import *; print(Gateway.__name__, load.__module__)"],
                         capture_output=True, text=True)
    assert run.stdout.split() == ["Gateway", "fixgw.config"], run.stderr
    try:
        fixgw.NoSuchThing
    except AttributeError as e:
        assert "NoSuchThing" in str(e)
    else:
        raise AssertionError("an unknown name resolved")


def test_importing_the_package_does_not_import_quickfix():
    code = "import sys; sys.modules['quickfix'] = None; import fixgw, fixgw.config; from fixgw import load, OrderError"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
