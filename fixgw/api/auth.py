"""Kalshi REST/WebSocket request signatures (pure core).

A request carries KALSHI-ACCESS-KEY (the API key id), KALSHI-ACCESS-TIMESTAMP
(Unix milliseconds) and KALSHI-ACCESS-SIGNATURE: the standard Base64 of an
RSA-PSS SHA-256 signature over ``timestamp + METHOD + path``, where path is
the URL path without its query string (``/trade-api/v2/portfolio/fills``).
The padding and encoding are the FIX Logon's, so both sides reuse
:mod:`fixgw.signing`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from fixgw.signing import Signer, load_public_key, verify

KEY, TIMESTAMP, SIGNATURE = "KALSHI-ACCESS-KEY", "KALSHI-ACCESS-TIMESTAMP", "KALSHI-ACCESS-SIGNATURE"


def message(timestamp_ms: str, method: str, path: str) -> bytes:
    """The signed bytes: timestamp, upper-case method and the path without its query."""
    return (timestamp_ms + method.upper() + path.split("?", 1)[0]).encode("utf-8")


def headers(signer: Signer, key_id: str, method: str, path: str, now_ms: int | None = None) -> dict[str, str]:
    """The three headers that sign one request."""
    ts = str(int(time.time() * 1000) if now_ms is None else now_ms)
    return {KEY: key_id, TIMESTAMP: ts, SIGNATURE: signer.sign(message(ts, method, path))}


@dataclass(frozen=True)
class Refusal:
    """Why a request was not authenticated (HTTP 401 with Kalshi's error body)."""

    code: str
    message: str


class Verifier:
    """Checks request headers against the public keys a config lists (key id -> PEM)."""

    def __init__(self, keys: Mapping[str, rsa.RSAPublicKey], max_skew_s: int = 300):
        self.keys, self.max_skew_ms = dict(keys), max_skew_s * 1000

    @classmethod
    def from_files(cls, keys: Mapping[str, Path], max_skew_s: int = 300) -> "Verifier":
        return cls({k: load_public_key(p) for k, p in keys.items()}, max_skew_s)

    def check(self, get_header, method: str, path: str, now_ms: int | None = None) -> Refusal | str:
        """The key id when the request is signed by a listed key, else the Refusal."""
        key_id, ts, sig = get_header(KEY), get_header(TIMESTAMP), get_header(SIGNATURE)
        if not key_id or not ts or not sig:
            missing = [h for h, v in ((KEY, key_id), (TIMESTAMP, ts), (SIGNATURE, sig)) if not v]
            return Refusal("missing_parameters", f"authentication headers missing: {', '.join(missing)}")
        public = self.keys.get(key_id)
        if public is None:
            return Refusal("authentication_error", f"unknown API key id {key_id!r}")
        if not ts.isdigit():
            return Refusal("authentication_error", f"{TIMESTAMP} {ts!r} is not Unix milliseconds")
        now = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(now - int(ts)) > self.max_skew_ms:
            return Refusal("authentication_error",
                           f"{TIMESTAMP} is {abs(now - int(ts)) // 1000} s from this server's clock "
                           f"(at most {self.max_skew_ms // 1000} s allowed)")
        if not verify(public, message(ts, method, path), sig):
            return Refusal("authentication_error", f"signature does not verify for key {key_id!r} "
                           f"over timestamp+{method.upper()}+{path.split('?', 1)[0]}")
        return key_id
