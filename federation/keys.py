"""Key pairs for signing: generation and (de)serialisation. Pure: no I/O."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_BITS = 2048


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def public_key_pem(private_key: rsa.RSAPrivateKey) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_key_der(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_own_private_key(der: bytes) -> rsa.RSAPrivateKey:
    """Load a key we generated ourselves.

    RSA validation costs ~30 ms a key; our keys were made by `generate_rsa_key` and come
    back through authenticated encryption, so the check can be skipped safely.
    """
    key = serialization.load_der_private_key(der, password=None,
                                             unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("stored private key is not an RSA key")
    return key
