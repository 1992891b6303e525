"""The layering, read from the folders: the core never imports quickfix; imports point core-ward.

Every folder of the package has a layer. A module may import modules of its own layer and of
lower layers, never of a higher one; the core (the flat top level, ``fix/`` and ``models/``) may
not import quickfix at all, and only ``adapter/`` and ``sim/`` import it directly. A new folder
fails :func:`test_every_folder_has_a_layer` until it is given one here; a new module takes its
folder's rules without being named anywhere.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "fixgw"

LAYERS = {
    "": 0, "fix": 0, "models": 0,  # the pure core: config, books, the FIX codec, the models
    "adapter": 1,   # QuickFIX: the gateway
    "recorder": 2,  # the drop-copy recorder (runs gateways)
    "api": 3,       # Kalshi's REST/WebSocket over the recorder's store
    "control": 4,   # the control plane: socket, supervisor, commands, the fixgw run process
    "sim": 5,       # the simulator (serves its own control socket)
    "testing": 6,   # test support: the simulator as a child process, a private PostgreSQL
    "cli": 7,       # the command line and the demo: wires everything
}
CORE = {folder for folder, layer in LAYERS.items() if layer == 0}
QUICKFIX = {"adapter", "sim"}  # the only folders that import quickfix


def _module(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _folder(module: str) -> str:
    """The folder a module belongs to: ``fixgw.fix.codec`` -> ``fix``, ``fixgw.lock`` -> ``""``."""
    parts = module.split(".")[1:]
    return parts[0] if parts and (PKG / parts[0]).is_dir() else ""


# __main__.py is the `python -m fixgw` entry: it only hands over to fixgw.cli.
FILES = sorted(p for p in PKG.rglob("*.py") if p.name != "__main__.py")
MODULES = {_module(p): p for p in FILES}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, ``from fixgw import x`` counting as ``fixgw.x``."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return out


def test_every_folder_has_a_layer():
    folders = {p.parent.name for p in PKG.rglob("__init__.py") if p.parent != PKG}
    assert folders == set(LAYERS) - {""}, f"folders without a layer: {folders - set(LAYERS)}; " \
                                          f"layers without a folder: {set(LAYERS) - {''} - folders}"


def test_core_imports_with_quickfix_blocked():
    core = [m for m in MODULES if _folder(m) in CORE]
    assert "fixgw.fix.codec" in core and "fixgw.config" in core and "fixgw.adapter.gateway" not in core
    code = "import sys; sys.modules['quickfix'] = None\n" + "".join(f"import {m}\n" for m in core)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_imports_point_core_ward():
    bad = []
    for mod, path in MODULES.items():
        layer = LAYERS[_folder(mod)]
        for target in _imports(path):
            if target.startswith("fixgw.") and LAYERS[_folder(target)] > layer:
                bad.append(f"{mod} ({_folder(mod) or 'core'}) imports {target} ({_folder(target)})")
    assert not bad, "\n".join(bad)


def test_only_the_adapter_and_the_simulator_import_quickfix():
    users = {mod for mod, path in MODULES.items() if any(i.split(".")[0] == "quickfix" for i in _imports(path))}
    assert users, "nothing imports quickfix: the test no longer reads imports"
    assert {_folder(m) for m in users} <= QUICKFIX, sorted(m for m in users if _folder(m) not in QUICKFIX)


def test_a_violation_is_seen(tmp_path):
    """The checks read real imports: a core module importing the adapter would be reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("from fixgw.adapter.gateway import Gateway\nimport quickfix\n")
    assert {"fixgw.adapter.gateway", "quickfix"} <= _imports(probe)
    assert _folder("fixgw.adapter.gateway") == "adapter" and _folder("fixgw.orders") == ""


def test_the_readme_layout_names_every_folder():
    readme = (PKG.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout"):readme.index("**How one ExecutionReport flows.**")]
    missing = [f for f in LAYERS if f and not re.search(rf"^\s+{f}/\s", layout, re.M)]
    assert not missing, f"README's Layout does not describe {missing}"
