import base64
import hashlib

from meetbridge.security.secrets import digest, matches, new_secret


def test_new_secret_has_a_readable_prefix_and_256_random_bits():
    secret = new_secret('mbk')

    prefix, _, random_part = secret.partition('_')
    assert prefix == 'mbk'
    assert len(base64.urlsafe_b64decode(random_part + '=' * (-len(random_part) % 4))) == 32


def test_new_secret_size_follows_nbytes():
    random_part = new_secret('jt', nbytes=16).removeprefix('jt_')

    assert len(base64.urlsafe_b64decode(random_part + '=' * (-len(random_part) % 4))) == 16


def test_new_secret_is_url_safe():
    secret = new_secret('jt')

    assert set(secret) <= set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_')


def test_new_secrets_do_not_repeat():
    assert len({new_secret('whsec') for _ in range(500)}) == 500


def test_digest_is_sha256_hex_and_does_not_reveal_the_secret():
    secret = new_secret('mbk')

    assert digest(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert len(digest(secret)) == 64
    assert secret not in digest(secret)
    assert digest('abc') == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'


def test_matches_only_the_secret_that_was_stored():
    secret = new_secret('mbk')
    stored = digest(secret)

    assert matches(secret, stored) is True
    assert matches(secret + 'x', stored) is False
    assert matches(new_secret('mbk'), stored) is False
    assert matches('', stored) is False
