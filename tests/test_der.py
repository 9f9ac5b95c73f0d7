"""at.der against real certificates made by `cryptography`, every way to break them, and cryptography's own verdict."""
import base64
import datetime
import random
import re
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from at import credentials, der
from at.errors import ValidationError

DAY = datetime.timedelta(days=1)
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
RSA_KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def name(common: str, *more: x509.NameAttribute) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                      "Acme Ltd"), *more, x509.NameAttribute(NameOID.COMMON_NAME, common)])


def issue(subject: str, key, signer=None, issuer: str | None = None, *, ca: bool = True, start=START, days=3650):
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer or subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + days * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("device.example")]), critical=False)
    return builder.sign(signer or key, hashes.SHA256())


def pem_of(body: bytes, label: str = "CERTIFICATE") -> str:
    text = base64.b64encode(body).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


def der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# A test's own small DER codec, to edit certificates the way a broken tool or a bad copy would.
def tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def elements(content: bytes) -> list[tuple[int, bytes]]:
    """(tag, content) of each element of a constructed element's content."""
    out, pos = [], 0
    while pos < len(content):
        tag, size, pos = content[pos], content[pos + 1], pos + 2
        if size & 0x80:
            size, pos = int.from_bytes(content[pos:pos + (size & 0x7F)], "big"), pos + (size & 0x7F)
        out.append((tag, content[pos:pos + size]))
        pos += size
    return out


def edit_tbs(cert_der: bytes, change) -> bytes:
    """The certificate with its TBSCertificate's fields replaced by change(fields) (the signature no longer fits)."""
    (_, cert), = elements(cert_der)
    (_, tbs), algorithm, signature = elements(cert)
    fields = change(elements(tbs))
    body = tlv(0x30, b"".join(tlv(tag, content) for tag, content in fields))
    return tlv(0x30, body + b"".join(tlv(tag, content) for tag, content in (algorithm, signature)))


RSA_ROOT = issue("Root A", RSA_KEY)
EC_LEAF = issue("device", EC_KEY, RSA_KEY, "Root A", ca=False)
INTERMEDIATE_KEY = ec.generate_private_key(ec.SECP384R1())
CHAIN = [issue("Root A", RSA_KEY), issue("Intermediate", INTERMEDIATE_KEY, RSA_KEY, "Root A"),
         issue("leaf", EC_KEY, INTERMEDIATE_KEY, "Intermediate", ca=False)]
LATE = issue("Late root", EC_KEY, start=datetime.datetime(2049, 6, 1, tzinfo=datetime.timezone.utc), days=3650)
V1 = edit_tbs(der_of(RSA_ROOT), lambda fields: [field for field in fields if field[0] not in (0xA0, 0xA3)])
NEGATIVE_SERIAL = edit_tbs(der_of(RSA_ROOT), lambda fields: [fields[0], (0x02, b"\xff\x01"), *fields[2:]])
GOOD = {"rsa": der_of(RSA_ROOT), "ec": der_of(EC_LEAF), "late": der_of(LATE), "v1": V1,
        "negative serial": NEGATIVE_SERIAL}


def refusal(text: str) -> str:
    with pytest.raises(ValidationError) as caught:
        der.check_pem_certificates(text, "the root CA certificate")
    return str(caught.value)


@pytest.mark.parametrize("label", list(GOOD))
def test_real_certificates_are_accepted(label):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about the negative serial, and accepts it
        x509.load_der_x509_certificate(GOOD[label])  # the yardstick agrees they are certificates
    assert der.check_pem_certificates(pem_of(GOOD[label])) == 1


def test_bundles_chains_and_text_around_blocks_are_accepted():
    assert b"\x17\x0d49" in der_of(LATE) and b"\x18\x0f2059" in der_of(LATE)  # UTCTime, then GeneralizedTime
    bundle = pem_of(der_of(RSA_ROOT)) + pem_of(der_of(issue("Root B", rsa.generate_private_key(65537, 2048))))
    assert 2200 < len(bundle) < 2600 and der.check_pem_certificates(bundle) == 2
    chain = "".join(pem_of(der_of(cert)) for cert in CHAIN)
    assert der.check_pem_certificates(chain) == 3
    dump = "Certificate:\n    Data:\n        Version: 3 (0x2)\n        Subject: CN=Root A\n"  # openssl x509 -text
    assert der.check_pem_certificates(dump + pem_of(V1) + "between blocks\n" + pem_of(der_of(EC_LEAF)) + "end\n") == 2
    assert credentials.prepare_content(0, chain) == chain


def test_every_truncation_is_refused_as_cut_off():
    body = der_of(RSA_ROOT)
    for size in range(37, len(body), 37):
        message = refusal(pem_of(body[:size]))
        assert f"(certificate 1 of 1 is cut off: {size} of {len(body)} bytes): check the file is complete" in message
    assert "no base64 text" in refusal(pem_of(b""))
    text = pem_of(der_of(EC_LEAF)) + pem_of(body[:600])
    assert refusal(text) == ("the root CA certificate does not parse as a PEM certificate (certificate 2 of 2 is cut "
                             f"off: 600 of {len(body)} bytes): check the file is complete")


def test_pem_framing_is_strict():
    good = pem_of(der_of(RSA_ROOT))
    lines = good.splitlines()
    assert "has no '-----END CERTIFICATE-----' line after its BEGIN line 1" in refusal("\n".join(lines[:-1]))
    assert "certificate 1 of 2 has no '-----END" in refusal("\n".join(lines[:-1]) + "\n" + good)
    assert "has '!' on line 3, which is not a base64 character" in refusal(good.replace(lines[2], "!" + lines[2][1:]))
    assert "has ' ' on line 2" in refusal(good.replace(lines[1], lines[1][:9] + " " + lines[1][10:]))  # mbed TLS refuses
    assert "has ' ' on line 2" in refusal(good.replace(lines[1], " " + lines[1][1:]))
    assert "has a blank line 5" in refusal(good.replace(lines[3] + "\n", lines[3] + "\n\n"))
    assert "is an END line with no BEGIN" in refusal("-----END CERTIFICATE-----\n" + good)
    assert "is not that marker alone" in refusal(good.replace(lines[0], "x" + lines[0]))
    assert "not a PEM certificate: no '-----BEGIN CERTIFICATE-----' line" in refusal("just text\n")


def test_base64_padding_must_be_exact():
    cert = next(body for body in (der_of(issue("pad", EC_KEY)) for _ in range(50)) if len(body) % 3 == 1)
    good = pem_of(cert)
    assert good.count("=") == 2 and der.check_pem_certificates(good) == 1
    assert "not a multiple of 4" in refusal(good.replace("==", ""))
    assert "not a multiple of 4" in refusal(good.replace("==", "="))
    assert "padding before the end" in refusal(good.replace("==", "===="))
    last = re.search(r"(.)==", good)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    flipped = alphabet[alphabet.index(last.group(1)) + 1]  # before '==' it is a multiple of 16: now it is not
    assert "unused bits" in refusal(good.replace(last.group(0), flipped + "=="))


def test_der_encoding_is_strict():
    body = der_of(RSA_ROOT)
    assert "bytes after the end of the certificate" in refusal(pem_of(body + b"\x00\x00"))
    longer = body[:2] + bytes([body[2], body[3] + 1]) + body[4:]  # the outer length one byte too long
    assert "is cut off" in refusal(pem_of(longer))
    tbs_longer = body[:6] + bytes([body[6], body[7] + 1]) + body[8:]  # tbsCertificate overruns its parent
    assert "has an element cut off in its header" in refusal(pem_of(tbs_longer))
    assert "indefinite length" in refusal(pem_of(b"\x30\x80" + body[4:] + b"\x00\x00"))
    assert "not minimally encoded" in refusal(pem_of(b"\x30\x83\x00" + body[2:]))
    small = tlv(0x30, tlv(0x30, b"") * 2 + tlv(0x03, b"\x00"))
    assert "not minimally encoded" in refusal(pem_of(b"\x30\x81" + small[1:]))


@pytest.mark.parametrize("change,message", [
    (lambda f: [(0xA0, tlv(0x02, b"\x00")), *f[1:]], "version field other than v3"),  # v1 written out: not DER
    (lambda f: [(0xA0, tlv(0x02, b"\x01")), *f[1:]], "version field other than v3"),  # v2: cryptography refuses
    (lambda f: [f[0], (0x02, b"\x00\x01"), *f[2:]], "INTEGER at byte .* not minimal"),
    (lambda f: [f[0], f[1], (0x03, b"\x00" + f[2][1]), *f[3:]], "signature algorithm is a BIT STRING, not a SEQUENCE"),
    (lambda f: [*f[:4], (0x30, tlv(0x17, b"251301000000Z") + tlv(0x17, b"260101000000Z")), *f[5:]], "does not exist"),
    (lambda f: [*f[:4], (0x30, tlv(0x17, b"250229000000Z") + tlv(0x17, b"260101000000Z")), *f[5:]], "does not exist"),
    (lambda f: [*f[:4], (0x30, tlv(0x18, b"20250101000000.5Z") + tlv(0x17, b"260101000000Z")), *f[5:]],
     "not a UTCTime"),
    (lambda f: [*f[:4], (0x30, tlv(0x17, b"250101000000Z")), *f[5:]], "validity with 1 dates"),
    (lambda f: [*f[:3], (0x30, tlv(0x31, tlv(0x30, tlv(0x06, b"\x55\x04\x06") + tlv(0x13, b"N*")))), *f[4:]],
     "string type forbids"),
    (lambda f: [*f[:5], (0x30, tlv(0x30, tlv(0x06, b"\x55\x04\x06") + tlv(0x13, b"NO"))), *f[6:]],
     "relative distinguished name is a SEQUENCE, not a SET"),
    (lambda f: [*f[:7], (0xA3, tlv(0x30, tlv(0x30, tlv(0x06, b"\x55\x1d\x13") + tlv(0x01, b"\x00")
                                              + tlv(0x04, tlv(0x30, b"")))))], "critical flag is not DER TRUE"),
    (lambda f: [*f[:7], (0xA3, tlv(0x30, tlv(0x30, tlv(0x06, b"\x55\x9d\x80") + tlv(0x04, b""))))],
     "malformed OBJECT IDENTIFIER"),
    (lambda f: [*f[:7], (0xA4, b""), f[7]], "other than \\[1\\] issuerUniqueID"),
    (lambda f: [*f[:7], f[7], f[7]], "other than \\[1\\] issuerUniqueID"),
])
def test_x509_shape_is_checked(change, message):
    assert re.search(message, refusal(pem_of(edit_tbs(der_of(RSA_ROOT), change))))


def test_keys_requests_and_misplaced_elements_in_a_certificate_block_are_refused():
    key = EC_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    assert "this looks like a private key: use type 2" in refusal(pem_of(key))
    rsa_key = RSA_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    assert "holds 9 elements, not 3 (this looks like a private key" in refusal(pem_of(rsa_key))
    csr = (x509.CertificateSigningRequestBuilder().subject_name(name("device")).sign(EC_KEY, hashes.SHA256())
           .public_bytes(serialization.Encoding.DER))
    assert "certificate signing request" in refusal(pem_of(csr))
    (_, cert), = elements(der_of(RSA_ROOT))
    tbs, algorithm, signature = elements(cert)
    swapped = tlv(0x30, b"".join(tlv(tag, content) for tag, content in (tbs, (0x03, b"\x00" + algorithm[1]),
                                                                        signature)))
    assert "the signatureAlgorithm is a BIT STRING, not a SEQUENCE" in refusal(pem_of(swapped))
    padded = tlv(0x30, b"".join(tlv(tag, content) for tag, content in (tbs, algorithm, (0x03, b"\x01\xff"))))
    assert "malformed BIT STRING" in refusal(pem_of(padded))


# A refusal cryptography does not share must be a real defect: bytes that are not DER at all. These come from a
# Name attribute's value whose tag byte became constructed (a SEQUENCE or a constructed string) while its content
# is still text, not elements: cryptography keeps that value as opaque bytes; mbed TLS on the modem refuses it.
NOT_DER = re.compile(r"longer than the element holding it|cut off in its header|impossible length|indefinite|"
                     r"not minimally encoded|nests elements deeper")


def verdicts(body: bytes) -> tuple[str | None, str | None]:
    try:
        der.check_der_certificate(body)
        ours = None
    except ValueError as exc:
        ours = str(exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x509.load_der_x509_certificate(body)
        theirs = None
    except Exception as exc:  # ValueError, or InvalidVersion for version 1 or 3
        theirs = str(exc)
    return ours, theirs


@pytest.mark.parametrize("label", ["rsa", "ec", "v1"])
def test_we_refuse_everything_cryptography_refuses(label):
    rng = random.Random(17)
    good, counts = GOOD[label], {"both refuse": 0, "both accept": 0, "only we refuse": 0}
    for _ in range(300):
        body = bytearray(good)
        roll = rng.random()
        if roll < 0.5:
            body[rng.randrange(len(body))] = rng.randrange(256)
        elif roll < 0.8:
            body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        else:
            del body[rng.randrange(1, len(body)):]
        ours, theirs = verdicts(bytes(body))
        assert ours is not None or theirs is None, (bytes(body).hex(), theirs)
        if ours is not None and theirs is None:
            assert NOT_DER.search(ours), ours
        counts["both refuse" if theirs else "both accept" if ours is None else "only we refuse"] += 1
    assert counts["both refuse"] > 50 and counts["both accept"] > 50  # the sample exercises both verdicts


def test_we_refuse_every_pem_cryptography_refuses():
    rng = random.Random(5)
    text = pem_of(der_of(EC_LEAF)) + pem_of(der_of(RSA_ROOT))
    for _ in range(300):
        chars = list(text)
        where = rng.randrange(len(chars))
        if rng.random() < 0.5:
            del chars[where]
        else:
            chars[where] = chr(rng.randrange(32, 127))
        variant = "".join(chars)
        try:
            x509.load_pem_x509_certificates(variant.encode())
            theirs = True
        except Exception:
            theirs = False
        try:
            der.check_pem_certificates(variant)
            ours = True
        except ValidationError:
            ours = False
        assert ours <= theirs, variant


def test_credentials_names_the_slot_and_keeps_its_other_checks():
    body = der_of(RSA_ROOT)
    with pytest.raises(ValidationError, match=r"^the client certificate does not parse as a PEM certificate "
                                              r"\(certificate 1 of 1 is cut off"):
        credentials.prepare_content(1, pem_of(body[:500]))
    key_pem = EC_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()).decode()
    with pytest.raises(ValidationError, match="holds a PRIVATE KEY block besides certificates"):
        credentials.prepare_content(0, pem_of(body) + key_pem)
