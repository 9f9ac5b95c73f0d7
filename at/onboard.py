"""Onboard kits with your own CA: a key born in each modem, a certificate signed by you.

Per kit: %KEYGEN at the sec_tag (the private key stays in the modem), check the
CSR and its COSE digest, sign a client certificate with the CA, write the CA as
type 0 and the certificate as type 1, verify both by SHA-256, and restore CFUN.
The host never writes a private key (no type 2 from here). Several kits run in
parallel, each with its own result; one kit's failure does not stop the others.
"""
from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass, field

from . import ca as ca_module
from . import credentials
from .ca import CA
from .errors import ATError, ATTimeoutError, PortError, ProtocolError, ValidationError, VerificationError
from .soc import SoC

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see at/__init__.py)
if TYPE_CHECKING:
    from typing import Any

CN_CHOICES = ("uuid", "imei")


@dataclass
class OnboardResult:
    port: str
    sec_tag: int
    ok: bool = False
    device_uuid: str | None = None
    common_name: str | None = None
    certificate_pem: str | None = None
    csr_pem: str | None = field(default=None, repr=False)  # the CSR the modem made, as signed
    ca_sha256: str | None = None  # as the modem lists it (None: firmware prints no hashes)
    cert_sha256: str | None = None
    key_made: bool | None = False  # %KEYGEN replaced the key at type 2 (None: unknown, no answer came)
    written: list = field(default_factory=list)  # credential types written and verified so far: the state after a failure
    error: str | None = None
    exception: ATError | None = field(default=None, repr=False)

    @property
    def verified(self) -> bool:
        """Both writes compared by SHA-256 (firmware before 1.3.2 lists no hashes: written, not compared)."""
        return self.ca_sha256 is not None and self.cert_sha256 is not None

    def as_dict(self) -> dict:
        return {"port": self.port, "ok": self.ok, "verified": self.verified, "sec_tag": self.sec_tag,
                "device_uuid": self.device_uuid,
                "common_name": self.common_name, "ca_sha256": self.ca_sha256, "cert_sha256": self.cert_sha256,
                "certificate": self.certificate_pem, "key_made": self.key_made, "written": self.written,
                "error": self.error}


def check_cn(cn: str) -> str:
    if cn not in CN_CHOICES:
        raise ValidationError(f"common name source {cn!r}: use one of {', '.join(CN_CHOICES)}")
    return cn


def onboard(soc: SoC, sec_tag: int, ca: CA, *, days: int = ca_module.DEFAULT_CERT_DAYS, cn: str = "uuid",
            result: OnboardResult | None = None) -> OnboardResult:
    """Onboard the kit behind `soc`; raises an `ATError` at the first failure (CFUN is restored).

    Pass `result` to keep what was done before a failure (`written` lists the types written).
    """
    credentials.check_sec_tag(sec_tag, writing=True)
    check_cn(cn)
    if days < 1:
        raise ValidationError(f"a certificate valid for {days} days is useless: give at least 1")
    result = result or OnboardResult(soc.port, sec_tag)
    subject = f"CN={soc.get_imei()}" if cn == "imei" else None  # without one the modem names it by its UUID
    with soc.offline():
        try:
            made = soc.keygen(sec_tag, subject=subject)
        except (ProtocolError, VerificationError):
            result.key_made = True  # the modem answered OK, so its new key is at type 2; the answer was refused
            raise
        except (ATTimeoutError, PortError):
            result.key_made = None
            raise
        result.key_made = True
        result.device_uuid, result.common_name, result.csr_pem = made.device_uuid, made.common_name, made.csr_pem
        if not soc.list_credentials(sec_tag, credentials.CRED_TYPE_CLIENT_PRIVATE_KEY):
            raise VerificationError(f"%KEYGEN answered, but sec_tag {sec_tag} lists no private key (type 2)")
        cert = ca_module.cert_pem(ca.sign(made.csr, days=days))
        result.ca_sha256 = soc.write_credential(sec_tag, credentials.CRED_TYPE_ROOT_CA, ca.cert_pem).sha256
        result.written.append(int(credentials.CRED_TYPE_ROOT_CA))
        result.cert_sha256 = soc.write_credential(sec_tag, credentials.CRED_TYPE_CLIENT_CERT, cert).sha256
        result.written.append(int(credentials.CRED_TYPE_CLIENT_CERT))
    result.certificate_pem = cert
    result.ok = True
    return result


def onboard_ports(ports: list[str], sec_tag: int, ca: CA, *, days: int = ca_module.DEFAULT_CERT_DAYS,
                  cn: str = "uuid", open_soc: Callable[[str], Any] = SoC) -> list[OnboardResult]:
    """Onboard several kits at once (a thread each: no cap, kits are independent); one result per port,
    in the order given, never raising for a kit."""
    credentials.check_sec_tag(sec_tag, writing=True)
    check_cn(cn)

    def one(port: str) -> OnboardResult:
        result = OnboardResult(port, sec_tag)
        try:
            with open_soc(port) as soc:
                return onboard(soc, sec_tag, ca, days=days, cn=cn, result=result)
        except ATError as exc:
            result.error, result.exception = str(exc), exc
            return result

    if not ports:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(ports)) as pool:
        return list(pool.map(one, ports))
