"""PSK provisioning: one random PSK per kit, its identity derived from the IMEI.

Order matters: identity and PSK are written to the modem and verified by SHA-256
before the psk_file is touched, so the file never holds a key the device lacks.
"""
from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

from .credentials import CRED_TYPE_PSK, CRED_TYPE_PSK_IDENTITY, check_sec_tag
from .errors import ValidationError
from .files import PathLike
from .pskfile import check_identity, update_psk_file
from .soc import SoC

DEFAULT_SEC_TAG = 1234
DEFAULT_PSK_FILE = "psk_file.txt"
DEFAULT_IDENTITY_PREFIX = "nrf-"
DEFAULT_PSK_BYTES = 16


@dataclass
class Provisioned:
    """The outcome for one kit. `psk` is only for callers that asked to see it."""

    port: str
    sec_tag: int
    imei: Optional[str] = None
    identity: Optional[str] = None
    psk: Optional[str] = None
    error: Optional[BaseException] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:  # never show the PSK by accident
        state = "ok" if self.ok else f"failed: {self.error}"
        return f"Provisioned(port={self.port!r}, identity={self.identity!r}, {state})"


def check_options(sec_tag: int, identity_prefix: str, psk_bytes: int) -> None:
    check_sec_tag(sec_tag, writing=True)
    if identity_prefix:
        check_identity(identity_prefix)
    if not 1 <= psk_bytes <= 64:
        raise ValidationError(f"a PSK of {psk_bytes} bytes is not possible: use 1 to 64 (16 is usual)")


def provision_psk(soc: SoC, *, sec_tag: int = DEFAULT_SEC_TAG, psk_file: PathLike = DEFAULT_PSK_FILE,
                  identity_prefix: str = DEFAULT_IDENTITY_PREFIX, psk_bytes: int = DEFAULT_PSK_BYTES,
                  on_offline: Optional[Callable[[int], None]] = None) -> Provisioned:
    """Give the kit on `soc` a new PSK and identity `<prefix><IMEI>` and record them in `psk_file`.

    The modem is taken offline for the writes if it is active, and put back after.
    """
    check_options(sec_tag, identity_prefix, psk_bytes)
    result = Provisioned(port=soc.port, sec_tag=sec_tag)
    result.imei = soc.get_imei()
    result.identity = check_identity(identity_prefix + result.imei)
    psk = secrets.token_hex(psk_bytes)
    with soc.offline() as before:
        if on_offline and before not in (0, 4, 44):
            on_offline(before)
        soc.write_credential(sec_tag, CRED_TYPE_PSK_IDENTITY, result.identity)
        soc.write_credential(sec_tag, CRED_TYPE_PSK, psk)
    update_psk_file(psk_file, result.identity, psk)
    result.psk = psk
    return result


def provision_ports(ports: list[str], *, open_soc: Callable[[str], SoC], **options: object) -> list[Provisioned]:
    """Provision several kits in parallel; each gets its own result, one failure stops none of the others."""

    def one(port: str) -> Provisioned:
        try:
            with open_soc(port) as soc:
                return provision_psk(soc, **options)  # type: ignore[arg-type]
        except Exception as exc:  # reported per kit, never raised past the others
            return Provisioned(port=port, sec_tag=int(options.get("sec_tag", DEFAULT_SEC_TAG)), error=exc)

    if len(ports) == 1:
        return [one(ports[0])]
    with ThreadPoolExecutor(max_workers=min(len(ports), 16)) as pool:
        return list(pool.map(one, ports))
