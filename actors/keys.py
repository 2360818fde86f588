"""Local actors' private keys: encrypted at rest, decrypted once per process and kept."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from actors.errors import KeyUnavailable
from federation.keys import load_own_private_key, private_key_der

SEALED_PREFIX = "v1:"


class KeyRing:
    """Seals private keys with a key derived from the instance secret, and caches opened ones."""

    def __init__(self, secret: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None,
            info=b"rounds: local actor private keys",
        ).derive(secret.encode("utf-8"))
        self._aead = AESGCM(derived)
        self._opened: dict[int, rsa.RSAPrivateKey] = {}

    def seal(self, actor_id: int, private_key: rsa.RSAPrivateKey) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, private_key_der(private_key), _aad(actor_id))
        self._opened[actor_id] = private_key
        return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, actor_id: int, sealed: str) -> rsa.RSAPrivateKey:
        key = self._opened.get(actor_id)
        if key is not None:
            return key
        if not sealed.startswith(SEALED_PREFIX):
            raise KeyUnavailable(f"private key of actor {actor_id} is in an unknown format")
        raw = base64.b64decode(sealed[len(SEALED_PREFIX):])
        try:
            der = self._aead.decrypt(raw[:12], raw[12:], _aad(actor_id))
        except InvalidTag:
            raise KeyUnavailable(
                f"private key of actor {actor_id} cannot be decrypted: "
                "ROUNDS_SECRET_KEY differs from the one it was sealed with"
            ) from None
        key = load_own_private_key(der)
        self._opened[actor_id] = key
        return key


def _aad(actor_id: int) -> bytes:
    # Binds each sealed key to its actor: a row copied onto another actor will not open.
    return f"actor:{actor_id}".encode("ascii")
