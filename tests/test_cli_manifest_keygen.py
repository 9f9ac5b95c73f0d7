"""generate = "keygen" in a manifest, through the real `cmng` process on simulated kits.

The key is made in the modem (%KEYGEN, type 2) only where none is, never written by the host;
its CSR is saved beside the manifest; with a CA the slot is onboarded as `cmng onboard` does it.
"""
import json
import textwrap

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

import at
from at.protocol import sha256_hex
from at.sim.keygen import private_key_pem
from at.sim.modem import imei_for

from .conftest import one_error, run_cmng


def _public(obj) -> bytes:
    return obj.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _modem_key_public(name: str, sec_tag: int) -> bytes:
    return _public(serialization.load_pem_private_key(private_key_pem(name, sec_tag).encode(), None))


def _manifest(tmp_path, body: str):
    path = tmp_path / "fleet.toml"
    path.write_text("version = 1\n" + textwrap.dedent(body))
    return str(path)


def test_keygen_makes_the_key_in_the_modem_once_and_saves_its_csr(tmp_path, name, sim_state):
    manifest = _manifest(tmp_path, """
        [tag.44.client_key]
        generate = "keygen"
        """)
    plan = run_cmng("plan", f"sim://{name}", "-f", manifest, "--json")
    assert plan.returncode == 10, plan.stderr
    step = json.loads(plan.stdout)["kits"][0]["steps"][0]
    assert (step["sec_tag"], step["cred_type"], step["action"]) == (44, 2, "write")
    applied = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes", "-v")
    trace = applied.stderr.decode()
    assert applied.returncode == 0, trace
    assert "AT%KEYGEN=44,2" in trace and "%CMNG=0,44,2" not in trace  # made in the modem, never written
    csr_file = tmp_path / f"{imei_for(name)}.44.csr.pem"
    assert f"wrote {csr_file}" in trace
    csr = x509.load_pem_x509_csr(csr_file.read_bytes())
    assert csr.is_signature_valid and _public(csr) == _modem_key_public(name, 44)
    # converged: a present key is kept, never made again
    again = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes", "-v")
    assert again.returncode == 0 and "%KEYGEN" not in again.stderr.decode(), again.stderr
    assert run_cmng("plan", f"sim://{name}", "-f", manifest).returncode == 0
    assert _public(csr) == _modem_key_public(name, 44)


def test_a_key_already_present_is_ok_and_left_alone(tmp_path, name, sim_state):
    with at.SoC(f"sim://{name}") as soc:
        soc.keygen(45)
    before = _modem_key_public(name, 45)
    manifest = _manifest(tmp_path, """
        [tag.45.client_key]
        generate = "keygen"
        csr = "csr/{sec_tag}-{imei}.pem"
        """)
    plan = run_cmng("plan", f"sim://{name}", "-f", manifest, "--json")
    assert plan.returncode == 0 and json.loads(plan.stdout)["kits"][0]["steps"][0]["action"] == "ok"
    assert run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes").returncode == 0
    assert _modem_key_public(name, 45) == before and not (tmp_path / "csr").exists()


def test_keygen_with_a_ca_onboards_the_slot_as_cmng_onboard_does(tmp_path, name, sim_state):
    assert run_cmng("ca", "create", "--out", str(tmp_path / "ca")).returncode == 0
    manifest = _manifest(tmp_path, """
        [tag.46.client_key]
        generate = "keygen"
        csr = "out/{imei}.csr.pem"
        ca_cert = "ca/ca.pem"
        ca_key = "ca/ca.key"
        days = 30
        cn = "imei"
        """)
    applied = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes", "-v")
    assert applied.returncode == 0, applied.stderr
    assert "%CMNG=0,46,2" not in applied.stderr.decode()
    imei = imei_for(name)
    ca_pem = (tmp_path / "ca" / "ca.pem").read_text()
    ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
    cert_pem = (tmp_path / "out" / f"{imei}.crt.pem").read_text()
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    cert.verify_directly_issued_by(ca_cert)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == imei
    assert _public(cert) == _modem_key_public(name, 46)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (30, 31)
    with at.SoC(f"sim://{name}") as soc:
        listed = {c.cred_type: c.sha256 for c in soc.list_credentials(46)}
    assert listed[0] == sha256_hex(ca_pem.replace("\r\n", "\n")) and listed[1] == sha256_hex(cert_pem)
    assert run_cmng("plan", f"sim://{name}", "-f", manifest).returncode == 0


def test_keygen_with_a_ca_refuses_a_second_ca_entry_for_that_tag(tmp_path, name, sim_state):
    assert run_cmng("ca", "create", "--out", str(tmp_path / "ca")).returncode == 0
    manifest = _manifest(tmp_path, """
        [tag.46.client_key]
        generate = "keygen"
        ca_cert = "ca/ca.pem"
        ca_key = "ca/ca.key"
        [tag.46.ca]
        path = "ca/ca.pem"
        """)
    proc = run_cmng("plan", f"sim://{name}", "-f", manifest)
    assert proc.returncode == 3
    assert "with ca_cert the keygen writes sec_tag 46 ca itself: remove that entry" in one_error(proc)


def test_a_csr_that_cannot_be_saved_costs_no_key(tmp_path, name, sim_state):
    (tmp_path / "taken").write_text("a file, not a folder")
    manifest = _manifest(tmp_path, """
        [tag.47.client_key]
        generate = "keygen"
        csr = "taken/{imei}.pem"
        """)
    proc = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes")
    assert proc.returncode == 3, proc.stderr
    assert "for the CSR" in one_error(proc)
    with at.SoC(f"sim://{name}") as soc:
        assert soc.list_credentials(47) == []


def test_a_modem_that_refuses_keygen_is_reported_and_the_plan_still_wants_the_key(tmp_path, name, sim_state):
    manifest = _manifest(tmp_path, """
        [tag.48.client_key]
        generate = "keygen"
        """)
    proc = run_cmng("apply", f"sim://{name}?keygen_fail=1", "-f", manifest, "--yes")
    assert proc.returncode == 4, proc.stderr
    assert "stopped at sec_tag 48 client_key" in one_error(proc)
    assert run_cmng("plan", f"sim://{name}", "-f", manifest).returncode == 10


def test_a_key_without_the_cas_certificate_is_a_warning_never_a_new_key(tmp_path, name, sim_state):
    assert run_cmng("ca", "create", "--out", str(tmp_path / "ca")).returncode == 0
    with at.SoC(f"sim://{name}") as soc:
        soc.keygen(49)  # a key, but no CA or certificate beside it
    before = _modem_key_public(name, 49)
    manifest = _manifest(tmp_path, """
        [tag.49.client_key]
        generate = "keygen"
        ca_cert = "ca/ca.pem"
        ca_key = "ca/ca.key"
        """)
    applied = run_cmng("apply", f"sim://{name}", "-f", manifest, "--yes", "-v")
    trace = applied.stderr.decode()
    assert applied.returncode == 0, trace
    assert "%KEYGEN" not in trace and "%CMNG=0" not in trace
    assert "sec_tag 49 client_key: a key is present without the CA and client certificate" in trace
    assert "delete the key (type 2) and apply again" in trace
    assert _modem_key_public(name, 49) == before
