"""Webhook signing and PKCE against the reference test vectors (provider-apis.md, TV-1..TV-8)."""

import pytest

from infra.sandboxes.zoom import s256_challenge, sign, url_validation_response, verify_signature

SECRET = 'secretValueTest'
TV2_BODY = ('{"event":"meeting.started","payload":{"account_id":"AAAA","object":{"id":"123456789"}},'
            '"event_ts":1658940994123}')
TV2_SIGNATURE = 'v0=37cd93c95c0059b63c8832520450b0b03345526c0e8c84f7ffc9219727d48da4'
TV3_BODY = ('{"event": "meeting.started", "payload": {"account_id": "AAAA", "object": {"id": "123456789"}}, '
            '"event_ts": 1658940994123}')
TV4_BODY = ('{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},'
            '"event_ts":1654503849680}')
TV5_BODY = ('{"event":"app_deauthorized","event_ts":1740439732278,"payload":{"account_id":"EabCDEFghiLHMA",'
            '"user_id":"z9jkdsfsdfjhdkfjQ",'
            '"signature":"827edc3452044f0bc86bdd5684afb7d1e6becfa1a767f24df1b287853cf73000",'
            '"deauthorization_time":"2019-06-17T13:52:28.632Z","client_id":"ADZ9k9bTWmGUoUbECUKU_a"}}')


def test_tv1_url_validation_answer():
    assert url_validation_response(SECRET, 'qgg8vlvZRS6UYooatFL8Aw') == {
        'plainToken': 'qgg8vlvZRS6UYooatFL8Aw',
        'encryptedToken': '70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff'}


@pytest.mark.parametrize('timestamp, body, signature', [
    (1658940994, TV2_BODY, TV2_SIGNATURE),
    (1654503849, TV4_BODY, 'v0=8cad3b47155098dbbc6c54ce7963359f9f65efcb36e78d043f692c58565db4ed'),
    (1740439732, TV5_BODY, 'v0=4cc9a08745d198edd60e1289ed0ea8f687a54fd23c8458462e2af2b9ef66aa3f'),
    (1658940994, '', 'v0=b6c348f7ed606d4285323a4284cdbbebf98cca67ae898e834ed5613a2b4b45ef'),
], ids=['TV-2', 'TV-4', 'TV-5', 'TV-6'])
def test_signature_vectors(timestamp, body, signature):
    assert sign(SECRET, timestamp, body) == signature
    assert sign(SECRET.encode(), str(timestamp), body.encode()) == signature
    assert verify_signature(SECRET, str(timestamp), body.encode(), signature)


def test_tv3_reserialised_body_does_not_verify():
    assert sign(SECRET, 1658940994, TV3_BODY) == 'v0=c04c2689a0e2a843b63f0cf030a2cc3533a90fcbb9adfb93e4811228fe749c8c'
    assert not verify_signature(SECRET, 1658940994, TV3_BODY, TV2_SIGNATURE)


@pytest.mark.parametrize('timestamp, signature', [
    (None, TV2_SIGNATURE), ('', TV2_SIGNATURE), (1658940994, None), (1658940994, ''),
    (1658940995, TV2_SIGNATURE), (1658940994, TV2_SIGNATURE.upper()), (1658940994, TV2_SIGNATURE + 'é'),
])
def test_verify_rejects_missing_or_wrong_parts_without_raising(timestamp, signature):
    assert verify_signature(SECRET, timestamp, TV2_BODY, signature) is False


def test_tv8_pkce_s256():
    verifier, challenge = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    assert s256_challenge(verifier) == challenge
