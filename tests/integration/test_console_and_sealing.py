"""The `meetbridge` console command, and sealing with KMS."""

import json
import os
import socket
from datetime import UTC, datetime, timedelta

import pytest

from meetbridge import aws
from meetbridge.cli import NOT_RUNNING, find_local_state, main
from meetbridge.security import sealing


def _run(capsys, *argv) -> dict | list:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_tenant_create_list_and_rotate(cloud, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no local stack state here: settings come from the environment

    created = _run(capsys, 'tenant', 'create', '--name', 'Studio Nine', '--json')
    assert created['tenant_id'].startswith('t_')
    assert created['api_key'].startswith('mbk_') and created['webhook_secret'].startswith('whsec_')

    listed = _run(capsys, 'tenant', 'list', '--json')
    assert [t['name'] for t in listed] == ['Studio Nine']
    assert 'api_key' not in listed[0]

    rotated = _run(capsys, 'tenant', 'rotate-keys', created['tenant_id'], '--json')
    assert rotated['api_key'] != created['api_key'] and rotated['webhook_secret'] != created['webhook_secret']

    from meetbridge.logic.tenants import authenticate
    from meetbridge.errors import Forbidden
    authenticate(created['tenant_id'], f'Bearer {rotated["api_key"]}')
    # The previous key keeps working for the default overlap of 24 hours.
    authenticate(created['tenant_id'], f'Bearer {created["api_key"]}')
    ends = datetime.fromisoformat(rotated['previous_valid_until']) - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < ends <= timedelta(hours=24)

    again = _run(capsys, 'tenant', 'rotate-keys', created['tenant_id'], '--overlap', '0', '--json')
    authenticate(created['tenant_id'], f'Bearer {again["api_key"]}')
    for replaced in (created['api_key'], rotated['api_key']):
        with pytest.raises(Forbidden):
            authenticate(created['tenant_id'], f'Bearer {replaced}')


def _rotated_at(tenant, when: datetime, **only):
    from meetbridge.logic.tenants import rotate_keys

    return rotate_keys(tenant.tenant_id, overlap=timedelta(hours=24), now=when, **only)


def test_the_previous_api_key_works_until_the_overlap_ends_and_not_after(cloud):
    from meetbridge.errors import Forbidden
    from meetbridge.logic.tenants import authenticate, create_tenant

    inside, outside = create_tenant('Inside'), create_tenant('Outside')
    now = datetime.now(UTC)
    # Rotated 23 h 59 min ago: one minute left. Rotated 24 h and a second ago: over.
    new_inside = _rotated_at(inside, now - timedelta(hours=23, minutes=59))
    new_outside = _rotated_at(outside, now - timedelta(hours=24, seconds=1))

    authenticate(inside.tenant_id, f'Bearer {inside.api_key}')
    authenticate(inside.tenant_id, f'Bearer {new_inside.api_key}')
    with pytest.raises(Forbidden):
        authenticate(outside.tenant_id, f'Bearer {outside.api_key}')
    authenticate(outside.tenant_id, f'Bearer {new_outside.api_key}')
    with pytest.raises(Forbidden):  # a previous key is still only its own tenant's
        authenticate(outside.tenant_id, f'Bearer {inside.api_key}')


def test_the_previous_webhook_secret_verifies_until_the_overlap_ends(cloud):
    from meetbridge.logic.tenants import create_tenant, webhook_secrets
    from meetbridge.store import repository

    tenant = create_tenant('Studio')
    rotated_at = datetime.now(UTC) - timedelta(hours=1)
    new = _rotated_at(tenant, rotated_at, api_key=False)
    stored = repository.get_tenant(tenant.tenant_id)
    ends = rotated_at + timedelta(hours=24)

    assert webhook_secrets(stored, ends - timedelta(microseconds=1)) == [new.webhook_secret.encode(),
                                                                          tenant.webhook_secret.encode()]
    assert webhook_secrets(stored, ends) == [new.webhook_secret.encode()]
    assert stored.previous_api_key_digest is None  # only the secret was rotated


def test_webhooks_signed_with_the_previous_secret_are_accepted_only_during_the_overlap(cloud):
    from bookings import booking_event
    from helpers import sign
    from integration_stack import Stack

    for rotated_ago, answered in ((timedelta(hours=23, minutes=59), 202), (timedelta(hours=24, seconds=1), 401)):
        stack = Stack(cloud)
        stack.setup_online_service()
        _rotated_at(stack.tenant, datetime.now(UTC) - rotated_ago)
        raw = json.dumps(booking_event()).encode()

        status, answer = stack.post(raw, signature=sign(stack.tenant.webhook_secret, raw))

        assert status == answered, (rotated_ago, answer)


def test_rotating_an_unknown_tenant_says_so(cloud, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match='no tenant t_missing'):
        main(['tenant', 'rotate-keys', 't_missing'])


def _write_local_state(directory, aws_endpoint_url: str):
    state = directory / '.meetbridge' / 'dev.json'
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({'table_name': 'meetbridge-local', 'kms_key_id': 'alias/local',
                                 'aws_endpoint_url': aws_endpoint_url, 'region': 'us-east-1'}))
    return state


@pytest.fixture
def without_aws_settings(monkeypatch):
    """As in a new shell: only the local stack's dev.json names a table and a key (restored afterwards)."""
    for name in ('TABLE_NAME', 'KMS_KEY_ID', 'AWS_ENDPOINT_URL'):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def refused_endpoint():
    """A port that refuses connections, as a stopped stack's does: bound, never listening."""
    with socket.socket() as bound:
        bound.bind(('127.0.0.1', 0))
        yield f'http://127.0.0.1:{bound.getsockname()[1]}'


def test_local_state_is_found_from_any_subdirectory(tmp_path):
    state = _write_local_state(tmp_path, 'http://127.0.0.1:1')
    nested = tmp_path / 'layers' / 'shared' / 'meetbridge'
    nested.mkdir(parents=True)

    assert find_local_state(tmp_path) == state
    assert find_local_state(nested) == state
    assert find_local_state(tmp_path.parent) is None


def test_a_stopped_local_stack_is_named_from_a_subdirectory_without_a_traceback(
        without_aws_settings, refused_endpoint, monkeypatch, tmp_path, capsys):
    _write_local_state(tmp_path, refused_endpoint)
    nested = tmp_path / 'docs' / 'deeper'
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)

    with pytest.raises(SystemExit) as stopped:
        main(['tenant', 'list'])

    assert stopped.value.code == NOT_RUNNING
    assert 'make dev' in NOT_RUNNING
    assert 'AWS_ENDPOINT_URL' not in os.environ and 'TABLE_NAME' not in os.environ


def test_without_a_local_stack_or_settings_the_command_says_how_to_get_one(without_aws_settings, monkeypatch,
                                                                           tmp_path):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SystemExit) as stopped:
        main(['tenant', 'list'])

    message = str(stopped.value.code)
    assert message.startswith(NOT_RUNNING)
    assert '--table/--kms-key' in message and 'TABLE_NAME/KMS_KEY_ID' in message


def test_sealed_blobs_open_only_in_their_context(cloud):
    context = {'tenant_id': 't1', 'purpose': 'connection', 'subject': 'company'}
    big = b'x' * 20_000  # larger than KMS Encrypt accepts directly
    blob = sealing.seal(big, context)

    assert big not in blob
    assert sealing.unseal(blob, context) == big
    with pytest.raises(sealing.SealError):
        sealing.unseal(blob, {**context, 'tenant_id': 't2'})
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(sealing.SealError):
        sealing.unseal(tampered, context)
    with pytest.raises(sealing.SealError):
        sealing.unseal(b'', context)


def test_a_blob_moved_to_another_purpose_or_subject_of_its_tenant_does_not_open(cloud):
    context = {'tenant_id': 't1', 'purpose': 'meeting', 'subject': 'booking:b1'}
    blob = sealing.seal(b'room', context)

    for moved in ({**context, 'subject': 'booking:b2'}, {**context, 'purpose': 'attendee'}):
        with pytest.raises(sealing.SealError):
            sealing.unseal(blob, moved)


def test_a_container_seals_a_tenants_blobs_with_one_data_key_within_its_limits(cloud, monkeypatch):
    from meetbridge import caching

    kms_calls = []
    kms = aws.client('kms')
    kms.meta.events.register('before-call.kms.*', lambda model, **_: kms_calls.append(model.name))
    blobs = [sealing.seal(f'secret {n}'.encode(), {'tenant_id': 't1', 'purpose': 'meeting', 'subject': f'm{n}'})
             for n in range(5)]
    sealing.seal(b'other', {'tenant_id': 't2', 'purpose': 'meeting', 'subject': 'm1'})
    assert kms_calls == ['GenerateDataKey', 'GenerateDataKey']  # one per tenant

    caching.clear_all()  # another container opens them: one Decrypt for the shared data key
    kms_calls.clear()
    assert [sealing.unseal(blob, {'tenant_id': 't1', 'purpose': 'meeting', 'subject': f'm{n}'})
            for n, blob in enumerate(blobs)] == [f'secret {n}'.encode() for n in range(5)]
    assert kms_calls == ['Decrypt']

    monkeypatch.setattr(sealing, 'DATA_KEY_USES', 2)  # a data key is used for so many blobs, then replaced
    kms_calls.clear()
    for n in range(4):
        sealing.seal(b'x', {'tenant_id': 't3', 'purpose': 'meeting', 'subject': f'm{n}'})
    assert kms_calls == ['GenerateDataKey', 'GenerateDataKey']


def test_a_blob_sealed_with_a_data_key_of_its_own_still_opens(cloud):
    """The first format: one data key per blob, bound to the whole context."""
    import struct

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    context = {'tenant_id': 't1', 'purpose': 'connection', 'subject': 'company'}
    made = aws.client('kms').generate_data_key(KeyId=os.environ['KMS_KEY_ID'], KeySpec='AES_256',
                                               EncryptionContext=context)
    nonce = os.urandom(12)
    aad = json.dumps(context, sort_keys=True, separators=(',', ':')).encode()
    wrapped = made['CiphertextBlob']
    blob = b'\x01' + struct.pack('>H', len(wrapped)) + wrapped + nonce + AESGCM(made['Plaintext']).encrypt(
        nonce, b'old secret', aad)

    assert sealing.unseal(blob, context) == b'old secret'
    with pytest.raises(sealing.SealError):
        sealing.unseal(blob, {**context, 'subject': 'other'})
