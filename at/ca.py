"""Your own development CA: create one, load one safely, sign client certificates from modem CSRs.

The CA key is written 0600 from the moment the file exists (never readable by
others, not even between create and chmod), and an existing CA is never
overwritten. Loading refuses, with one line naming the fix, a key that does not
match the certificate, an encrypted key without its passphrase, and a
certificate that is not a CA. Key material never appears in a message.
"""
from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import ValidationError

CERT_NAME = "ca.pem"
KEY_NAME = "ca.key"
DEFAULT_CA_DAYS = 3650
DEFAULT_CERT_DAYS = 365
PathLike = str | os.PathLike
CAKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CA:
    cert: x509.Certificate
    key: CAKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr: x509.CertificateSigningRequest, days: int = DEFAULT_CERT_DAYS,
             not_before: datetime.datetime | None = None) -> x509.Certificate:
        return sign_csr(self, csr, days=days, not_before=not_before)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _not_after(cert: x509.Certificate) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)  # cryptography >= 42
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def create(out_dir: PathLike, *, common_name: str = "nrf91-at development CA", days: int = DEFAULT_CA_DAYS,
           passphrase: str | None = None) -> tuple[Path, Path]:
    """Make a P-256 CA in `out_dir` (created with its parents): `ca.pem` and `ca.key` (0600).

    The key is PEM PKCS#8, encrypted when `passphrase` is given. Refuses when
    either file already exists. Returns (certificate path, key path).
    """
    if days < 1:
        raise ValidationError(f"a CA valid for {days} days is useless: give at least 1")
    if passphrase is not None and not 1 <= len(passphrase.encode()) <= 1023:
        raise ValidationError("the CA key passphrase must be 1 to 1023 bytes long")
    out = Path(out_dir)
    cert_path, key_path = out / CERT_NAME, out / KEY_NAME
    for path in (cert_path, key_path):
        if os.path.lexists(path):
            raise ValidationError(f"{path} already exists: refusing to overwrite a CA; choose another directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create {out}: {exc.strerror}") from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    _write_new(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption),
               0o600)
    try:
        _write_new(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except BaseException:
        key_path.unlink()
        raise
    return cert_path, key_path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write a file that must not exist yet: a temp file born with `mode`, then a hard link (never a replace)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise ValidationError(f"{path} appeared while the CA was being made: refusing to overwrite it") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def load(cert_path: PathLike, key_path: PathLike, password: str | None = None) -> CA:
    """Load and check a CA: a CA certificate, and the private key that matches it."""
    cert = _load_cert(Path(cert_path))
    key = _load_key(Path(key_path), password)
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public) != cert.public_key().public_bytes(*public):
        raise ValidationError(f"the key in {key_path} does not belong to the certificate in {cert_path}: "
                              "give the key that was made with this CA")
    return CA(cert, key)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read the {what} {path}: {exc.strerror}") from None


def _load_cert(path: Path) -> x509.Certificate:
    data = _read(path, "CA certificate")
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ValidationError(f"{path} is not a PEM certificate") from None
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ValidationError(f"{path} is not a CA certificate (it lacks basicConstraints CA:TRUE): "
                              "give the CA's certificate, e.g. one made by 'cmng ca create'")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise ValidationError(f"{path} is a CA certificate whose key usage forbids signing certificates")
    if _not_after(cert) <= _now():
        raise ValidationError(f"the CA certificate {path} expired on {_not_after(cert):%Y-%m-%d}: make a new CA")
    return cert


def _load_key(path: Path, password: str | None) -> CAKey:
    data = _read(path, "CA key")
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password is not None else None)
    except TypeError:
        if password is None:
            raise ValidationError(f"the CA key {path} is encrypted: give its passphrase") from None
        raise ValidationError(f"the CA key {path} is not encrypted: give no passphrase") from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in data:
            raise ValidationError(f"cannot decrypt the CA key {path}: wrong passphrase") from None
        raise ValidationError(f"{path} is not a PEM private key") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValidationError(f"the CA key {path} is neither EC nor RSA: use a P-256 CA ('cmng ca create')")
    return key


def sign_csr(ca: CA, csr: x509.CertificateSigningRequest, *, days: int = DEFAULT_CERT_DAYS,
             not_before: datetime.datetime | None = None) -> x509.Certificate:
    """A client certificate for the CSR's key and subject: CA:false, clientAuth, `days` from `not_before`.

    The validity never outlasts the CA's own.
    """
    if days < 1:
        raise ValidationError(f"a certificate valid for {days} days is useless: give at least 1")
    if not csr.is_signature_valid:
        raise ValidationError("the CSR's signature does not verify: it was not made by the key it carries")
    if len(csr.subject) == 0:
        raise ValidationError("the CSR has an empty subject: nothing to name the certificate after")
    start = not_before or _now() - datetime.timedelta(minutes=5)
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.timezone.utc)
    end = min(start + datetime.timedelta(days=days), _not_after(ca.cert))
    public_key = csr.public_key()
    builder = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.cert.subject)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),  # type: ignore[arg-type]
                              critical=False))
    return builder.sign(ca.key, hashes.SHA256())


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()
