"""The recorder is wired to the gateway through the constructor, never by overwriting its sink."""

from __future__ import annotations

import quickfix as fix

from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import Side
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.testing.launch import SimProcess, gateway_config, make_account
from test_commands import raw_of, trade


def _config(tmp_path):
    sim = SimProcess(tmp_path / "sim")  # not started: only its ports and keys make the config
    listener = make_account(tmp_path / "keys", sim.keys, "event", account="acct")
    dc = make_account(tmp_path / "keys", sim.keys, "event", account="acct")
    cfg = gateway_config(tmp_path / "gw", sim, [
        dict(name="listener", product="event", type="NR", listener=True, account=listener),
        dict(name="dc", product="event", type="DC", account=dc)])
    return cfg, listener


def test_a_gateway_hands_inbound_messages_to_the_callbacks_it_was_built_with(tmp_path):
    cfg, listener = _config(tmp_path)
    offered, inbound = [], []

    def on_raw(rt, msg_type, raw, invalid):
        offered.append((rt.config.name, msg_type))
        return len(offered) > 1  # the first is declined: it is decoded and handed to on_inbound

    gw = Gateway(cfg, translate=False, on_inbound=lambda rt, item: inbound.append(item), on_raw=on_raw)
    sid = fix.SessionID("FIXT.1.1", listener.api_key_id, "KalshiNR")
    units = gw.runtime("listener").units
    for i in range(2):
        gw.app.fromApp(fix.Message(raw_of(trade(i, Side.BUY, "0.40", 2, "KXA-26-T1"), units), False), sid)
    assert offered == [("listener", "8"), ("listener", "8")]
    assert [(item.session, item.message.exec_id) for item in inbound] == [("listener", "1;0")]


def test_the_recorder_passes_its_callbacks_to_the_gateway(tmp_path, monkeypatch):
    cfg, _ = _config(tmp_path)
    built = {}
    real = Gateway.__init__

    def spy(self, config, **kw):
        built.update(kw)
        real(self, config, **kw)

    monkeypatch.setattr(Gateway, "__init__", spy)
    rec = Recorder(cfg, open_store(f"sqlite:///{tmp_path / 'd.db'}"), account="acct")
    assert built["on_raw"] == rec._on_raw and built["on_inbound"] == rec._on_inbound
    assert rec.gateway.app.on_raw == rec._on_raw and rec.gateway.dispatcher.deliver == rec._on_inbound
    assert rec.gateway.app.on_inbound == rec.gateway.dispatcher.receive


def test_a_recorder_built_from_the_config_takes_every_setting_of_its_recorder_section(tmp_path):
    cfg, _ = _config(tmp_path)
    rc = cfg.recorder.model_copy(update={"account": "acct", "batch": 7, "flush_ms": 250, "page_clocks": 99,
                                         "retry_s": 3.5})
    failed = []
    rec = Recorder.from_config(cfg.model_copy(update={"recorder": rc}), open_store(f"sqlite:///{tmp_path / 'd.db'}"),
                               on_failure=failed.append)
    assert (rec.account, rec.batch, rec.flush_s, rec.page_clocks, rec.retry_s) == ("acct", 7, 0.25, 99, 3.5)
    assert rec.on_failure == failed.append and rec.config.recorder is rc
