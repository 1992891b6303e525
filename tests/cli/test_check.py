"""`fixgw check`: every problem of a broken config on its own line, each with its fix."""

from __future__ import annotations

import os
import shutil
import uuid

from click.testing import CliRunner

from fixgw.certs import make_tls
from fixgw.cli.check import check
from fixgw.cli import cli
from fixgw.config import SPEC_DIR
from fixgw.signing import generate_keypair


def write_config(tmp_path, sessions: str, **top) -> str:
    lines = ['environment = "local"', 'state_dir = "state"'] + [f"{k} = {v}" for k, v in top.items()]
    path = tmp_path / "gw.toml"
    path.write_text("\n".join(lines) + "\n" + sessions)
    return str(path)


def session(name: str, key: str, type_: str = "NR", **extra) -> str:
    body = "".join(f"{k} = {v}\n" for k, v in extra.items())
    return (f'\n[[session]]\nname = "{name}"\nproduct = "event"\ntype = "{type_}"\n'
            f'api_key_id = "{uuid.uuid4()}"\nprivate_key = "{key}"\n{body}')


def test_a_good_config_has_no_problems(tmp_path):
    generate_keypair(tmp_path / "nr.pem")
    tls = make_tls(tmp_path / "tls")
    cfg = write_config(tmp_path, session("event-nr", "nr.pem"), ca_file=f'"{tls.ca_file}"')
    assert check(cfg) == []
    result = CliRunner().invoke(cli, ["check", cfg])
    assert result.exit_code == 0 and result.output.strip().endswith(": ok")


def test_a_broken_config_lists_every_problem_with_its_fix(tmp_path):
    generate_keypair(tmp_path / "nr.pem")
    generate_keypair(tmp_path / "rt.pem")
    os.chmod(tmp_path / "rt.pem", 0o644)  # world-readable trading credential
    cfg = write_config(
        tmp_path,
        session("event-nr", "nr.pem", heartbeat=2)
        + session("event-rt", "rt.pem", "RT", colour='"red"', cancel_on_disconect="true"),
        ca_file='"missing-ca.pem"', dictionary_dir='"no-such-spec"', tier='"platinum"')
    result = CliRunner().invoke(cli, ["check", cfg])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    key = tmp_path / "rt.pem"
    expected = {  # option -> (words in the problem, words in its fix)
        "session.0.heartbeat": ("greater than 3", "use whole seconds 4-300"),
        "session.1.colour": ("unknown option 'colour'", "valid options here: name, product, type"),
        "session.1.cancel_on_disconect": ("unknown option", "rename it to cancel_on_disconnect"),
        "tier": ("'basic', 'advanced', 'premier' or 'prime'", 'use "basic", "advanced"'),
        "session.1.private_key": ("readable by group/others (mode 0644)", f"chmod 600 {key}"),
        "ca_file": (f"{tmp_path / 'missing-ca.pem'} does not exist", "openssl s_client -showcerts -connect 127.0.0.1"),
        "dictionary_dir": (f"{tmp_path / 'no-such-spec'} is not a directory", f"bundled {SPEC_DIR}"),
    }
    for option, (problem, fix) in expected.items():
        found = [ln for ln in lines if ln.startswith(option + ":")]
        assert len(found) == 1, (option, lines)
        assert problem in found[0] and "-> fix: " in found[0] and fix in found[0].split("-> fix: ")[1], found[0]
    assert len(lines) == len(expected), lines  # nothing else, nothing twice
    assert "7 problems" in result.stderr


def test_dictionaries_are_loaded_by_quickfix_and_keys_must_be_rsa_pem(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, spec)
    (spec / "kalshi-event.xml").write_text("<fix><broken")
    (tmp_path / "nr.pem").write_text("not a key")
    os.chmod(tmp_path / "nr.pem", 0o600)
    tls = make_tls(tmp_path / "tls")
    cfg = write_config(tmp_path, session("event-nr", "nr.pem"), ca_file=f'"{tls.ca_file}"',
                       dictionary_dir='"spec"')
    problems = {p.option: p for p in check(cfg)}
    assert set(problems) == {"dictionary_dir", "session.0.private_key"}
    assert "QuickFIX cannot load" in problems["dictionary_dir"].message
    assert "kalshi-event.xml" in problems["dictionary_dir"].message
    assert "not an unencrypted PEM private key" in problems["session.0.private_key"].message


def test_unset_variables_unresolvable_hosts_and_a_ca_without_certificates(tmp_path, monkeypatch):
    monkeypatch.delenv("FIXGW_TEST_UNSET_KEY", raising=False)
    generate_keypair(tmp_path / "nr.pem")
    (tmp_path / "ca.pem").write_text("hello")
    body = ('\n[[session]]\nname = "event-nr"\nproduct = "event"\ntype = "NR"\n'
            'api_key_id = "${FIXGW_TEST_UNSET_KEY}"\nprivate_key = "nr.pem"\nhost = "no-such-host.invalid"\n')
    cfg = write_config(tmp_path, body, ca_file='"ca.pem"')
    problems = {p.option: p for p in check(cfg, resolve_timeout=5)}
    assert set(problems) == {"session.0.api_key_id", "session.0.host", "ca_file"}, problems
    assert problems["session.0.api_key_id"].fix == "export FIXGW_TEST_UNSET_KEY=<value> before running fixgw"
    assert "no-such-host.invalid does not resolve" in problems["session.0.host"].message
    assert "holds no PEM certificate" in problems["ca_file"].message


def test_the_limits_table_is_checked_option_by_option(tmp_path):
    generate_keypair(tmp_path / "nr.pem")
    tls = make_tls(tmp_path / "tls")
    cfg = write_config(tmp_path, "\n[limits]\nmax_quantity = 0\ncontrol_idle = 5\nmax_notional = 250000\n"
                       + session("event-nr", "nr.pem"), ca_file=f'"{tls.ca_file}"')
    problems = {p.option: p for p in check(cfg)}
    assert set(problems) == {"limits.max_quantity", "limits.control_idle"}, problems
    assert problems["limits.max_quantity"].fix == "use whole contracts per order, at least 1 (default 1000000)"
    assert problems["limits.control_idle"].fix == "rename it to control_idle_timeout"
