"""Issue 10: TLS failures and disconnect reasons are visible in status (last error + history).

Real simulator over TLS; a gateway given the wrong CA, or dropped by the exchange.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from fixgw.certs import make_tls
from fixgw.adapter.gateway import Gateway
from harness import gateway_config, make_account, wait_for


def test_a_wrong_ca_is_the_sessions_last_error_with_openssls_reason(tmp_path, sim, caplog):
    acct = make_account(tmp_path, sim.keys, "event")
    sim.start()
    wrong = make_tls(tmp_path / "other-ca", ca_name="not the simulator's CA").ca_file
    cfg = gateway_config(tmp_path / "gw", sim, [dict(name="nr", product="event", type="NR", account=acct)],
                         ca_file=str(wrong))
    with caplog.at_level(logging.INFO, logger="fixgw"):
        gw = Gateway(cfg).start()
        try:
            rt = gw.runtimes["nr"]
            wait_for(lambda: rt.metrics.attempts.failed >= 2, 30, "two failed connection attempts")
            status = gw.status()[0]
            assert status.state != "logged-on"
            assert "certificate verification: unable to get local issuer certificate (20)" in (status.last_error or ""), \
                status.last_error
            assert any("session=nr event=tls-error" in r.getMessage() and "(20)" in r.getMessage()
                       for r in caplog.records), [r.getMessage() for r in caplog.records]
        finally:
            gw.stop()


def test_successful_handshakes_print_nothing(tmp_path, sim):
    acct = make_account(tmp_path, sim.keys, "event")
    sim.start()
    code = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pathlib import Path
from types import SimpleNamespace
from harness import gateway_config, Account
from fixgw.adapter.gateway import Gateway
sim = SimpleNamespace(ca_file=Path({str(sim.ca_file)!r}), ports={sim.ports!r})
acct = Account({acct.api_key_id!r}, Path({str(acct.private_key)!r}), Path({str(acct.public_key)!r}))
cfg = gateway_config(Path({str(tmp_path / "gw")!r}), sim, [dict(name="nr", product="event", type="NR", account=acct)])
with Gateway(cfg) as gw:
    gw.wait_logged_on(["nr"], timeout=20)
print("logged on")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90)
    assert run.returncode == 0 and run.stdout.strip() == "logged on", (run.stdout, run.stderr)
    assert "Certificate Verification" not in run.stdout + run.stderr
