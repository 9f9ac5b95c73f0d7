"""at.ca: a development CA made safely, loaded with refusals that explain, signing client certificates."""
import datetime
import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from at import ca
from at.errors import ValidationError


def make_csr(cn: str = "kit-1") -> x509.CertificateSigningRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, hashes.SHA256()))


def test_create_makes_a_p256_ca_with_a_private_key_file(tmp_path):
    cert_path, key_path = ca.create(tmp_path / "a" / "b", common_name="Test CA", days=30)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert [p.name for p in sorted((tmp_path / "a" / "b").iterdir())] == ["ca.key", "ca.pem"]  # no temp left
    loaded = ca.load(cert_path, key_path)
    assert isinstance(loaded.key, ec.EllipticCurvePrivateKey) and loaded.key.curve.name == "secp256r1"
    constraints = loaded.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert loaded.cert.subject == loaded.cert.issuer
    assert loaded.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Test CA"
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(cert_path)], capture_output=True,
                          text=True, check=True).stdout
    assert "CA:TRUE" in text and "prime256v1" in text


def test_the_key_is_never_readable_by_others_even_while_written(tmp_path, monkeypatch):
    modes = []
    real_link = os.link

    def spy(src, dst, *args, **kwargs):  # the moment the final name appears: the file's mode is already set
        modes.append((os.path.basename(dst), stat.S_IMODE(os.stat(src).st_mode)))
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", spy)
    old = os.umask(0)  # even a permissive umask does not widen it
    try:
        ca.create(tmp_path / "ca")
    finally:
        os.umask(old)
    assert modes == [("ca.key", 0o600), ("ca.pem", 0o644)]


def test_create_refuses_to_overwrite(tmp_path):
    ca.create(tmp_path)
    before = (tmp_path / "ca.key").read_bytes()
    with pytest.raises(ValidationError, match="refusing to overwrite"):
        ca.create(tmp_path)
    assert (tmp_path / "ca.key").read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "ca.key").write_text("mine")
    with pytest.raises(ValidationError, match="ca.key already exists"):
        ca.create(other)
    assert (other / "ca.key").read_text() == "mine" and not (other / "ca.pem").exists()


def test_passphrase_protects_the_key(tmp_path):
    cert_path, key_path = ca.create(tmp_path, passphrase="s3cret pass")
    assert b"ENCRYPTED" in key_path.read_bytes()
    with pytest.raises(ValidationError, match="is encrypted: give its passphrase") as err:
        ca.load(cert_path, key_path)
    assert "s3cret" not in str(err.value) and "BEGIN" not in str(err.value)
    with pytest.raises(ValidationError, match="wrong passphrase"):
        ca.load(cert_path, key_path, password="nope")
    assert ca.load(cert_path, key_path, password="s3cret pass").cert.subject
    plain_cert, plain_key = ca.create(tmp_path / "plain")
    with pytest.raises(ValidationError, match="not encrypted"):
        ca.load(plain_cert, plain_key, password="x")


def test_load_refuses_a_key_of_another_ca_and_a_cert_that_is_not_a_ca(tmp_path):
    cert_a, key_a = ca.create(tmp_path / "a")
    cert_b, key_b = ca.create(tmp_path / "b")
    with pytest.raises(ValidationError, match="does not belong to the certificate") as err:
        ca.load(cert_a, key_b)
    assert "PRIVATE" not in str(err.value)
    client = ca.load(cert_a, key_a).sign(make_csr())
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ValidationError, match="not a CA certificate"):
        ca.load(leaf, key_a)
    with pytest.raises(ValidationError, match="not a PEM certificate"):
        ca.load(key_a, key_a)
    with pytest.raises(ValidationError, match="not a PEM private key"):
        ca.load(cert_a, cert_a)
    with pytest.raises(ValidationError, match="cannot read"):
        ca.load(tmp_path / "missing.pem", key_a)


def test_signed_client_certificate(tmp_path):
    cert_path, key_path = ca.create(tmp_path)
    authority = ca.load(cert_path, key_path)
    csr = make_csr("dev-uuid")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = authority.sign(csr, days=90, not_before=start)
    assert cert.subject == csr.subject and cert.issuer == authority.cert.subject
    assert cert.public_key() == csr.public_key()
    assert cert.not_valid_before_utc == start and cert.not_valid_after_utc == start + datetime.timedelta(days=90)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert.verify_directly_issued_by(authority.cert)
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(ca.cert_pem(authority.sign(csr, days=30)))
    verified = subprocess.run(["openssl", "verify", "-purpose", "sslclient", "-CAfile", str(cert_path), str(leaf)],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    long_lived = authority.sign(csr, days=100000)  # never outlives its CA
    assert long_lived.not_valid_after_utc == authority.cert.not_valid_after_utc


def test_sign_refuses_bad_requests(tmp_path):
    authority = ca.load(*ca.create(tmp_path))
    with pytest.raises(ValidationError, match="at least 1"):
        authority.sign(make_csr(), days=0)
    key = ec.generate_private_key(ec.SECP256R1())
    empty = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    with pytest.raises(ValidationError, match="empty subject"):
        authority.sign(empty)
    with pytest.raises(ValidationError, match="at least 1"):
        ca.create(tmp_path / "x", days=0)
