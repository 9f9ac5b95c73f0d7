"""The simulated modem's %KEYGEN, %ATTESTTOKEN and %XMODEMUUID, checked on the wire (no library in between)."""
import base64
import hashlib

import cbor2
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from at import protocol
from at.sim import keygen as simkeys
from at.sim.factory import factory_state
from at.sim.modem import Modem, ModemOptions
from at.sim.options import parse_options
from at.sim.store import FileStore, MemoryStore


def modem(name="unit", flavour="nrf91x1", **options) -> Modem:
    options.setdefault("cmee", 1)
    return Modem(name, MemoryStore(lambda: factory_state(name, flavour)), ModemOptions(flavour=flavour, **options))


def ask(m: Modem, command: str) -> list[str]:
    return m.execute(command)  # the modem itself, behind any front end


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def split(line: str, prefix: str) -> tuple[bytes, bytes]:
    assert line.startswith(prefix + ': "') and line.endswith('"')
    body, cose = line[len(prefix) + 3:-1].split(".")
    return b64(body), b64(cose)


def verify_cose(name: str, cose: bytes, detached: bytes = b"") -> object:
    """Check a COSE_Sign1 from the wire with the device's identity public key; return its decoded payload."""
    sign1 = cbor2.loads(cose)
    assert isinstance(sign1, cbor2.CBORTag) and sign1.tag == 18
    protected, unprotected, payload, signature = sign1.value
    assert cbor2.loads(protected) == {1: -7} and cbor2.loads(unprotected[4]) == -2 and len(signature) == 64
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload if payload is not None else detached])
    public = serialization.load_pem_public_key(simkeys.identity_public_key_pem(name).encode())
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), to_sign, ec.ECDSA(hashes.SHA256()))
    return None if payload is None else cbor2.loads(payload)


def test_keygen_makes_a_key_in_the_modem_and_a_csr_signed_by_it():
    m = modem()
    lines = ask(m, "AT%KEYGEN=42,2,0")
    assert lines[-1] == "OK" and len(lines) == 2
    body, cose = split(lines[0], "%KEYGEN")
    csr = x509.load_der_x509_csr(body)
    assert csr.is_signature_valid
    uuid_text = str(simkeys.device_uuid("unit"))
    assert csr.subject.rfc4514_string() == f"CN={uuid_text}"  # the modem's default subject: its UUID
    usage = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement and not usage.key_cert_sign
    payload = verify_cose("unit", cose)
    assert payload[0] == 9 and payload[1] == simkeys.device_uuid("unit").bytes
    assert cbor2.loads(payload[2]) == 42 and payload[3] == hashlib.sha256(body).digest() and len(payload[4]) == 16
    # the private key is held by the modem: listed, never readable
    listed = ask(m, "AT%CMNG=1,42")
    assert listed[0].startswith('%CMNG: 42,2,"') and listed[-1] == "OK"
    assert ask(m, "AT%CMNG=2,42,2") == ["+CME ERROR: 514"]
    key = serialization.load_pem_private_key(m.store.credentials()[(42, 2)].encode(), None)
    assert key.public_key().public_numbers() == csr.public_key().public_numbers()


def test_keygen_attributes_key_usage_public_key_format_and_negative_tags():
    m = modem()
    body, _ = split(ask(m, 'AT%KEYGEN=7,2,0,"O=Acme,L=Oslo,C=no,CN=kit-7","100010000"')[0], "%KEYGEN")
    csr = x509.load_der_x509_csr(body)
    assert csr.subject.rfc4514_string() == "CN=kit-7,C=no,L=Oslo,O=Acme"
    usage = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement and not usage.content_commitment
    body, cose = split(ask(m, "AT%KEYGEN=8,2,1")[0], "%KEYGEN")
    serialization.load_der_public_key(body)
    assert verify_cose("unit", cose)[0] == 8
    _, cose = split(ask(m, "AT%KEYGEN=2147483650,2,0")[0], "%KEYGEN")
    assert cbor2.loads(verify_cose("unit", cose)[2]) == 2147483650 - 2**32  # an int32 on the wire
    assert ask(m, "AT%KEYGEN=9,8,0")[-1] == "OK" and (9, 8) in m.store.credentials()


@pytest.mark.parametrize("command, answer", [
    ("AT%KEYGEN=1,3,0", "+CME ERROR: 50"),
    ("AT%KEYGEN=1,2,2", "+CME ERROR: 50"),
    ('AT%KEYGEN=1,2,0,"CN=x","000000001"', "+CME ERROR: 50"),  # decipherOnly
    ('AT%KEYGEN=1,2,0,"CN=x",111010000', "+CME ERROR: 50"),  # usage must be a string
    ('AT%KEYGEN=1,2,1,"CN=x"', "+CME ERROR: 50"),
    ('AT%KEYGEN=1,2,0,"NOPE=x"', "+CME ERROR: 523"),
    ('AT%KEYGEN=1,2,0,"C=Norway"', "+CME ERROR: 523"),
    ("AT%KEYGEN=4294967293,2,0", "+CME ERROR: 519"),
    ("AT%KEYGEN=1", "ERROR"),
    ("AT%KEYGEN?", "ERROR"),
])
def test_keygen_refuses_bad_parameters(command, answer):
    m = modem()
    assert ask(m, command) == [answer]
    assert (1, 2) not in m.store.credentials()


def test_keygen_needs_the_modem_offline_and_can_fail():
    m = modem()
    for mode in (1, 2, 21):
        ask(m, f"AT+CFUN={mode}")
        assert ask(m, "AT%KEYGEN=5,2,0") == ["+CME ERROR: 518"]
    for mode in (0, 4, 44):
        ask(m, f"AT+CFUN={mode}")
        assert ask(m, "AT%KEYGEN=5,2,0")[-1] == "OK"
    assert ask(modem(keygen_fail=True), "AT%KEYGEN=5,2,0") == ["+CME ERROR: 523"]
    assert ask(modem(keygen_fail=True, cmee=0), "AT%KEYGEN=5,2,0") == ["ERROR"]


def test_old_firmware_has_no_keygen_nor_attesttoken_and_prints_zero_hashes():
    m = modem(flavour="nrf9160", mfw="mfw_nrf9160_1.2.3")
    assert ask(m, "AT+CGMR") == ["mfw_nrf9160_1.2.3", "OK"]
    assert ask(m, "AT%KEYGEN=5,2,0") == ["ERROR"]  # unknown command: plain ERROR even with CMEE=1
    assert ask(m, "AT%ATTESTTOKEN") == ["ERROR"]
    assert ask(m, "AT%XMODEMUUID")[-1] == "OK"
    assert protocol.ZERO_SHA in ask(m, "AT%CMNG=1,16842753,0")[0]
    assert protocol.ZERO_SHA in ask(modem(mfw="mfw_nrf91x1_1.3.1", flavour="nrf91x1"), "AT%CMNG=1,16842753,0")[0]
    assert ask(modem(flavour="nrf9160", mfw="mfw_nrf9160_1.3.0"), "AT%KEYGEN=5,2,0")[-1] == "OK"
    with pytest.raises(ValueError):
        modem(flavour="nrf91x1", mfw="mfw_nrf9160_1.3.5")


def test_legacy_csr_has_the_null_parameter_and_a_valid_signature():
    body, cose = split(ask(modem(legacy_csr=True), "AT%KEYGEN=3,2,0")[0], "%KEYGEN")
    assert bytes.fromhex("300c06082a8648ce3d0403020500") in body
    with pytest.raises(ValueError):
        x509.load_der_x509_csr(body)  # strict parsers refuse it
    assert verify_cose("unit", cose)[3] == hashlib.sha256(body).digest()  # the digest is over what was sent


def test_bad_digest_fault_signs_another_digest():
    body, cose = split(ask(modem(bad_digest=True), "AT%KEYGEN=3,2,0")[0], "%KEYGEN")
    assert verify_cose("unit", cose)[3] != hashlib.sha256(body).digest()


def test_attesttoken_names_device_type_and_firmware():
    m = modem()
    ask(m, "AT+CFUN=1")  # works in any mode
    lines = ask(m, "AT%ATTESTTOKEN")
    assert lines[-1] == "OK"
    body, cose = split(lines[0], "%ATTESTTOKEN")
    assert body[:3] == bytes.fromhex("d9d9f7")  # self-describe tag 55799
    token = cbor2.loads(body)
    assert len(token) == 5 and token[0] == 1 and token[2] == 6 and len(token[4]) == 16
    assert token[1] == simkeys.device_uuid("unit").bytes
    fw = ask(m, "AT%XMODEMUUID")[0].split(": ")[1]
    assert token[3].hex() == fw.replace("-", "")
    assert verify_cose("unit", cose, detached=body) is None  # nil payload: the signature covers the body
    with pytest.raises(InvalidSignature):
        verify_cose("other", cose, detached=body)
    assert cbor2.loads(split(ask(modem(flavour="nrf9160"), "AT%ATTESTTOKEN")[0], "%ATTESTTOKEN")[0])[2] == 3


def test_identities_are_stable_per_name_and_firmware_uuid_per_firmware():
    assert simkeys.device_uuid("a") == simkeys.device_uuid("a") != simkeys.device_uuid("b")
    assert str(simkeys.device_uuid("a"))[14] == "4"
    assert ask(modem("a"), "AT%XMODEMUUID") == ask(modem("b"), "AT%XMODEMUUID")
    assert ask(modem("a"), "AT%XMODEMUUID") != ask(modem("a", mfw="mfw_nrf91x1_2.0.1"), "AT%XMODEMUUID")


def test_keys_persist_in_the_file_store_and_the_accessor_reads_them(tmp_path):
    def factory():
        return factory_state("dev", "nrf91x1")

    first = Modem("dev", FileStore(tmp_path, "dev", factory), ModemOptions(cmee=1))
    body, _ = split(ask(first, "AT%KEYGEN=11,2,0")[0], "%KEYGEN")
    again = Modem("dev", FileStore(tmp_path, "dev", factory), ModemOptions(cmee=1))
    assert ask(again, "AT%CMNG=1,11,2")[0].startswith('%CMNG: 11,2,"')
    key = serialization.load_pem_private_key(simkeys.private_key_pem("dev", 11, str(tmp_path)).encode(), None)
    assert key.public_key().public_numbers() == x509.load_der_x509_csr(body).public_key().public_numbers()
    with pytest.raises(LookupError):
        simkeys.private_key_pem("dev", 12, str(tmp_path))
    with pytest.raises(LookupError):
        simkeys.private_key_pem("nobody", 11, str(tmp_path))
    assert not (tmp_path / "nobody.json").exists()


def test_options_from_the_url_query():
    options = parse_options({"mfw": "mfw_nrf9160_1.2.3", "legacy_csr": "1", "crlf527": "1", "keygen_fail": "0"})
    assert options.modem.flavour == "nrf9160" and options.modem.legacy_csr and options.modem.crlf527
    with pytest.raises(ValueError, match="mfw"):
        parse_options({"mfw": "1.2.3"})
    with pytest.raises(ValueError, match="disagree"):
        parse_options({"mfw": "mfw_nrf9160_1.3.5", "fw": "nrf91x1"})
