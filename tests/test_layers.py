"""The core never imports quickfix; imports point core-ward only.

ADAPTER lists the modules allowed to import quickfix (and everything else); every other module
is core.
"""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "fixgw"
ADAPTER = {"adapter.logs", "adapter.guard", "adapter.application", "adapter.sessions", "adapter.gateway", "adapter.tls",
           "adapter.encode", "adapter.orderentry", "cli.demo", "control.server", "control.main",
           "cli.check", "sim.exchange", "sim.run", "sim.control", "sim.router", "sim.faults", "testing.launch", "recorder.service",
           "adapter.recovery", "recorder.commands", "testing.pgserver", "api.serve", "api.commands"}


MODULES = sorted(str(p.relative_to(PKG).with_suffix("")).replace("/", ".") for p in PKG.rglob("*.py")
                 if p.name not in ("__init__.py", "__main__.py"))
# Everything that is not named an adapter is core: a new module is pure until someone decides
# otherwise here, and the tests below hold it to that.
CORE = [m for m in MODULES if m not in ADAPTER]


def test_every_adapter_module_exists():
    assert ADAPTER <= set(MODULES), ADAPTER - set(MODULES)


def test_core_imports_with_quickfix_blocked():
    code = "import sys; sys.modules['quickfix'] = None\n" + "".join(f"import fixgw.{m}\n" for m in CORE)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_core_modules_import_no_adapter_module():
    for mod in CORE:
        path = PKG / (mod.replace(".", "/") + ".py")
        bad = {i for i in _imports(path) if i == "quickfix" or i.removeprefix("fixgw.") in ADAPTER}
        assert not bad, f"core module {mod} imports {bad}"
