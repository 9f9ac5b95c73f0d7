"""`SoC.attest`: device UUID, named device type and firmware UUID from %ATTESTTOKEN."""
import base64

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

import at
from at import attest, cose
from at.sim import keygen as simkeys


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("fw, code, named", [("nrf91x1", 6, "nRF9151 LACA"), ("nrf9160", 3, "nRF9160 SIAA")])
def test_attest_over_sim(name, fw, code, named):
    with at.SoC(f"sim://{name}?state=memory&fw={fw}") as soc:
        soc.set_functional_mode(1)
        result = soc.attest()
        firmware = soc.command("AT%XMODEMUUID")[0].split(": ")[1]
        assert soc.get_functional_mode() == 1  # no need to go offline
    assert result.device_uuid == str(simkeys.device_uuid(name))
    assert result.device_type == code and result.device_type_name == named
    assert result.firmware_uuid == firmware and result.key_id == -2
    body, signed = result.token.split(".")
    sign1 = cose.decode_sign1(signed, "test")
    identity = serialization.load_pem_public_key(simkeys.identity_public_key_pem(name).encode())
    assert sign1.payload is None and sign1.verify(identity, detached=base64.urlsafe_b64decode(body + "=="))
    assert result.as_dict()["device_type"] == named


def test_every_device_type_has_a_name():
    assert [attest.DEVICE_TYPES[code] for code in range(1, 7)] == [
        "nRF9160 SIAA", "nRF9160 SIBA", "nRF9160 SIAA", "nRF9161 LACA", "nRF9131 LACA", "nRF9151 LACA"]


def _token(items, tagged=True, cose_part="") -> list[str]:
    value = cbor2.CBORTag(55799, items) if tagged else items
    return [f'%ATTESTTOKEN: "{b64(cbor2.dumps(value))}{cose_part}"']


def test_tagged_or_untagged_lists_and_tuples_and_unknown_types():
    items = [1, b"\x11" * 16, 99, b"\x22" * 16, b"\x33" * 16]
    for tagged in (True, False):
        result = attest.parse_answer(_token(items, tagged))
        assert result.device_uuid == "11111111-1111-1111-1111-111111111111" and result.key_id is None
        assert result.device_type_name == "unknown device type 99"
    assert attest.parse_answer(_token(tuple(items))).firmware_uuid.startswith("22222222")


@pytest.mark.parametrize("items, match", [
    ([2, b"\x11" * 16, 1, b"\x22" * 16, b"\x33" * 16], "message type"),
    ([1, b"\x11" * 16, 1, b"\x22" * 16], "5 items"),
    ([1, b"\x11" * 15, 1, b"\x22" * 16, b"\x33" * 16], "16 bytes"),
    ([1, b"\x11" * 16, "x", b"\x22" * 16, b"\x33" * 16], "integer"),
])
def test_bad_tokens_are_refused(items, match):
    with pytest.raises(at.ProtocolError, match=match):
        attest.parse_answer(_token(items))


def test_bad_cose_part_is_refused():
    with pytest.raises(at.ProtocolError):
        attest.parse_answer(_token([1, b"\x11" * 16, 1, b"\x22" * 16, b"\x33" * 16], cose_part=".AAAA"))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=120).map(b64)))
def test_whatever_the_modem_sends_only_at_errors_come_out(text):
    try:
        attest.parse_answer([f'%ATTESTTOKEN: "{text}"'])
    except at.ATError:
        pass
