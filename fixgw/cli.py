"""fixgw's command line (click): parse, validate, delegate. No protocol logic here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fixgw.errors import FixgwError


def main() -> None:
    try:
        cli(standalone_mode=True)
    except FixgwError as e:
        click.echo(f"fixgw: error: {e}", err=True)
        sys.exit(2)


@click.group(help="Kalshi FIX gateway: sessions, order entry, drop copy, simulator.")
@click.version_option(package_name="fixgw")
def cli() -> None:
    pass


@cli.command(help="Write a 2048-bit RSA key pair for a Kalshi API key and print the public key to upload.")
@click.argument("private_key", type=click.Path(dir_okay=False, path_type=Path))
def keygen(private_key: Path) -> None:
    from fixgw.signing import generate_keypair

    priv, pub = generate_keypair(private_key)
    click.echo(f"private key: {priv} (mode 0600; keep it secret)", err=True)
    click.echo(f"public key:  {pub} (upload it in your Kalshi account's API keys page)", err=True)
    click.echo(pub.read_text(), nl=False)


@cli.command(help="Run the local Kalshi FIX simulator (TLS acceptor) until SIGTERM/SIGINT.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for stores, logs and the control socket.")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="Registered public keys: KEYS/{event,margin}/<api-key-id>.pub.pem")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Generate a throw-away CA and server certificate here (clients pin TLS_DIR/ca.pem).")
@click.option("--cert", "cert_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--event-port-base", type=int, default=8228, show_default=True,
              help="KalshiNR port; DC and RT follow at +1 and +2.")
@click.option("--margin-port-base", type=int, default=9228, show_default=True)
def sim(state_dir, keys_dir, tls_dir, cert_file, key_file, event_port_base, margin_port_base) -> None:
    from fixgw.certs import make_tls
    from fixgw.config import Product
    from fixgw.sim.exchange import SimOptions
    from fixgw.sim.run import run

    if cert_file is None or key_file is None:
        if tls_dir is None:
            raise click.UsageError("give --cert and --key, or --tls-dir to generate throw-away ones")
        tls = make_tls(tls_dir)
        cert_file, key_file = tls.cert_file, tls.key_file
    opts = SimOptions(state_dir=state_dir, keys_dir=keys_dir, cert_file=cert_file, key_file=key_file,
                      port_base={Product.EVENT: event_port_base, Product.MARGIN: margin_port_base})
    sys.exit(run(opts, state_dir / "sim.sock"))
