import subprocess
import sys
from pathlib import Path

from fixgw import tls


def test_quickfix_is_linked_to_libssl():
    lib = tls.require_ssl_build()
    assert "libssl" in lib


def test_pin_only_empties_openssl_default_trust(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    d = tls.pin_only()
    import os
    assert os.environ["SSL_CERT_DIR"] == str(d) and not any(d.iterdir())


def test_gateway_process_exits_cleanly(tmp_path):
    """Regression: SWIG's director mutex aborted the process at exit once QuickFIX had
    called our LogFactory.create (patched in .ci/quickfix-wheel.sh)."""
    code = f"""
import sys, uuid
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pathlib import Path
from harness import make_account
from fixgw.certs import make_tls
from fixgw.config import parse
from fixgw.gateway import Gateway
root = Path({str(tmp_path)!r})
acct = make_account(root, None)
tls = make_tls(root / "tls")
cfg = parse(dict(environment="local", state_dir=str(root / "gw"), ca_file=str(tls.ca_file),
                 port_base=dict(event=1), session=[dict(name="nr", product="event", type="NR",
                 api_key_id=acct.api_key_id, private_key=str(acct.private_key))]))
gw = Gateway(cfg).start()
gw.stop()
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr
