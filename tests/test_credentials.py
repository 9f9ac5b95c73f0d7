"""Validation before sending: every rule in the spec refuses with a message naming the fix."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from at import credentials
from at.errors import ValidationError


def make_cert() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


CERT, KEY = make_cert()


def test_pem_is_normalised_to_lf_one_trailing_newline_no_bom():
    messy = "\ufeff\r\n" + CERT.replace("\n", "\r\n") + "\r\n\r\n"
    assert credentials.prepare_content(0, messy) == CERT


def test_ca_bundle_with_several_certificates_is_accepted():
    assert credentials.prepare_content(0, CERT + CERT) == CERT + CERT


@pytest.mark.parametrize("kind,content,message", [
    (0, "", "empty"),
    (0, "hello", "not a PEM certificate"),
    (0, None, "must be str or bytes"),
    (1, KEY, "looks like a private key"),
    (0, CERT.replace("M", "!", 3), "does not parse"),
    (2, CERT, "not a PEM private key"),
    (3, "abc", "odd number"),
    (3, "zz", "hex digits only"),
    (3, "ab cd", "hex digits only"),
    (4, 'x",0,"y', "double quote"),
    (4, 'id";+CFUN=1', "double quote"),
    (4, "id\x08x", "backspace"),
    (4, "id\x7f", "backspace"),
    (4, "idé", "non-ASCII"),
    (4, "tab\there", "control or non-ASCII"),
    (5, "x", "cannot be written"),
    (11, "x", "cannot be written"),
    (12, "x", "unknown credential type"),
])
def test_bad_content_is_refused(kind, content, message):
    with pytest.raises(ValidationError, match=message):
        credentials.prepare_content(kind, content)


def test_binary_content_is_refused_with_a_hint():
    with pytest.raises(ValidationError, match="not text"):
        credentials.prepare_content(0, b"\x30\x82\x01\xff")


def test_identity_and_psk_lose_a_trailing_newline_from_files():
    assert credentials.prepare_content(4, b"nrf-123\n") == "nrf-123"
    assert credentials.prepare_content(3, "A1b2\r\n") == "A1b2"


def test_encrypted_key_needs_the_right_password():
    key = ec.generate_private_key(ec.SECP256R1())
    enc = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"s3cret")).decode()
    assert credentials.prepare_content(2, enc, "s3cret") == enc
    with pytest.raises(ValidationError, match="encrypted: give its password"):
        credentials.prepare_content(2, enc)
    with pytest.raises(ValidationError, match="cannot be decrypted"):
        credentials.prepare_content(2, enc, "wrong")
    with pytest.raises(ValidationError, match="not encrypted"):
        credentials.prepare_content(2, KEY, "pw")
    with pytest.raises(ValidationError, match="at most 32"):
        credentials.prepare_content(2, enc, "p" * 33)
    with pytest.raises(ValidationError, match="only used with an encrypted private key"):
        credentials.prepare_content(0, CERT, "pw")


@pytest.mark.parametrize("tag,writing,ok", [
    (0, True, True), (2147483647, True, True), (2147483648, True, False), (-1, True, False),
    (4294967294, False, True), (4294967296, False, False)])
def test_sec_tag_range(tag, writing, ok):
    if ok:
        assert credentials.check_sec_tag(tag, writing=writing) == tag
    else:
        with pytest.raises(ValidationError, match="out of range"):
            credentials.check_sec_tag(tag, writing=writing)


@pytest.mark.parametrize("kind", [1, 2, 3, 5, 6, 10])
def test_unreadable_types_are_refused(kind):
    with pytest.raises(ValidationError, match="cannot be read back"):
        credentials.check_readable(kind)
