import subprocess
import sys
from pathlib import Path

from fixgw.adapter import tls


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
sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
from pathlib import Path
from harness import make_account
from fixgw.certs import make_tls
from fixgw.config import parse
from fixgw.adapter.gateway import Gateway
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


def test_a_closed_connection_writes_nothing_into_a_reused_descriptor(tmp_path, sim):
    """QuickFIX closes the socket, calls onLogout, and only later tears the TLS state down.

    The descriptor is free during onLogout, so a file opened there takes its number;
    before the wheel's patch the teardown's close_notify (an encrypted TLS record)
    was written into that file.
    """
    import re

    from harness import gateway_config, make_account

    from fixgw.adapter.application import GatewayApplication
    from fixgw.adapter.gateway import Gateway

    opened: list = []

    class Probe(GatewayApplication):
        def onLogout(self, session_id):
            super().onLogout(session_id)
            for _ in range(64):  # take descriptors until one has the socket's old number
                opened.append(open(tmp_path / f"probe-{len(opened)}", "wb"))

    acct = make_account(tmp_path, sim.keys, "event")
    sim.start()
    cfg = gateway_config(tmp_path / "gw", sim, [dict(name="nr", product="event", type="NR", account=acct)])
    with Gateway(cfg, application=Probe) as gw:
        gw.wait_logged_on(timeout=10)
    events = (tmp_path / "gw" / "log" / "nr.event.log").read_text()
    handle = int(re.findall(r"Socket created with handle:(\d+)", events)[-1])
    reused = [f for f in opened if f.fileno() == handle]
    assert reused, f"no probe file took descriptor {handle}: the test did not exercise the reuse"
    for f in opened:
        f.close()
    written = {Path(f.name).name: Path(f.name).read_bytes()[:8].hex() for f in opened if Path(f.name).stat().st_size}
    assert not written, f"TLS bytes landed in files that reused the socket's descriptor: {written}"


def test_a_session_disabled_before_it_logged_on_is_closed_by_quickfix_itself(tmp_path):
    """logout() on a session whose Logon was never answered: the engine's thread closes it.

    QuickFIX 1.16 returns from Session::next() before its Logon timeout check once a
    session is disabled, so such a connection stayed open for ever, and closing it from
    another thread races the socket loop. The wheel's patch 5 closes it on the next tick.
    """
    import socket
    import ssl
    import threading
    import types

    from harness import gateway_config, make_account

    from fixgw.certs import make_tls
    from fixgw.adapter.gateway import Gateway

    tls = make_tls(tmp_path / "tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls.cert_file, tls.key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(15)
    port = listener.getsockname()[1]
    got = {"logon": threading.Event(), "eof": threading.Event()}

    def silent_exchange():  # reads the Logon, never answers, notes when the client closes
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True) as s:
            s.settimeout(20)
            data = b""
            while True:
                try:
                    chunk = s.recv(4096)
                except (OSError, ssl.SSLError):
                    chunk = b""
                if not chunk:
                    got["eof"].set()
                    return
                data += chunk
                if b"\x0135=A\x01" in data:
                    got["logon"].set()

    server = threading.Thread(target=silent_exchange, daemon=True)
    server.start()
    acct = make_account(tmp_path, None)
    fake_sim = types.SimpleNamespace(ca_file=tls.ca_file, ports={"event": port, "margin": port})
    cfg = gateway_config(tmp_path / "gw", fake_sim, [dict(name="nr", product="event", type="NR", account=acct)])
    gw = Gateway(cfg).start()
    try:
        assert got["logon"].wait(15), "the gateway never sent its Logon"
        gw.logout("nr")
        assert got["eof"].wait(5), "the disabled session's connection was left open"
        events = (tmp_path / "gw" / "log" / "nr.event.log").read_text()
        assert "Closing the connection of a disabled session that is not logged on" in events
        assert gw.runtimes["nr"].metrics.attempts.failed == 0  # a hold is not a failed attempt
    finally:
        gw.stop()
        listener.close()


def test_the_installed_engine_was_built_optimised_with_ndebug():
    build = tls.require_optimised_build()
    assert build.optimisation in ("-O2", "-O3") and not build.asserts and build.gil_kept


def test_the_installed_engines_data_wrappers_keep_the_gil():
    """Patch 9: a Message's wrappers run without letting go of the GIL. With the interpreter's
    switch interval out of the way, a thread waiting for the GIL runs only when a call lets go
    of it: during 2,000 toString() calls it never does."""
    import sys
    import threading
    import time
    import quickfix as fix

    m = fix.Message()
    m.getHeader().setField(35, "D")
    ran, stop = [0], threading.Event()

    def waiter():
        while not stop.is_set():
            ran[0] += 1
            time.sleep(0)  # lets go of the GIL, then waits for it

    interval = sys.getswitchinterval()
    t = threading.Thread(target=waiter)
    sys.setswitchinterval(1000.0)
    try:
        t.start()
        while ran[0] < 3:
            time.sleep(0.001)
        before = ran[0]
        for _ in range(2000):
            m.toString()
        assert ran[0] == before
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        t.join()


def _library(tmp_path, *flags, source: str = ""):
    src = tmp_path / "x.c"
    src.write_text("#include <assert.h>\nint f(int a) { assert(a > 0); return a + 1; }\n" + source)
    out = tmp_path / ("lib%d.so" % len(list(tmp_path.glob("*.so"))))
    subprocess.run(["gcc", "-shared", "-fPIC", *flags, str(src), "-o", str(out)], check=True)
    return out


def test_an_unoptimised_or_asserting_or_unrecorded_engine_is_refused(tmp_path):
    import pytest
    from fixgw.errors import ConfigError

    debug = _library(tmp_path, "-frecord-gcc-switches", "-DHAVE_SSL=1")
    assert tls.engine_build(debug).optimisation is None
    with pytest.raises(ConfigError, match="unoptimised, assertions on"):
        tls.require_optimised_build(debug)
    asserting = _library(tmp_path, "-O3", "-frecord-gcc-switches")
    built = tls.engine_build(asserting)
    assert "-O3" in built.switches and built.asserts
    with pytest.raises(ConfigError, match="-O3, assertions on"):
        tls.require_optimised_build(asserting)
    unrecorded = _library(tmp_path, "-O3", "-DNDEBUG")
    assert tls.engine_build(unrecorded).switches == ()
    with pytest.raises(ConfigError, match="unoptimised, NDEBUG, every wrapper lets go of the GIL, switches: not recorded"):
        tls.require_optimised_build(unrecorded)
    release = _library(tmp_path, "-O3", "-DNDEBUG", "-frecord-gcc-switches")
    assert tls.engine_build(release).optimisation == "-O3" and not tls.engine_build(release).gil_kept
    with pytest.raises(ConfigError, match="-O3, NDEBUG, every wrapper lets go of the GIL"):
        tls.require_optimised_build(release)
    patched = _library(tmp_path, "-O3", "-DNDEBUG", "-frecord-gcc-switches", source=(
        'const char marker[] = "fixgw patch 9: data wrappers keep the GIL";\n'
        "const char *keep(void) { return marker; }\n"))
    assert tls.require_optimised_build(patched).gil_kept


def test_one_unit_compiled_without_an_o_level_makes_the_engine_unoptimised(tmp_path):
    """CXXFLAGS without -O (how the wheel was once built) leaves a unit at -O0 even when another
    unit of the same library carries -O3: every recorded command line must name a level."""
    import subprocess
    from fixgw.errors import ConfigError
    import pytest

    (tmp_path / "a.c").write_text("int a(int x) { return x + 1; }\n")
    (tmp_path / "b.c").write_text("int b(int x) { return x + 2; }\n")
    common = ["-fPIC", "-DNDEBUG", "-frecord-gcc-switches", "-c"]
    subprocess.run(["gcc", *common, "-O3", str(tmp_path / "a.c"), "-o", str(tmp_path / "a.o")], check=True)
    subprocess.run(["gcc", *common, str(tmp_path / "b.c"), "-o", str(tmp_path / "b.o")], check=True)
    lib = tmp_path / "mixed.so"
    subprocess.run(["gcc", "-shared", str(tmp_path / "a.o"), str(tmp_path / "b.o"), "-o", str(lib)], check=True)
    build = tls.engine_build(lib)
    assert "-O3" in build.switches and build.optimisation is None
    with pytest.raises(ConfigError, match="unoptimised"):
        tls.require_optimised_build(lib)

