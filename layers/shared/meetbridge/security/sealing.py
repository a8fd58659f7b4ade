"""Sealing secrets with KMS envelope encryption.

Each blob gets its own data key from KMS `GenerateDataKey`, bound to an encryption context
(tenant and purpose at least), and the payload is AES-256-GCM encrypted locally with that
context as associated data. A blob moved to another tenant or purpose fails to open. Envelope
encryption keeps one KMS call per operation whatever the payload size (token caches can exceed
KMS Encrypt's 4 KB limit).
"""

import hashlib
import json
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meetbridge import aws
from meetbridge.config import SealingSettings, settings

_FORMAT = b'\x01'
_NONCE_BYTES = 12
_CACHE_SECONDS = 300
_CACHE_LIMIT = 512

# Opened blobs are kept briefly per warm container: a webhook burst for one tenant costs one KMS call.
_opened: dict[str, tuple[float, bytes]] = {}


class SealError(Exception):
    """The blob is damaged or was sealed for another context."""


def _aad(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(',', ':')).encode()


def seal(plaintext: bytes, context: dict[str, str]) -> bytes:
    data_key = aws.client('kms').generate_data_key(
        KeyId=settings(SealingSettings).kms_key_id, KeySpec='AES_256', EncryptionContext=context
    )
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(data_key['Plaintext']).encrypt(nonce, plaintext, _aad(context))
    wrapped = data_key['CiphertextBlob']
    return _FORMAT + struct.pack('>H', len(wrapped)) + wrapped + nonce + ciphertext


def unseal(blob: bytes, context: dict[str, str]) -> bytes:
    cache_key = hashlib.sha256(blob + _aad(context)).hexdigest()
    cached = _opened.get(cache_key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    if not blob or blob[:1] != _FORMAT or len(blob) < 3:
        raise SealError('unknown sealed format')
    (wrapped_len,) = struct.unpack('>H', blob[1:3])
    wrapped = blob[3 : 3 + wrapped_len]
    nonce = blob[3 + wrapped_len : 3 + wrapped_len + _NONCE_BYTES]
    ciphertext = blob[3 + wrapped_len + _NONCE_BYTES :]
    kms = aws.client('kms')
    try:
        data_key = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)['Plaintext']
    except kms.exceptions.InvalidCiphertextException as exc:
        raise SealError('sealed for another context') from exc
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, _aad(context))
    except Exception as exc:  # cryptography raises InvalidTag; any failure means "cannot open"
        raise SealError('sealed blob does not verify') from exc
    if len(_opened) >= _CACHE_LIMIT:
        _opened.clear()
    _opened[cache_key] = (time.monotonic() + _CACHE_SECONDS, plaintext)
    return plaintext


def seal_text(text: str, context: dict[str, str]) -> bytes:
    return seal(text.encode(), context)


def unseal_text(blob: bytes, context: dict[str, str]) -> str:
    return unseal(blob, context).decode()
