"""The `meetbridge` console command, and sealing with KMS."""

import json

import pytest

from meetbridge.cli import main
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
    with pytest.raises(Forbidden):
        authenticate(created['tenant_id'], f'Bearer {created["api_key"]}')


def test_rotating_an_unknown_tenant_says_so(cloud, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match='no tenant t_missing'):
        main(['tenant', 'rotate-keys', 't_missing'])


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
