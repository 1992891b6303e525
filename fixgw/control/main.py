"""``fixgw run CONFIG``: one foreground gateway process driven through its control socket.

The process starts a :class:`~fixgw.adapter.gateway.Gateway` for every session in the
config, serves the owner-only control socket (:mod:`fixgw.control.server`) and waits
for SIGTERM/SIGINT, which log every session out (QuickFIX waits for the Logout
answers), close the stores and exit 0 (1 if a hosted recorder's store failed,
which also stops the process). Before anything else it locks the state
directory (:mod:`fixgw.lock`): a second process on it is refused with the
holder's pid before it opens a connection.

The jobs live beside it: :mod:`~fixgw.control.logsetup` (the log),
:mod:`~fixgw.control.supervisor` (reconnects), :mod:`~fixgw.control.commands` (what the socket answers).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from fixgw import lock
from fixgw.adapter.gateway import Gateway
from fixgw.config import Kind, load, with_user_id
from fixgw.control import server as control
from fixgw.control.commands import Commands
from fixgw.control.logsetup import setup_logging
from fixgw.control.supervisor import Supervisor
from fixgw.errors import ConfigError

log = logging.getLogger("fixgw.run")


def _split_recorder(config):
    """With a ``[recorder]`` table, listener and KalshiDC sessions feed a drop-copy recorder in
    this process; the other sessions form the gateway the control socket drives."""
    if "recorder" not in config.model_fields_set:
        return config, None, None
    feeds = [s for s in config.session if s.listener or s.type is Kind.DC]
    trading = [s for s in config.session if s not in feeds]
    if not feeds:
        return config, None, None
    if not trading:
        raise ConfigError("session: every session here feeds the recorder; run this config with "
                          "`fixgw record`, or add an order-entry session")
    from fixgw.recorder.commands import store_url
    from fixgw.recorder.service import Recorder
    from fixgw.recorder.store import open_store

    store = open_store(store_url(config))
    recorder = Recorder.from_config(config.model_copy(update={"session": feeds}), store)
    return config.model_copy(update={"session": trading}), recorder, store



def run(config_path: Path, socket_path: Path | None = None, ready_out=None, *, user_id: str | None = None) -> int:
    """The whole life of `fixgw run`; 0 after a clean SIGTERM/SIGINT shutdown, 1 when a hosted
    recorder's store failed or its API server process died (the process stops: the reason is
    logged and on stderr)."""
    config = load(config_path)
    if user_id is not None:
        config = with_user_id(config, user_id)
    state = config.state_dir
    held = lock.acquire(state)  # creates it (0700); refuses a second process before any connection
    setup_logging(state)
    socket_path = socket_path or state / control.SOCKET_NAME
    full = config
    config, recorder, store = _split_recorder(config)
    gw = Gateway(config)
    api = None
    if full.api is not None:  # Kalshi's REST/WebSocket paths and /metrics over the recorder
        if recorder is None:
            raise ConfigError("[api] serves the recorder's store: add a [recorder] table and its listener "
                              "and KalshiDC sessions, or remove [api]")
        from fixgw.api.serve import Api
        from fixgw.recorder.commands import store_url

        api = Api(full, store_url(full), recorder, gateways=[gw])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: (log.info("event=signal signal=%s", signal.Signals(signum).name),
                                                   stop.set()))
    gw.start()
    if recorder is not None:  # before the API: its server process reads what is stored before it serves
        recorder.on_failure = lambda _: stop.set()
        recorder.start()
    if api is not None:
        try:
            api.start()
        except BaseException:
            gw.stop()
            recorder.stop()
            raise
        log.info("event=api url=http://%s:%s pid=%s", api.host, api.port, api.worker.pid)
    sup = Supervisor(gw).start()
    try:
        server = control.serve(socket_path, Commands(gw, sup, Path(config_path)), name="gateway",
                               tighten=socket_path.parent.resolve() == state.resolve(),
                               max_clients=config.limits.control_clients,
                               idle_timeout=config.limits.control_idle_timeout)
    except BaseException:
        sup.stop()
        gw.stop()
        if api is not None:
            api.stop()
        raise
    log.info("event=started pid=%d control=%s sessions=%s", os.getpid(), socket_path, ",".join(gw.runtimes))
    print(json.dumps({"ready": True, "pid": os.getpid(), "control": str(socket_path),
                      "sessions": list(gw.runtimes),
                      **({"api": f"http://{api.host}:{api.port}", "api_pid": api.worker.pid}
                         if api is not None else {})}),
          file=ready_out or sys.stdout, flush=True)
    api_died = None
    while not stop.wait(0.5):
        # the API server is a process of its own: its death must stop us as loudly as a failed store
        # (a SIGTERM to the whole process group reaches both; that is a stop, not a death)
        if api is not None and not api.alive and not stop.wait(1.0):
            api_died = api.death()
            log.error("event=api-failed reason=%s", json.dumps(api_died))
            print(f"fixgw run: {api_died}; stopping", file=sys.stderr, flush=True)
            break
    control.close(server)
    sup.stop()
    gw.stop()
    if api is not None:
        api.stop()
    failed = False
    if recorder is not None:  # log its sessions out and make everything received durable
        failed = not recorder.stop() or recorder.failure is not None
        store.close()
        log.info("event=recorder-stopped stored=%d", recorder.stored)
        if failed:
            log.error("event=recorder-failed reason=%s", json.dumps(recorder.failure or "writes not durable in time"))
    log.info("event=stopped sessions=%s", ",".join(gw.runtimes))
    logging.shutdown()
    lock.release(held)
    return 1 if failed or api_died else 0
