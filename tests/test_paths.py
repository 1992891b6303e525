"""cfg/ and spec/ are found in a checkout and after a regular (non-editable) install."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from fixgw import paths

REPO = Path(__file__).resolve().parent.parent


def test_checkout_wins(tmp_path, monkeypatch):
    assert paths.CFG_DIR == REPO / "cfg" and paths.SPEC_DIR == REPO / "spec"
    share = tmp_path / "share" / "fixgw" / "cfg"
    share.mkdir(parents=True)
    (share / "simulator.cfg").write_text("")
    monkeypatch.setattr(paths, "_candidates", lambda name: [REPO / name, tmp_path / "share" / "fixgw" / name])
    assert paths.bundled("cfg", "simulator.cfg") == REPO / "cfg"


def test_installed_share_is_found_and_missing_names_the_checkout(tmp_path, monkeypatch):
    share = tmp_path / "share" / "fixgw" / "cfg"
    share.mkdir(parents=True)
    (share / "simulator.cfg").write_text("")
    gone = tmp_path / "no-checkout"
    monkeypatch.setattr(paths, "_candidates", lambda name: [gone / name, tmp_path / "share" / "fixgw" / name])
    assert paths.bundled("cfg", "simulator.cfg") == share
    assert paths.bundled("spec", "no-such-file.xml") == paths._CHECKOUT / "spec"


@pytest.mark.skipif(not os.access(sys.executable, os.X_OK), reason="needs an interpreter")
def test_regular_install_runs_outside_the_repository(tmp_path):
    """pip install . (not editable) into a fresh environment; the bundled files come along."""
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    target = env_dir / "bin" / "python"
    site = subprocess.run([str(target), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "-w", str(wheels), str(REPO)], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-2000:]
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(target), "install", "-q", "--no-deps",
                              *map(str, wheels.glob("fixgw-*.whl"))], capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-2000:]
    # Dependencies (quickfix, pydantic, click) come from this environment; fixgw only from the new one.
    deps = sysconfig.get_path("purelib")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{deps}"}
    code = ("import fixgw, fixgw.paths as p, fixgw.fix._scan as c; "
            "print(fixgw.__file__); print(p.CFG_DIR); print(p.SPEC_DIR); print(c.__file__)")
    out = subprocess.run([str(target), "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0].startswith(site), out
    assert out[3].startswith(site) and out[3].endswith(".so"), out  # the wheel carries the decoder's C steps
    assert (Path(out[1]) / "simulator.cfg").is_file() and not out[1].startswith(str(REPO)), out
    assert (Path(out[2]) / "kalshi-fixt11.xml").is_file() and not out[2].startswith(str(REPO)), out
    check = subprocess.run([str(target), "-m", "fixgw", "--help"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0 and "sim" in check.stdout, check.stderr[-2000:]
