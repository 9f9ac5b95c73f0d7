"""`SoC.keygen`: a key born in the (simulated) modem, its CSR checked, over sim:// and a real pty."""
import base64
import hashlib

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

import at
from at import keygen
from at.errors import ModemFirmwareError
from at.sim import device
from at.sim import keygen as simkeys


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_keygen_returns_a_checked_csr_and_restores_cfun(mem_url, name):
    with at.SoC(mem_url) as soc:
        soc.set_functional_mode(1)
        result = soc.keygen(42)
        assert soc.get_functional_mode() == 1
        assert [(c.sec_tag, c.cred_type) for c in soc.list_credentials(42)] == [(42, 2)]
    assert result.digest_ok and not result.repaired and result.sec_tag == 42
    assert result.device_uuid == str(simkeys.device_uuid(name)) == result.common_name
    assert result.key_id == -2 and result.key_name == "device identity key"
    assert result.csr.is_signature_valid
    assert x509.load_pem_x509_csr(result.csr_pem.encode()).public_key() == result.csr.public_key()
    key = serialization.load_pem_private_key(simkeys.private_key_pem(name, 42, "memory").encode(), None)
    assert key.public_key() == result.csr.public_key()  # the key in the modem is the CSR's
    commands = device.devices[name].commands
    assert commands.index("AT+CGMR") < commands.index("AT%KEYGEN=42,2,0")
    assert commands[commands.index("AT%KEYGEN=42,2,0") - 1] == "AT+CFUN=4"
    assert result.as_dict()["csr"] == result.csr_pem and "PRIVATE" not in str(result.as_dict())


def test_keygen_with_subject_and_key_usage(mem_url):
    with at.SoC(mem_url) as soc:
        result = soc.keygen(7, subject="O=Acme,CN=kit-7", key_usage="100010000")
    assert result.common_name == "kit-7" and result.subject == "O=Acme,CN=kit-7"
    usage = result.csr.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement and not usage.key_encipherment


@pytest.mark.parametrize("kwargs, match", [
    ({"subject": 'CN="x"'}, "quotes"), ({"subject": "CN"}, "KEY=VALUE"), ({"subject": "XX=1"}, "KEY=VALUE"),
    ({"key_usage": "1"}, "nine"), ({"key_usage": "111010001"}, "decipherOnly"),
])
def test_bad_subject_or_key_usage_is_refused_before_sending(mem_url, name, kwargs, match):
    with at.SoC(mem_url) as soc:
        with pytest.raises(at.ValidationError, match=match):
            soc.keygen(7, **kwargs)
    assert not any(c.startswith("AT%KEYGEN") for c in device.devices[name].commands)


def test_old_firmware_is_refused_before_keygen_is_sent(name):
    with at.SoC(f"sim://{name}?state=memory&mfw=mfw_nrf9160_1.2.3") as soc:
        soc.set_functional_mode(1)
        with pytest.raises(ModemFirmwareError, match=r"mfw_nrf9160_1\.2\.3.*1\.3\.0 or later"):
            soc.keygen(5)
        with pytest.raises(ModemFirmwareError, match="%ATTESTTOKEN"):
            soc.attest()
        assert soc.get_functional_mode() == 1
    commands = device.devices[name].commands
    assert not any(c.startswith(("AT%KEYGEN", "AT%ATTESTTOKEN", "AT+CFUN=4")) for c in commands)


def test_modem_error_is_explained_and_cfun_restored(name):
    with at.SoC(f"sim://{name}?state=memory&keygen_fail=1") as soc:
        soc.set_functional_mode(1)
        with pytest.raises(at.CMEError) as err:
            soc.keygen(5)
        assert err.value.code == 523 and "key generation failed" in str(err.value)
        assert soc.get_functional_mode() == 1


def test_digest_mismatch_is_an_error(name):
    with at.SoC(f"sim://{name}?state=memory&bad_digest=1") as soc:
        with pytest.raises(at.VerificationError, match="altered on the way"):
            soc.keygen(5)


def test_legacy_null_parameter_csr_is_repaired_and_still_verifies(name):
    with at.SoC(f"sim://{name}?state=memory&legacy_csr=1") as soc:
        result = soc.keygen(5)
    assert result.repaired and result.csr.is_signature_valid
    original = base64.urlsafe_b64decode(result.answer.split(".")[0] + "==")
    assert hashlib.sha256(original).digest() != hashlib.sha256(result.csr.public_bytes(serialization.Encoding.DER)).digest()
    assert keygen.repair_csr(result.csr.public_bytes(serialization.Encoding.DER)) == (
        result.csr.public_bytes(serialization.Encoding.DER), False)  # a clean CSR is left alone


def test_keygen_over_a_real_pty(pty_sim, name):
    sim = pty_sim()
    with at.SoC(sim.path) as soc:
        result = soc.keygen(1234, subject="CN=pty-kit")
        attestation = soc.attest()
    assert result.common_name == "pty-kit" and result.device_uuid == attestation.device_uuid
    assert serialization.load_pem_private_key(simkeys.private_key_pem(name, 1234).encode(), None).public_key() \
        == result.csr.public_key()  # persisted in the pty server's file store


def _answer(name: str, **changes) -> list[str]:
    """A %KEYGEN answer from the simulator, with parts replaced to make bad ones."""
    from at.sim.factory import factory_state
    from at.sim.modem import Modem, ModemOptions
    from at.sim.store import MemoryStore

    m = Modem(name, MemoryStore(lambda: factory_state(name, "nrf91x1")), ModemOptions())
    line = m.execute("AT%KEYGEN=5,2,0")[0]
    body, cose = line.split('"')[1].split(".")
    sign1 = cbor2.loads(base64.urlsafe_b64decode(cose + "=="))
    protected, unprotected, payload, signature = sign1.value
    fields = list(cbor2.loads(payload).value) if isinstance(cbor2.loads(payload), cbor2.CBORTag) else list(
        cbor2.loads(payload))
    for index, value in changes.get("fields", {}).items():
        fields[index] = value
    payload = changes.get("payload", cbor2.dumps(fields))
    protected = changes.get("protected", protected)
    outer = changes.get("outer", cbor2.CBORTag(18, [protected, unprotected, payload, signature]))
    return [f'%KEYGEN: "{changes.get("body", body)}.{b64(cbor2.dumps(outer))}"']


@pytest.mark.parametrize("changes, error, match", [
    ({"fields": {2: cbor2.dumps(6)}}, at.ProtocolError, "sec_tag 6, not 5"),
    ({"fields": {0: 8}}, at.ProtocolError, "not a CSR"),
    ({"fields": {3: b"\0" * 32}}, at.VerificationError, "altered"),
    ({"fields": {1: b"short"}}, at.ProtocolError, "16 bytes"),
    ({"protected": cbor2.dumps({1: -35})}, at.ProtocolError, "ES256"),
    ({"payload": None}, at.ProtocolError, "no payload"),
    ({"outer": [1, 2, 3]}, at.ProtocolError, "array of 4"),
    ({"body": "@@@"}, at.ProtocolError, "base64url"),
])
def test_bad_answers_are_refused_with_a_reason(changes, error, match):
    with pytest.raises(error, match=match):
        keygen.parse_answer(_answer("bad", **changes), 5)


def test_untagged_lists_and_tuples_are_both_accepted():
    body, cose = _answer("plain")[0].split('"')[1].split(".")
    sign1 = cbor2.loads(base64.urlsafe_b64decode(cose + "=="))  # cbor2 gives a tagged tuple
    protected, unprotected, payload, signature = sign1.value
    plain_payload = cbor2.dumps(list(cbor2.loads(payload)))  # without the 55799 tag
    untagged = b64(cbor2.dumps([protected, dict(unprotected), plain_payload, signature]))  # no tag 18, a list
    result = keygen.parse_answer([f'%KEYGEN: "{body}.{untagged}"'], 5)
    assert result.digest_ok and result.key_id == -2


def test_a_bare_integer_sec_tag_is_taken_as_well():
    assert keygen.parse_answer(_answer("bare", fields={2: 5}), 5).sec_tag == 5
    with pytest.raises(at.ProtocolError, match="not an integer"):
        keygen.parse_answer(_answer("bare", fields={2: "5"}), 5)


def test_answer_without_cose_is_refused():
    good = _answer("nocose")[0]
    with pytest.raises(at.ProtocolError, match="no COSE"):
        keygen.parse_answer([good.split(".")[0] + '"'], 5)
    with pytest.raises(at.ProtocolError, match="without a %KEYGEN line"):
        keygen.parse_answer(["OK-ish"], 5)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_whatever_the_modem_sends_only_at_errors_come_out(text):
    try:
        keygen.parse_answer([f"%KEYGEN: {text}"], 5)
    except at.ATError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_random_base64url_parts_only_raise_at_errors(body, cose):
    try:
        keygen.parse_answer([f'%KEYGEN: "{b64(body) or "A"}.{b64(cose)}"'], 5)
    except at.ATError:
        pass


def test_firmware_versions():
    assert keygen.firmware_version("mfw_nrf9160_1.3.5") == (1, 3, 5)
    assert keygen.firmware_version("mfw_nrf9160_1.3.0-FOTA-TEST") == (1, 3, 0)
    assert keygen.firmware_version("mfw_nrf91x1_2.0.2") == (2, 0, 2)
    assert keygen.firmware_version("something else") is None
    keygen.check_firmware("weird")  # unknown formats are let through to the modem
    with pytest.raises(ModemFirmwareError):
        keygen.check_firmware("mfw_nrf9160_1.2.7")


_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.binary(max_size=40) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.integers(-8, 8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_cbor_values, _cbor_values, _cbor_values, st.booleans())
def test_odd_cbor_inside_the_cose_part_only_raises_at_errors(unprotected, payload, signature, tagged):
    body = _answer("odd")[0].split('"')[1].split(".")[0]
    inner = [cbor2.dumps({1: -7}), unprotected, cbor2.dumps(payload) if tagged else payload, signature]
    value = cbor2.CBORTag(18, inner) if tagged else inner
    try:
        keygen.parse_answer([f'%KEYGEN: "{body}.{b64(cbor2.dumps(value))}"'], 5)
    except at.ATError:
        pass
