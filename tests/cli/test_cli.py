import stat

from click.testing import CliRunner

from fixgw.cli import cli


def test_keygen_prints_public_key_and_writes_private_0600(tmp_path):
    target = tmp_path / "keys" / "nr.pem"
    result = CliRunner().invoke(cli, ["keygen", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in result.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    again = CliRunner().invoke(cli, ["keygen", str(target)])
    assert again.exit_code != 0 and "already exists" in str(again.exception or again.output)


def test_sim_requires_tls_material(tmp_path):
    (tmp_path / "keys").mkdir()
    result = CliRunner().invoke(cli, ["sim", "--state", str(tmp_path / "s"), "--keys", str(tmp_path / "keys")])
    assert result.exit_code == 2 and "--tls-dir" in result.output
