"""Kalshi Logon signatures: pre-hash, RSA-PSS sign/verify, key files.

Kalshi authenticates a FIX Logon by RawData(96): the standard Base64 of an
RSASSA-PSS signature (SHA-256, MGF1-SHA-256, 32-byte salt) over five header
values joined by SOH: SendingTime(52), MsgType(35), MsgSeqNum(34),
SenderCompID(49), TargetCompID(56). The values must be byte-identical to the
ones on the wire, which is why the adapter signs in ``toAdmin`` from the header
QuickFIX already filled instead of generating its own timestamp.

Pure core: no ``quickfix`` import. Key material never appears in a repr,
an exception or a log line.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fixgw.errors import KeyFileError

SOH = "\x01"
KEY_BITS = 2048
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def pre_hash(sending_time: str, msg_type: str, seq_num: str | int, sender: str, target: str) -> bytes:
    """The exact bytes Kalshi verifies: 52, 35, 34, 49, 56 values joined by SOH."""
    return SOH.join((sending_time, msg_type, str(seq_num), sender, target)).encode("ascii")


class Signer:
    """Holds one RSA private key and signs Logon pre-hashes with it."""

    __slots__ = ("_key", "path")

    def __init__(self, key: rsa.RSAPrivateKey, path: str = "<memory>"):
        self._key = key
        self.path = path

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Signer":
        return cls(load_private_key(path), str(path))

    def sign(self, message: bytes) -> str:
        """Base64 RSA-PSS signature of ``message`` (344 characters for 2048 bits)."""
        return base64.b64encode(self._key.sign(message, _PSS, hashes.SHA256())).decode("ascii")

    def public_pem(self) -> bytes:
        return public_pem(self._key)

    def __repr__(self) -> str:  # never the key itself
        return f"Signer(path={self.path!r})"


def verify(public_key: rsa.RSAPublicKey, message: bytes, raw_data: str) -> bool:
    """True when ``raw_data`` is a valid Kalshi Logon signature of ``message``."""
    try:
        signature = base64.b64decode(raw_data.encode("ascii"), validate=True)
        public_key.verify(signature, message, _PSS, hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return True


def loose_mode(path: Path) -> int | None:
    """The permission bits of a private key file that group or others can use, else None."""
    mode = path.stat().st_mode
    return stat.S_IMODE(mode) if mode & (stat.S_IRWXG | stat.S_IRWXO) else None


def check_private_permissions(path: Path) -> None:
    """Refuse a private key that group or others can read: it is a trading credential."""
    mode = loose_mode(path)
    if mode is not None:
        raise KeyFileError(
            f"private key {path} is accessible by group/others (mode {mode:04o}); "
            f"fix with: chmod 600 {path}"
        )


def _read_rsa(p: Path, what: str, form: str, load, cls):
    """The RSA key in PEM file ``p``; KeyFileError naming what is wrong, never the file's content."""
    try:
        key = load(p.read_bytes())
    except FileNotFoundError:
        raise KeyFileError(f"{what} {p} does not exist") from None
    except PermissionError:
        raise KeyFileError(f"{what} {p} cannot be read by this user") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The library's message may quote parts of the file; say only what is wrong.
        raise KeyFileError(f"{what} {p} is not {form}") from None
    if not isinstance(key, cls):
        raise KeyFileError(f"{what} {p} is not an RSA key (Kalshi FIX signs with RSA-PSS)")
    return key


def read_private_key(path: str | os.PathLike) -> rsa.RSAPrivateKey:
    """Parse an unencrypted PKCS#8 (or PKCS#1) PEM RSA key of at least :data:`KEY_BITS` bits."""
    p = Path(path)
    key = _read_rsa(p, "private key", "an unencrypted PEM private key",
                    lambda data: serialization.load_pem_private_key(data, password=None), rsa.RSAPrivateKey)
    if key.key_size < KEY_BITS:
        raise KeyFileError(f"private key {p} has {key.key_size} bits; Kalshi requires {KEY_BITS}")
    return key


def load_private_key(path: str | os.PathLike) -> rsa.RSAPrivateKey:
    """Load a private key after the existence and permission checks (:func:`read_private_key`)."""
    p = Path(path)
    if not p.is_file():
        raise KeyFileError(f"private key {p} does not exist; create one with: fixgw keygen {p}")
    check_private_permissions(p)
    return read_private_key(p)


def load_public_key(path: str | os.PathLike) -> rsa.RSAPublicKey:
    return _read_rsa(Path(path), "public key", "a PEM public key", serialization.load_pem_public_key, rsa.RSAPublicKey)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the first byte; refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def generate_keypair(private_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write a 2048-bit RSA key (PKCS#8, 0600) and its public key beside it (.pub)."""
    priv = Path(private_path)
    pub = priv.with_name(priv.name.removesuffix(".pem").removesuffix(".key") + ".pub.pem")
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(priv, pem)
    pub.write_bytes(public_pem(key))
    return priv, pub
