"""The alert webhook connects to the address its host was checked to resolve to, and TLS still checks the
certificate against the host's name: a real handshake with a loopback server whose certificate a test CA
signed (the client trusts that CA through SSL_CERT_FILE, as it would a deployment's own bundle). The checked
public address is steered to the server by the socket layer, so nothing reaches the internet."""

import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meetbridge.logic import alerts

CHECKED_ADDRESS = '93.184.215.14'
NOW = datetime.now(UTC)


def _certificate(subject: str, issuer: str, public_key, signing_key, ca: bool) -> x509.Certificate:
    """Python 3.13 verifies strictly (VERIFY_X509_STRICT): key identifiers and key usage are required."""
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(hours=1)).not_valid_after(NOW + timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True).add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """Starts a TLS receiver on loopback whose certificate names the given host; answers its list of Host
    headers. The webhook client is made again, trusting the test CA, and dropped after."""
    servers = []

    def start(certified_name: str) -> list[str]:
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = _certificate('test CA', 'test CA', ca_key.public_key(), ca_key, ca=True)
        leaf = _certificate(certified_name, 'test CA', key.public_key(), ca_key, ca=False)
        (tmp_path / 'ca.pem').write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (tmp_path / 'leaf.pem').write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        hosts = []

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers['Content-Length']))
                hosts.append(self.headers['Host'])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_):
                pass

        server = ThreadingHTTPServer(('127.0.0.1', 0), Handle)
        server.handle_error = lambda *_: None  # a refused handshake is the client's business here
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / 'leaf.pem')
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05})
        thread.start()
        servers.append((server, thread))

        connect = socket.create_connection

        def to_the_receiver(address, *args, **kwargs):
            assert address == (CHECKED_ADDRESS, 443)
            return connect(('127.0.0.1', server.server_port), *args, **kwargs)

        monkeypatch.setattr(socket, 'create_connection', to_the_receiver)
        monkeypatch.setenv('SSL_CERT_FILE', str(tmp_path / 'ca.pem'))
        alerts._http.cache_clear()
        return hosts

    yield start
    alerts._http.cache_clear()
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_the_checked_address_is_posted_to_when_its_certificate_names_the_host(tls_receiver):
    hosts = tls_receiver('hooks.example.com')

    status = alerts.post_to_checked_address('https://hooks.example.com/alerts', [CHECKED_ADDRESS], b'{}', {})

    assert status == 204 and hosts == ['hooks.example.com']


def test_a_certificate_for_another_name_at_the_checked_address_is_refused(tls_receiver):
    hosts = tls_receiver('elsewhere.example.com')

    with pytest.raises(httpx2.ConnectError, match='certificate verify failed'):
        alerts.post_to_checked_address('https://hooks.example.com/alerts', [CHECKED_ADDRESS], b'{}', {})
    assert hosts == []
