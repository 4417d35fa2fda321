"""Ed25519 signatures of official extracts, with key rotation and revocation.

settings.EXTRACT_SIGNING_KEYS is a list of "key_id:base64url raw 32-byte private key" items: the
first signs new extracts, every listed key verifies (so rotating in a new key keeps old extracts
verifiable). A key id in settings.EXTRACT_REVOKED_KEY_IDS verifies nothing any more: extracts it
signed are shown as not valid. This module must not import Django settings at import time:
portal.settings calls dev_signing_key() while settings are being built.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_item(key_id: str | None = None) -> str:
    """A fresh "key_id:private key" item for EXTRACT_SIGNING_KEYS."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return f"{key_id or 'k' + secrets.token_hex(4)}:{_b64e(raw)}"


def dev_signing_key(var_dir: Path) -> str:
    """The development key, generated once into var/extract-signing.key (never used in production)."""
    path = Path(var_dir) / "extract-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key_item("dev1"))
    return path.read_text().strip()


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def public_b64(self) -> str:
        return _b64e(self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


class KeyConfigError(ValueError):
    pass


def parse_keys(items: list[str]) -> list[SigningKey]:
    keys = []
    for item in items:
        key_id, sep, raw = item.partition(":")
        if not sep or not key_id:
            raise KeyConfigError("EXTRACT_SIGNING_KEYS: each item is key_id:base64 private key")
        try:
            keys.append(SigningKey(key_id.strip(), Ed25519PrivateKey.from_private_bytes(_b64d(raw.strip()))))
        except ValueError as exc:
            raise KeyConfigError(f"EXTRACT_SIGNING_KEYS: key {key_id!r} is not a 32-byte Ed25519 key") from exc
    return keys


def canonical(payload: dict) -> bytes:
    """The exact bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(payload: dict, *, keys: list[str]) -> tuple[str, str]:
    """(key_id, signature) of the payload by the newest (first) key."""
    key = parse_keys(keys)[0]
    return key.key_id, _b64e(key.private.sign(canonical(payload)))


class VerifyResult:
    VALID = "valid"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"


def verify(payload: dict, *, key_id: str, signature: str, keys: list[str], revoked: list[str]) -> str:
    """One of VerifyResult; only VALID means the payload is exactly what the registry signed."""
    if key_id in set(revoked):
        return VerifyResult.REVOKED_KEY
    by_id = {k.key_id: k for k in parse_keys(keys)}
    key = by_id.get(key_id)
    if key is None:
        return VerifyResult.UNKNOWN_KEY
    try:
        key.public.verify(_b64d(signature), canonical(payload))
    except (InvalidSignature, ValueError):
        return VerifyResult.BAD_SIGNATURE
    return VerifyResult.VALID
