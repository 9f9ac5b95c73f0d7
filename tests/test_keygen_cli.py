"""cmng keygen, attest, ca create and onboard, through the real `cmng` process against the simulator."""
import json
import re
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import at
from at import ca
from at.sim import keygen as simkeys

from .conftest import one_error, run_cmng
from .test_keygen_mtls import Broker, check_mutual_tls, require_mosquitto


def kit_state(device: str, sec_tag: int) -> tuple[int, list[int]]:
    """(CFUN, types at sec_tag) of a file-backed simulated kit, read through the library."""
    with at.SoC(f"sim://{device}") as soc:
        return soc.get_functional_mode(), sorted(c.cred_type for c in soc.list_credentials(sec_tag))


def set_cfun(device: str, mode: int) -> None:
    with at.SoC(f"sim://{device}") as soc:
        soc.set_functional_mode(mode)


@pytest.fixture
def ca_dir(tmp_path):
    out = tmp_path / "my-ca"
    proc = run_cmng("ca", "create", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


# ---------------------------------------------------------------- keygen


def test_keygen_writes_a_pem_csr(name, tmp_path):
    set_cfun(name, 1)
    out = tmp_path / "csr.pem"
    proc = run_cmng("keygen", f"sim://{name}", "--sec_tag", "42", "-o", str(out), "--subject", "O=Acme,CN=kit-1")
    assert proc.returncode == 0, proc.stderr
    csr = x509.load_pem_x509_csr(out.read_bytes())
    assert csr.is_signature_valid and csr.subject.rfc4514_string() == "CN=kit-1,O=Acme"
    assert str(simkeys.device_uuid(name)) in proc.stderr.decode() and proc.stdout == b""
    assert kit_state(name, 42) == (1, [2])  # the key is in the modem, CFUN restored
    key = serialization.load_pem_private_key(simkeys.private_key_pem(name, 42).encode(), None)
    assert key.public_key() == csr.public_key()


def test_keygen_json_and_stdout(name):
    proc = run_cmng("keygen", f"sim://{name}", "--sec-tag", "7", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["device_uuid"] == str(simkeys.device_uuid(name)) and doc["digest_ok"] is True
    assert x509.load_pem_x509_csr(doc["csr"].encode()).is_signature_valid
    plain = run_cmng("keygen", f"sim://{name}", "--sec-tag", "8")
    assert plain.stdout.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")


@pytest.mark.parametrize("options, args, code, match", [
    ("mfw=mfw_nrf9160_1.2.3", [], 3, r"mfw_nrf9160_1\.2\.3.*1\.3\.0 or later"),
    ("keygen_fail=1", [], 4, "523"),
    ("bad_digest=1", [], 8, "altered"),
    ("", ["--subject", 'CN="x"'], 3, "quotes"),
    ("", ["--key_usage", "12"], 3, "nine"),
])
def test_keygen_failures_are_one_line_and_leave_cfun(name, options, args, code, match):
    set_cfun(f"{name}", 1)
    url = f"sim://{name}" + (f"?{options}" if options else "")
    proc = run_cmng("keygen", url, "--sec_tag", "5", *args)
    assert proc.returncode == code, proc.stderr
    assert re.search(match, one_error(proc))
    assert kit_state(name, 5)[0] == 1


# ---------------------------------------------------------------- attest


def test_attest_text_and_json(name):
    proc = run_cmng("attest", f"sim://{name}")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert f"device UUID:   {simkeys.device_uuid(name)}" in text and "device type:   nRF9151 LACA" in text
    doc = json.loads(run_cmng("attest", f"sim://{name}?fw=nrf9160", "--json").stdout)
    assert doc["device_type"] == "nRF9160 SIAA" and doc["token"].count(".") == 1 and doc["firmware_uuid"]
    old = run_cmng("attest", f"sim://{name}?mfw=mfw_nrf9160_1.2.3")
    assert old.returncode == 3 and "%ATTESTTOKEN" in one_error(old)


# ---------------------------------------------------------------- ca create


def test_ca_create(tmp_path):
    out = tmp_path / "a" / "b"
    proc = run_cmng("ca", "create", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ca_cert"] == str(out / "ca.pem") and not doc["encrypted"]
    assert stat.S_IMODE((out / "ca.key").stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in proc.stdout + proc.stderr
    again = run_cmng("ca", "create", "--out", str(out))
    assert again.returncode == 3 and "refusing to overwrite" in one_error(again)
    secret = run_cmng("ca", "create", "--out", str(tmp_path / "enc"), "--passphrase-file", "-", input=b"pass phrase\n")
    assert secret.returncode == 0, secret.stderr
    assert ca.load(tmp_path / "enc" / "ca.pem", tmp_path / "enc" / "ca.key", "pass phrase")
    usage = run_cmng("ca", "create")
    assert usage.returncode == 2


# ---------------------------------------------------------------- onboard


def test_onboard_two_kits(name, ca_dir):
    set_cfun(f"{name}-a", 1)
    proc = run_cmng("onboard", f"sim://{name}-a", f"sim://{name}-b", "--sec_tag", "77", "--ca_cert",
                    str(ca_dir / "ca.pem"), "--ca-key", str(ca_dir / "ca.key"), "--days", "30")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 3 and all(line.rstrip().endswith("ok") for line in lines[1:])
    assert str(simkeys.device_uuid(f"{name}-a")) in lines[1] and str(simkeys.device_uuid(f"{name}-b")) in lines[2]
    assert kit_state(f"{name}-a", 77) == (1, [0, 1, 2]) and kit_state(f"{name}-b", 77)[1] == [0, 1, 2]
    with at.SoC(f"sim://{name}-a") as soc:
        assert soc.read_credential(77, 0) == (ca_dir / "ca.pem").read_text()
    assert b"PRIVATE KEY" not in proc.stdout + proc.stderr


def test_onboard_json_imei_and_validity(name, ca_dir):
    proc = run_cmng("onboard", f"sim://{name}", "--sec-tag", "9", "--ca-cert", str(ca_dir / "ca.pem"),
                    "--ca_key", str(ca_dir / "ca.key"), "--cn", "imei", "--days", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (kit,) = doc["results"]
    with at.SoC(f"sim://{name}") as soc:
        imei = soc.get_imei()
    cert = x509.load_pem_x509_certificate(kit["certificate"].encode())
    assert kit["ok"] and kit["common_name"] == imei and kit["written"] == [0, 1]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 10
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_onboard_some_failed_exit_9(name, ca_dir):
    set_cfun(f"{name}-bad", 1)
    proc = run_cmng("onboard", f"sim://{name}-ok", f"sim://{name}-bad?keygen_fail=1", "--sec_tag", "9",
                    "--ca_cert", str(ca_dir / "ca.pem"), "--ca_key", str(ca_dir / "ca.key"), "--json")
    assert proc.returncode == 9, proc.stderr
    ok, bad = json.loads(proc.stdout)["results"]
    assert ok["ok"] and not bad["ok"] and bad["exit_code"] == 4 and "523" in bad["error"]
    assert kit_state(f"{name}-bad", 9) == (1, [])  # nothing written, CFUN restored
    assert kit_state(f"{name}-ok", 9)[1] == [0, 1, 2]


def _ca_variants(tmp_path, ca_dir):
    other = tmp_path / "other"
    assert run_cmng("ca", "create", "--out", str(other)).returncode == 0
    enc = tmp_path / "enc"
    assert run_cmng("ca", "create", "--out", str(enc), "--passphrase", "pw").returncode == 0
    leaf = tmp_path / "leaf.pem"  # a certificate that is not a CA
    authority = ca.load(ca_dir / "ca.pem", ca_dir / "ca.key")
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
           .sign(leaf_key, hashes.SHA256()))
    leaf.write_text(ca.cert_pem(authority.sign(csr)))
    return {
        "mismatch": ([str(ca_dir / "ca.pem"), str(other / "ca.key")], "does not belong"),
        "encrypted": ([str(enc / "ca.pem"), str(enc / "ca.key")], "encrypted: give its passphrase"),
        "not-a-ca": ([str(leaf), str(ca_dir / "ca.key")], "not a CA certificate"),
    }


def test_onboard_refuses_a_bad_ca_before_touching_any_kit(name, ca_dir, tmp_path):
    set_cfun(name, 1)
    for case, ((cert, key), match) in _ca_variants(tmp_path, ca_dir).items():
        proc = run_cmng("onboard", f"sim://{name}", "--sec_tag", "9", "--ca_cert", cert, "--ca_key", key)
        assert proc.returncode == 3, (case, proc.stderr)
        assert match in one_error(proc), case
        assert b"PRIVATE KEY" not in proc.stdout + proc.stderr
    assert kit_state(name, 9) == (1, [])


def test_two_kits_onboarded_by_cmng_on_ptys_do_mutual_tls_with_mosquitto(pty_sim, name, ca_dir, tmp_path):
    require_mosquitto()
    kits = [pty_sim(device=f"{name}-a"), pty_sim(device=f"{name}-b")]
    proc = run_cmng("onboard", kits[0].path, kits[1].path, "--sec_tag", "77", "--ca_cert", str(ca_dir / "ca.pem"),
                    "--ca_key", str(ca_dir / "ca.key"), "--json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    authority = ca.load(ca_dir / "ca.pem", ca_dir / "ca.key")
    broker = Broker(tmp_path, ca_dir / "ca.pem", authority)
    try:
        check_mutual_tls(broker, tmp_path, [(f"{name}-{kit}", r["common_name"], r["certificate"])
                                            for kit, r in zip("ab", results, strict=True)])
    finally:
        broker.stop()


def test_onboard_one_kit_failing_is_one_line_with_its_own_exit_code(name, ca_dir):
    proc = run_cmng("onboard", f"sim://{name}?bad_digest=1", "--sec_tag", "9", "--ca_dir", str(ca_dir))
    assert proc.returncode == 8
    assert "altered on the way" in one_error(proc) and "the modem made a new key at type 2" in one_error(proc)
    assert kit_state(name, 9)[1] == [2]  # the modem made its key; neither CA nor certificate was written
    old = run_cmng("onboard", f"sim://{name}-old?mfw=mfw_nrf9160_1.3.1", "--sec_tag", "9", "--ca_dir", str(ca_dir))
    assert old.returncode == 0 and "ok, not verified" in old.stdout.decode()
    assert "not verified" in old.stderr.decode()


def test_onboard_with_a_ca_dir_made_on_the_spot(name, tmp_path):
    ca_dir = tmp_path / "fresh-ca"
    proc = run_cmng("onboard", f"sim://{name}", "--sec_tag", "11", "--ca_dir", str(ca_dir), "--create_ca")
    assert proc.returncode == 0, proc.stderr
    assert "made a new development CA" in proc.stderr.decode()
    again = run_cmng("onboard", f"sim://{name}", "--sec-tag", "12", "--ca-dir", str(ca_dir), "--create-ca")
    assert again.returncode == 0 and b"made a new" not in again.stderr  # the CA is reused, never replaced
    with at.SoC(f"sim://{name}") as soc:
        assert soc.read_credential(11, 0) == soc.read_credential(12, 0) == (ca_dir / "ca.pem").read_text()


@pytest.mark.parametrize("args, code, match", [
    ([], 2, "name your CA"),
    (["--ca_cert", "x.pem"], 2, "name your CA"),
    (["--ca_dir", "d", "--ca_key", "k"], 2, "not both"),
    (["--ca_dir", "missing-dir"], 3, "cannot read"),
    (["--ca_cert", "x.pem", "--ca_key", "x.key", "--cn", "serial"], 2, "invalid choice"),
    (["--ca_cert", "x.pem", "--ca_key", "x.key", "--days", "0"], 2, "out of range"),
])
def test_onboard_usage_errors(name, tmp_path, args, code, match):
    proc = run_cmng("onboard", f"sim://{name}", "--sec_tag", "9", *args, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr
    assert match in one_error(proc)


def test_onboard_refuses_the_same_kit_twice(name, ca_dir):
    proc = run_cmng("onboard", f"sim://{name}", f"sim://{name}", "--sec_tag", "9", "--ca_dir", str(ca_dir))
    assert proc.returncode == 3 and "named twice" in one_error(proc)
