"""Sealing secrets with KMS envelope encryption.

A blob's payload is AES-256-GCM encrypted locally with a data key from KMS `GenerateDataKey`, with the
whole sealing context (tenant, purpose, subject) as associated data: a blob moved to another tenant,
purpose or subject fails to open. Envelope encryption keeps KMS calls independent of the payload size
(token caches can exceed KMS Encrypt's 4 KB limit).

The data key is bound to the tenant (its KMS encryption context) and, as the AWS Encryption SDK's caching
materials manager does, a container seals up to DATA_KEY_USES blobs of a tenant with one data key for at most
DATA_KEY_SECONDS; a container that opens them decrypts each data key once for as long. A booking's sealed
items (meeting details, attendee, links, notices) then cost no KMS call in a warm container. Blobs of the
first format (one data key each, bound to the whole context) still open.
"""

import hashlib
import json
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meetbridge import aws
from meetbridge.caching import ContainerCache
from meetbridge.config import SealingSettings, settings

_KEY_PER_BLOB = b'\x01'  # KMS context: the whole sealing context
_KEY_PER_TENANT = b'\x02'  # KMS context: the tenant; sealed by this version
_NONCE_BYTES = 12
# Random 96-bit nonces stay far from AES-GCM's limit (2^32 messages per key) at this many uses.
DATA_KEY_USES = 1000
DATA_KEY_SECONDS = 300
_CACHE_SECONDS = 300
_CACHE_LIMIT = 512


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    uses: int = 0


# The data key this container seals a tenant's blobs with.
_sealing_keys: ContainerCache[str, _DataKey] = ContainerCache(DATA_KEY_SECONDS, limit=64)
# Data keys opened with KMS, by wrapped key and KMS context.
_opening_keys: ContainerCache[str, bytes] = ContainerCache(_CACHE_SECONDS, limit=_CACHE_LIMIT)
# Opened blobs: a webhook burst for one tenant costs one KMS call.
_opened: ContainerCache[str, bytes] = ContainerCache(_CACHE_SECONDS, limit=_CACHE_LIMIT)


class SealError(Exception):
    """The blob is damaged or was sealed for another context."""


def _canonical(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True, separators=(',', ':')).encode()


def _tenant_context(context: dict[str, str]) -> dict[str, str]:
    return {'tenant_id': context['tenant_id']}


def _data_key(kms_context: dict[str, str]) -> _DataKey:
    cache_key = _canonical(kms_context).decode()
    key = _sealing_keys.get(cache_key)
    if key is None or key.uses >= DATA_KEY_USES:
        made = aws.client('kms').generate_data_key(
            KeyId=settings(SealingSettings).kms_key_id, KeySpec='AES_256', EncryptionContext=kms_context)
        key = _DataKey(made['Plaintext'], made['CiphertextBlob'])
        _sealing_keys.put(cache_key, key)
    key.uses += 1
    return key


def seal(plaintext: bytes, context: dict[str, str]) -> bytes:
    key = _data_key(_tenant_context(context))
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(key.plaintext).encrypt(nonce, plaintext, _canonical(context))
    return _KEY_PER_TENANT + struct.pack('>H', len(key.wrapped)) + key.wrapped + nonce + ciphertext


def _opened_data_key(wrapped: bytes, kms_context: dict[str, str]) -> bytes:
    cache_key = hashlib.sha256(wrapped + _canonical(kms_context)).hexdigest()
    data_key = _opening_keys.get(cache_key)
    if data_key is None:
        kms = aws.client('kms')
        try:
            data_key = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=kms_context)['Plaintext']
        except kms.exceptions.InvalidCiphertextException as exc:
            raise SealError('sealed for another context') from exc
        _opening_keys.put(cache_key, data_key)
    return data_key


def unseal(blob: bytes, context: dict[str, str]) -> bytes:
    cache_key = hashlib.sha256(blob + _canonical(context)).hexdigest()
    cached = _opened.get(cache_key)
    if cached is not None:
        return cached
    if not blob or blob[:1] not in (_KEY_PER_BLOB, _KEY_PER_TENANT) or len(blob) < 3:
        raise SealError('unknown sealed format')
    (wrapped_len,) = struct.unpack('>H', blob[1:3])
    wrapped = blob[3 : 3 + wrapped_len]
    nonce = blob[3 + wrapped_len : 3 + wrapped_len + _NONCE_BYTES]
    ciphertext = blob[3 + wrapped_len + _NONCE_BYTES :]
    kms_context = context if blob[:1] == _KEY_PER_BLOB else _tenant_context(context)
    data_key = _opened_data_key(wrapped, kms_context)
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, _canonical(context))
    except Exception as exc:  # cryptography raises InvalidTag; any failure means "cannot open"
        raise SealError('sealed blob does not verify') from exc
    _opened.put(cache_key, plaintext)
    return plaintext
