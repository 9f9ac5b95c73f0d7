"""The credentials a simulated kit leaves the factory with.

Like a Nordic DK: an nRF Cloud set at sec_tag 16842753 (a CA, a client certificate
for `nrf-<IMEI>` and its key), and on nRF91x1 firmware the modem-owned entries at
4294967292..4294967294. The certificates are made here with `cryptography`, so no
third-party key material ships with the project: the CA once per process (a fleet of
simulated kits is made at once), each kit's own key and client certificate, for its
IMEI, when the kit is first made.
"""
from __future__ import annotations

import datetime
import hashlib
import threading

from .modem import FLAVOURS, imei_for

NRF_CLOUD_SEC_TAG = 16842753
MODEM_OWNED = ((4294967292, 11), (4294967293, 10), (4294967294, 6))


NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
LATER = NOW + datetime.timedelta(days=3650)


def _make_ca() -> tuple:
    """(CA key, CA name, CA PEM): a new root CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nrf91-at simulator"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "nrf91-at Simulated Cloud Root CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(NOW).not_valid_after(LATER)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    return ca_key, ca_name, ca.public_bytes(serialization.Encoding.PEM).decode()


# The factory CA every kit made by this process shares (as real kits share nRF Cloud's root CA).
# Made under a lock: a fleet's kits open at once, and functools.cache would let each of them
# miss the cache together and make its own CA (64 kits: 64 CAs, ~1 ms of CPU each).
_ca: list[tuple] = []
_ca_lock = threading.Lock()


def _factory_ca() -> tuple:
    with _ca_lock:
        if not _ca:
            _ca.append(_make_ca())
        return _ca[0]


def _pem_certificates(name: str, ca: tuple | None = None) -> tuple[str, str, str]:
    """(CA, client certificate for `nrf-<IMEI>` signed by it, its key), as PEM; a new CA unless `ca` is given."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_key, ca_name, ca_pem = ca or _make_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"nrf-{imei_for(name)}")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW).not_valid_after(LATER)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return ca_pem, cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def factory_state(name: str, flavour: str) -> dict:
    """The state of a new simulated device called `name`."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown firmware flavour {flavour!r}")
    ca, cert, key = _pem_certificates(name, _factory_ca())
    creds = {(NRF_CLOUD_SEC_TAG, 0): ca, (NRF_CLOUD_SEC_TAG, 1): cert, (NRF_CLOUD_SEC_TAG, 2): key}
    if flavour == "nrf91x1":
        for tag, kind in MODEM_OWNED:
            creds[(tag, kind)] = hashlib.sha256(f"{name}/{tag}/{kind}".encode()).hexdigest()
    return {"cfun": 0, "credentials": creds}
