"""at.onboard: keygen in each kit, sign with your CA, write CA (0) and certificate (1), verify, restore CFUN."""
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import at
from at import ca, onboard, protocol
from at.sim import device
from at.sim import keygen as simkeys


@pytest.fixture
def authority(tmp_path):
    return ca.load(*ca.create(tmp_path / "ca"))


def test_two_kits_in_parallel(authority, name):
    ports = [f"sim://{name}-a?state=memory", f"sim://{name}-b?state=memory"]
    for port in ports:
        with at.SoC(port) as soc:
            soc.set_functional_mode(1)
    results = onboard.onboard_ports(ports, 77, authority, days=30)
    assert [r.port for r in results] == ports and all(r.ok and r.error is None for r in results)
    for port, result, kit in zip(ports, results, ("a", "b"), strict=True):
        cert = x509.load_pem_x509_certificate(result.certificate_pem.encode())
        assert result.common_name == result.device_uuid == str(simkeys.device_uuid(f"{name}-{kit}"))
        assert cert.issuer == authority.cert.subject and result.written == [0, 1]
        key = serialization.load_pem_private_key(simkeys.private_key_pem(f"{name}-{kit}", 77, "memory").encode(), None)
        assert key.public_key() == cert.public_key()
        with at.SoC(port) as soc:
            listed = {c.cred_type: c.sha256 for c in soc.list_credentials(77)}
            assert soc.get_functional_mode() == 1  # restored
            assert soc.read_credential(77, 0) == authority.cert_pem
        assert sorted(listed) == [0, 1, 2]
        assert listed[0] == result.ca_sha256 == protocol.sha256_hex(authority.cert_pem)
        assert listed[1] == result.cert_sha256 == protocol.sha256_hex(result.certificate_pem)
        commands = device.devices[f"{name}-{kit}"].commands
        assert not any(c.startswith("AT%CMNG=0,77,2") for c in commands)  # the host never writes a key


def test_cn_from_imei(authority, mem_url):
    with at.SoC(mem_url) as soc:
        result = onboard.onboard(soc, 5, authority, cn="imei")
        assert result.common_name == soc.get_imei()


def test_one_failed_kit_does_not_stop_the_others_and_nothing_is_written_to_it(authority, name):
    good, bad, tampered = (f"sim://{name}-ok?state=memory", f"sim://{name}-fail?state=memory&keygen_fail=1",
                           f"sim://{name}-bad?state=memory&bad_digest=1")
    for port in (bad, tampered):
        with at.SoC(port) as soc:
            soc.set_functional_mode(1)
    results = onboard.onboard_ports([good, bad, tampered, "sim://"], 9, authority)
    assert [r.ok for r in results] == [True, False, False, False]
    assert "+CME ERROR 523" in results[1].error and isinstance(results[1].exception, at.CMEError)
    assert "altered" in results[2].error and isinstance(results[2].exception, at.VerificationError)
    assert results[3].error and isinstance(results[3].exception, at.PortError)
    assert [r.key_made for r in results] == [True, False, True, False]  # what each kit was left with
    for port in (bad, tampered):
        with at.SoC(port) as soc:
            assert {c.cred_type for c in soc.list_credentials(9)} <= {2}  # neither CA nor certificate written
            assert soc.get_functional_mode() == 1


def test_bad_parameters_are_refused_before_any_kit_is_touched(authority, name):
    with pytest.raises(at.ValidationError, match="use one of uuid, imei"):
        onboard.onboard_ports([f"sim://{name}?state=memory"], 9, authority, cn="serial")
    with pytest.raises(at.ValidationError):
        onboard.onboard_ports([f"sim://{name}?state=memory"], -1, authority)
    assert name not in device.devices
