"""Mutual TLS, proven against a real Mosquitto: kits onboarded with our CA connect and publish with the
key that never left the (simulated) modem; another CA's certificate, the right certificate with
another key, and no certificate are all refused.

The broker runs on a free loopback port with `require_certificate true` and our CA. The kit's
private key comes from the simulator's test-only accessor (a real kit would use it inside the modem).
"""
from __future__ import annotations

import datetime
import getpass
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from at import ca, onboard
from at.sim import keygen as simkeys

from .conftest import stop_process

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def require_mosquitto() -> None:
    if not (os.path.exists(MOSQUITTO) and shutil.which("mosquitto_pub")):
        if os.environ.get("CI"):
            pytest.fail("mosquitto and mosquitto-clients must be installed in CI (.ci/run installs them)")
        pytest.skip("mosquitto not installed: apt-get install mosquitto mosquitto-clients")


@pytest.fixture(autouse=True)
def mosquitto_installed():
    require_mosquitto()


def write_private(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def server_credentials(authority: ca.CA, directory: Path) -> tuple[Path, Path]:
    """A broker certificate for 127.0.0.1, signed by the same CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "broker")]))
            .issuer_name(authority.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(authority.key, hashes.SHA256()))
    cert_path = directory / "broker.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, write_private(directory / "broker.key", key_pem(key))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """Mosquitto requiring client certificates from `ca_path`; the client's CN becomes its username."""

    def __init__(self, directory: Path, ca_path: Path, authority: ca.CA) -> None:
        cert, key = server_credentials(authority, directory)
        self.port = free_port()
        self.ca_path = ca_path
        self.log = directory / "mosquitto.log"
        conf = directory / "mosquitto.conf"
        conf.write_text(f"user {getpass.getuser()}\npersistence false\nlog_dest file {self.log}\nlog_type all\n"
                        f"listener {self.port} 127.0.0.1\ncafile {ca_path}\ncertfile {cert}\nkeyfile {key}\n"
                        "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mosquitto did not start: {self.proc.stdout.read().decode(errors='replace')}")
                time.sleep(0.05)

    def client(self, tool: str, client_id: str, cert: Path | None, key: Path | None, *args: str,
               timeout: float = 30) -> subprocess.CompletedProcess:
        tls = ["--cafile", str(self.ca_path)] + (["--cert", str(cert), "--key", str(key)] if cert else [])
        return subprocess.run([tool, "-h", "127.0.0.1", "-p", str(self.port), "-i", client_id, *tls, *args],
                              capture_output=True, text=True, timeout=timeout)

    def publish(self, client_id: str, cert: Path | None, key: Path | None, message: str) -> subprocess.CompletedProcess:
        return self.client("mosquitto_pub", client_id, cert, key, "-q", "1", "-t", "kits/hello", "-m", message)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, text: str, seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.log_text():
            assert time.monotonic() < deadline, f"broker never logged {text!r}:\n{self.log_text()}"
            time.sleep(0.05)

    def connected(self, client_id: str) -> str | None:
        """The broker's 'New client connected ... as ID (... u'CN')' line, if that client got in."""
        for line in self.log_text().splitlines():
            if "New client connected" in line and f" as {client_id} " in line:
                return line
        return None

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def pki(tmp_path):
    cert_path, key_path = ca.create(tmp_path / "ca")
    return cert_path, key_path, ca.load(cert_path, key_path)


@pytest.fixture
def broker(tmp_path, pki):
    cert_path, _, authority = pki
    started = Broker(tmp_path, cert_path, authority)
    yield started
    started.stop()


def kit_files(directory: Path, device: str, sec_tag: int, cert_pem: str) -> tuple[Path, Path]:
    """The kit's certificate as onboarded, and its modem-held key through the simulator's test-only accessor."""
    cert = directory / f"{device}.pem"
    cert.write_text(cert_pem)
    return cert, write_private(directory / f"{device}.key", simkeys.private_key_pem(device, sec_tag).encode())


def check_mutual_tls(broker: Broker, tmp_path: Path, kits: list[tuple[str, str, str]]) -> None:
    """kits: (device name, common name, certificate PEM). Both publish; foreign credentials are refused."""
    (first, first_cn, first_pem), (second, second_cn, second_pem) = kits
    cert_a, key_a = kit_files(tmp_path, first, 77, first_pem)
    cert_b, key_b = kit_files(tmp_path, second, 77, second_pem)
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-i", "kit-a-sub",
                            "--cafile", str(broker.ca_path), "--cert", str(cert_a), "--key", str(key_a),
                            "-t", "kits/#", "-C", "2", "-W", "30", "-q", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        broker.wait_for_log("Received SUBSCRIBE from kit-a-sub")
        for client_id, cert, key in (("kit-b-pub", cert_b, key_b), ("kit-a-pub", cert_a, key_a)):
            done = broker.publish(client_id, cert, key, f"hello from {client_id}")
            assert done.returncode == 0, done.stderr
        out, err = sub.communicate(timeout=30)
    finally:
        if sub.poll() is None:
            sub.kill()
    assert sub.returncode == 0 and out.splitlines() == ["hello from kit-b-pub", "hello from kit-a-pub"], err
    assert f"u'{second_cn}'" in broker.connected("kit-b-pub") and f"u'{first_cn}'" in broker.connected("kit-a-pub")

    # another CA's certificate and key
    other = ca.load(*ca.create(tmp_path / "other-ca"))
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first_cn)])).sign(stranger_key, hashes.SHA256()))
    stranger_cert = tmp_path / "stranger.pem"
    stranger_cert.write_text(ca.cert_pem(other.sign(csr)))
    stranger_key_path = write_private(tmp_path / "stranger.key", key_pem(stranger_key))
    refused = {
        "other-ca": broker.publish("other-ca", stranger_cert, stranger_key_path, "x"),
        "wrong-key": broker.publish("wrong-key", cert_a, stranger_key_path, "x"),  # kit A's certificate, not its key
        "no-cert": broker.publish("no-cert", None, None, "x"),
    }
    for client_id, run in refused.items():
        assert run.returncode != 0, f"{client_id} was let in: {run.stdout} {run.stderr}"
        assert broker.connected(client_id) is None, client_id
    assert "certificate verify failed" in broker.log_text()  # the broker itself turned the other CA away


def test_two_onboarded_kits_connect_and_strangers_are_refused(broker, pki, tmp_path, name):
    _, _, authority = pki
    devices = [f"{name}-a", f"{name}-b"]
    results = onboard.onboard_ports([f"sim://{d}" for d in devices], 77, authority, days=2)
    assert all(r.ok for r in results), [r.error for r in results]
    check_mutual_tls(broker, tmp_path, [(d, r.common_name, r.certificate_pem) for d, r in zip(devices, results, strict=True)])
