import uuid

import pytest

from fixgw.config import CFG_DIR, Kind, Product, load, parse
from fixgw.errors import ConfigError

KEY = str(uuid.uuid4())


def cfg(**session):
    base = dict(name="s", product="event", type="NR", api_key_id=KEY, private_key="k.pem")
    return parse({"environment": "demo", "ca_file": "ca.pem", "session": [{**base, **session}]})


def test_defaults_follow_kalshi_rules():
    s = cfg().session[0]
    assert (s.target, s.resets, s.dollars) == ("KalshiNR", True, False)
    assert cfg(type="RT").session[0].resets is False
    assert cfg(type="DC").session[0].target == "KalshiDC"


def test_margin_forces_usedollars_and_listener_forces_skip_pending():
    assert (21005, "Y") in cfg(product="margin").session[0].logon_fields()
    fields = dict(cfg(listener=True, type="RT").session[0].logon_fields())
    assert fields == {20126: "Y", 21008: "Y", 21011: "Y"}
    assert 8013 not in fields


def test_listeners_and_kalshidc_ask_for_the_original_order_qty():
    """A recorder's only record of an order is its listener and KalshiDC reports: with the default
    OrderQty (CumQty + LeavesQty) an unfilled IOC says 0 and REST initial_count cannot be told."""
    assert (21008, "Y") in cfg(listener=True, type="RT").session[0].logon_fields()
    assert (21008, "Y") in cfg(type="DC").session[0].logon_fields()
    assert 21008 not in dict(cfg().session[0].logon_fields())


@pytest.mark.parametrize("option, value, message", [
    ("heartbeat", 3, "session.0.heartbeat"),
    ("api_key_id", "not-a-uuid", "session.0.api_key_id: must be the UUID"),
    ("type", "XX", "session.0.type"),
    ("listener", True, "only NR and RT sessions can be listener sessions"),
    ("retention_hours", 24, "retention_hours: only RT sessions"),
    ("bogus", 1, "session.0.bogus: Extra inputs are not permitted"),
])
def test_invalid_values_name_the_option(option, value, message):
    extra = {"type": "DC"} if option in ("listener", "retention_hours") else {}
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        cfg(**{**extra, option: value})


def test_listener_cannot_cancel_on_disconnect_and_margin_cannot_turn_dollars_off():
    with pytest.raises(ConfigError, match="cancel_on_disconnect must be false on a listener"):
        cfg(listener=True, cancel_on_disconnect=True)
    with pytest.raises(ConfigError, match="use_dollars: margin prices are always dollars"):
        cfg(product="margin", use_dollars=False)
    with pytest.raises(ConfigError, match="NR sessions must reset"):
        cfg(reset_on_logon=False)


def test_sessions_may_not_share_a_key():
    s = dict(product="event", type="NR", api_key_id=KEY, private_key="k.pem")
    with pytest.raises(ConfigError, match="share api_key_id"):
        parse({"ca_file": "c", "session": [{**s, "name": "a"}, {**s, "name": "b", "type": "DC"}]})


def _env_vars(path, monkeypatch):
    import re
    for var in re.findall(r"\$\{(\w+)\}", path.read_text()):
        monkeypatch.setenv(var, str(uuid.uuid4()))


def test_shipped_recorder_config_has_a_listener_and_dc_per_product(monkeypatch):
    path = CFG_DIR / "demo-recorder.toml"
    _env_vars(path, monkeypatch)
    c = load(path)
    assert sorted((s.product.value, s.type.value, s.listener) for s in c.session) == [
        ("event", "DC", False), ("event", "NR", True), ("margin", "DC", False), ("margin", "NR", True)]
    assert c.recorder.store == "sqlite:///dropcopy.db" and c.recorder.account == "main"


@pytest.mark.parametrize("path", sorted(p for p in CFG_DIR.glob("*.toml") if "recorder" not in p.name),
                         ids=lambda p: p.name)
def test_shipped_configs_load_with_real_hosts(path, monkeypatch):
    import re
    for var in re.findall(r"\$\{(\w+)\}", path.read_text()):
        monkeypatch.setenv(var, str(uuid.uuid4()))
    c = load(path)
    env, product = path.stem.split("-")
    assert c.environment == env
    kinds = sorted((s.type.value, s.listener) for s in c.session)
    assert kinds == [("DC", False), ("NR", False), ("NR", True), ("RT", False), ("RT", True)]
    for s in c.session:
        host, port = c.endpoint(s)
        assert port == {Kind.NR: 8228, Kind.DC: 8229, Kind.RT: 8230}[s.type]
        assert s.product is Product(product)
        assert host.endswith("kalshi.com" if env == "prod" else "kalshi.co")


def test_missing_environment_variable_is_named(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('ca_file="x"\n[[session]]\nname="a"\nproduct="event"\ntype="NR"\n'
                 'api_key_id="${FIXGW_TEST_UNSET_VAR}"\nprivate_key="k"\n')
    with pytest.raises(ConfigError, match="FIXGW_TEST_UNSET_VAR is not set"):
        load(p)


def test_expand_names_the_option_and_reports_every_unset_variable_when_asked(monkeypatch):
    """One expansion for fixgw run (raises at the first) and fixgw check (lists them all)."""
    from fixgw.config import expand

    monkeypatch.setenv("FIXGW_TEST_SET", "v")
    monkeypatch.delenv("FIXGW_TEST_UNSET_A", raising=False)
    monkeypatch.delenv("FIXGW_TEST_UNSET_B", raising=False)
    data = {"session": [{"api_key_id": "${FIXGW_TEST_UNSET_A}", "name": "${FIXGW_TEST_SET}"}],
            "ca_file": "${FIXGW_TEST_UNSET_B}"}
    with pytest.raises(ConfigError, match=r"^session\.0\.api_key_id: environment variable FIXGW_TEST_UNSET_A"):
        expand(data)
    seen = []
    out = expand(data, missing=lambda where, name: seen.append((where, name)))
    assert seen == [("session.0.api_key_id", "FIXGW_TEST_UNSET_A"), ("ca_file", "FIXGW_TEST_UNSET_B")]
    assert out == {"session": [{"api_key_id": "${FIXGW_TEST_UNSET_A}", "name": "v"}], "ca_file": "${FIXGW_TEST_UNSET_B}"}
