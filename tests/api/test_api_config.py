"""[api] and [rest]: defaults, paths relative to the config file, and the refusals."""

import uuid

import pytest
from click.testing import CliRunner

from fixgw.api.commands import reconcile
from fixgw.config import parse
from fixgw.errors import ConfigError

SESSION = {"name": "s", "product": "event", "type": "NR", "api_key_id": str(uuid.uuid4()), "private_key": "k.pem"}


def test_api_defaults_to_loopback_and_paths_resolve_against_the_config(tmp_path):
    c = parse({"session": [SESSION], "api": {"keys": {"k1": "keys/k1.pub.pem"}},
               "rest": {"api_key_id": "r", "private_key": "rest.pem"}}, base=tmp_path)
    assert (c.api.host, c.api.port, c.api.max_skew_s) == ("127.0.0.1", 8400, 300)
    assert c.api.keys == {"k1": tmp_path / "keys/k1.pub.pem"}
    assert c.rest.private_key == tmp_path / "rest.pem"
    assert c.rest.base_url == "https://api.elections.kalshi.com/trade-api/v2"
    assert parse({"session": [SESSION]}).api is None


@pytest.mark.parametrize("api, message", [({"port": 70000}, "api.port"), ({"ws_buffer": 0}, "api.ws_buffer"),
                                           ({"hosts": "x"}, "api.hosts")])
def test_bad_api_values_name_the_option(api, message):
    with pytest.raises(ConfigError, match=message):
        parse({"session": [SESSION], "api": api})


def test_reconcile_without_a_rest_table_says_what_is_missing(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[session]]\nname = "s"\nproduct = "event"\ntype = "NR"\n'
                   f'api_key_id = "{SESSION["api_key_id"]}"\nprivate_key = "k.pem"\n')
    out = CliRunner().invoke(reconcile, [str(cfg)])
    assert isinstance(out.exception, ConfigError) and "no [rest] table" in str(out.exception)
