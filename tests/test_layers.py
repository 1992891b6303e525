"""The core never imports quickfix; imports point core-ward only."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "fixgw"
CORE = ["errors", "tags", "signing", "certs", "config", "state", "table", "dictionary", "dictionary_tables",
        "pricing", "wire", "fields", "fields_tables", "express", "models.fix", "models.rest", "translate", "positions", "orders",
        "ratelimit", "events", "metrics", "sim.rules", "sim.engine", "sim.book", "sim.reports", "sim.groups",
        "sim.ledger", "sim.dropcopy", "sim.fcm", "sim.cash", "models.fcm", "fcm", "query", "settlements", "cash", "profiles", "recorder.replay", "recorder.kept", "recorder.store", "recorder.sqlbase", "recorder.sqlite", "recorder.postgres", "recorder.views"]
ADAPTER = {"logs", "guard", "application", "sessions", "gateway", "tls", "codec", "entry", "demo", "cli", "control", "run",
           "check", "sim.exchange", "sim.run", "sim.control", "sim.router", "sim.launch", "recorder.service",
           "recorder.commands", "recorder.pgserver"}


def test_every_module_is_classified():
    found = {str(p.relative_to(PKG).with_suffix("")).replace("/", ".") for p in PKG.rglob("*.py")
             if p.name not in ("__init__.py", "__main__.py")}
    assert found == set(CORE) | ADAPTER, found ^ (set(CORE) | ADAPTER)


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
