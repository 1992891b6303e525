import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given, settings, strategies as st

from fixgw.errors import KeyFileError
from fixgw.signing import Signer, generate_keypair, load_private_key, load_public_key, pre_hash, verify


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    priv, pub = generate_keypair(d / "k.pem")
    return Signer.from_file(priv), load_public_key(pub), priv


def test_pre_hash_is_the_five_values_joined_by_soh():
    assert pre_hash("20260101-12:00:00.123", "A", 1, "key", "KalshiNR") == \
        b"20260101-12:00:00.123\x01A\x011\x01key\x01KalshiNR"


def test_signature_is_pss_sha256_salt32_base64(pair):
    signer, pub, _ = pair
    msg = pre_hash("20260101-12:00:00.123", "A", "1", "k", "KalshiDC")
    sig = signer.sign(msg)
    assert len(sig) == 344
    # verifies with exactly the documented parameters, independently of fixgw.verify
    pub.verify(base64.b64decode(sig), msg,
               padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    assert verify(pub, msg, sig)
    assert not verify(pub, msg + b"x", sig)
    assert not verify(pub, msg, "not base64!")


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40), st.integers(1, 10**9))
def test_sign_verify_round_trip(pair, value, seq):
    signer, pub, _ = pair
    msg = pre_hash("20260101-12:00:00.000", "A", seq, value, "KalshiRT")
    assert verify(pub, msg, signer.sign(msg))


def test_keygen_writes_0600_and_refuses_overwrite(tmp_path):
    priv, pub = generate_keypair(tmp_path / "a.pem")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert pub.name == "a.pub.pem" and b"PUBLIC KEY" in pub.read_bytes()
    assert b"BEGIN PRIVATE KEY" in priv.read_bytes()  # PKCS#8
    with pytest.raises(KeyFileError, match="already exists"):
        generate_keypair(tmp_path / "a.pem")


def test_group_readable_private_key_is_refused_with_the_fix(tmp_path):
    priv, _ = generate_keypair(tmp_path / "b.pem")
    os.chmod(priv, 0o640)
    with pytest.raises(KeyFileError) as err:
        load_private_key(priv)
    assert str(priv) in str(err.value) and f"chmod 600 {priv}" in str(err.value)


def test_bad_key_files_are_named_without_their_content(tmp_path):
    p = tmp_path / "junk.pem"
    armour = "PRIVATE KEY-----"  # spelled in two parts so no key-looking block sits in the repo
    p.write_text(f"-----BEGIN {armour}\nSECRETSECRET\n-----END {armour}\n")
    os.chmod(p, 0o600)
    with pytest.raises(KeyFileError) as err:
        load_private_key(p)
    assert str(p) in str(err.value) and "SECRET" not in str(err.value)
    with pytest.raises(KeyFileError, match="does not exist"):
        load_private_key(tmp_path / "missing.pem")


def test_signer_repr_hides_the_key(pair):
    signer, _, priv = pair
    assert repr(signer) == f"Signer(path={str(priv)!r})"
