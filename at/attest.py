"""%ATTESTTOKEN: which device, of which type, runs which modem firmware.

The token's body is CBOR (self-describe tag 55799 around five items: message type,
device UUID, device type, firmware UUID, nonce); its COSE part is signed by the
device identity key, which only nRF Cloud holds, so the raw token is kept for it.
Formats: nrf91-wire.md section 3.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import cose
from .errors import ProtocolError
from .keygen import check_firmware

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from .soc import SoC

MSG_DEVICE_IDENTITY = 1
DEVICE_TYPES = {1: "nRF9160 SIAA", 2: "nRF9160 SIBA", 3: "nRF9160 SIAA", 4: "nRF9161 LACA", 5: "nRF9131 LACA",
                6: "nRF9151 LACA"}
ATTEST_TIMEOUT = 20.0


@dataclass(frozen=True)
class Attestation:
    device_uuid: str
    device_type: int
    firmware_uuid: str
    token: str  # "<body>.<cose>" as the modem sent it: what nRF Cloud takes to claim the device
    key_id: int | None  # the COSE signing key (-2 device identity key); None without a COSE part

    @property
    def device_type_name(self) -> str:
        return DEVICE_TYPES.get(self.device_type, f"unknown device type {self.device_type}")

    def as_dict(self) -> dict:
        return {"device_uuid": self.device_uuid, "device_type": self.device_type_name,
                "device_type_code": self.device_type, "firmware_uuid": self.firmware_uuid, "token": self.token}


def parse_answer(lines: list[str]) -> Attestation:
    """Decode the lines of an %ATTESTTOKEN answer."""
    body_text, cose_text = cose.split_answer(lines, "%ATTESTTOKEN")
    body = cose.loads(cose.b64url(body_text, "%ATTESTTOKEN body"), "%ATTESTTOKEN body")
    msg_type, device_uuid, device_type, firmware_uuid, nonce = cose.array(body, 5, "%ATTESTTOKEN body")
    if msg_type != MSG_DEVICE_IDENTITY:
        raise ProtocolError(f"the %ATTESTTOKEN body is message type {msg_type!r}, not a device identity message (1)")
    cose.bstr(nonce, "%ATTESTTOKEN nonce", 16)
    key_id = cose.decode_sign1(cose_text, "%ATTESTTOKEN").key_id if cose_text else None
    token = body_text + (f".{cose_text}" if cose_text else "")
    return Attestation(cose.uuid_of(device_uuid, "%ATTESTTOKEN device UUID"),
                       cose.integer(device_type, "%ATTESTTOKEN device type"),
                       cose.uuid_of(firmware_uuid, "%ATTESTTOKEN firmware UUID"), token, key_id)


def attest(soc: SoC) -> Attestation:
    """Ask the modem for its attestation token (firmware 1.3.0 or later; works in any CFUN mode)."""
    check_firmware(soc.get_firmware_version(), "%ATTESTTOKEN")
    return parse_answer(soc.command("AT%ATTESTTOKEN", timeout=ATTEST_TIMEOUT))
