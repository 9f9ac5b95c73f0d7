"""The simulator on a real pseudo-terminal: our library, and Nordic's nrfcredstore, talk to it."""
import subprocess
import sys
import textwrap

import pytest

import at
from at import protocol


def test_library_over_pty(pty_sim):
    sim = pty_sim()
    with at.SoC(sim.path, timeout=5) as soc:
        assert protocol.is_valid_imei(soc.get_imei())
        ca = soc.read_credential(at.NRF_CLOUD_SEC_TAG, 0)
        soc.delete_credential(at.NRF_CLOUD_SEC_TAG, 0)
        assert soc.write_credential(at.NRF_CLOUD_SEC_TAG, 0, ca).sha256 == protocol.sha256_hex(ca)
    with at.SoC(sim.path, timeout=5) as soc:  # the pty survives a client closing it
        assert soc.read_credential(at.NRF_CLOUD_SEC_TAG, 0) == ca


def test_pty_with_urcs_and_fragmentation(pty_sim):
    sim = pty_sim("--urcs", "1", "--fragment", "5", "--banner", "1")
    with at.SoC(sim.path, timeout=5) as soc:
        assert len(soc.list_credentials()) == 6
        assert any(u.startswith("+CEREG") for u in soc.urcs)


def test_pty_and_sim_url_share_one_store(pty_sim, name):
    sim = pty_sim()
    with at.SoC(sim.path, timeout=5) as soc:
        soc.write_credential(11, 4, "shared-id")
    with at.SoC(f"sim://{name}") as soc:
        assert soc.read_credential(11, 4) == "shared-id"


def test_pty_unplug_is_a_port_error(pty_sim):
    sim = pty_sim("--disconnect-after", "100")
    with pytest.raises(at.PortError):
        with at.SoC(sim.path, timeout=5) as soc:
            soc.list_credentials()


def test_bad_option_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "at.sim", "demo", "--baud", "fast"], capture_output=True, text=True)
    assert proc.returncode == 2 and "baud" in proc.stderr and "Traceback" not in proc.stderr


NRFCREDSTORE = textwrap.dedent("""
    import sys
    from serial.tools import list_ports
    from serial.tools.list_ports_common import ListPortInfo

    PTY = sys.argv[1]

    def comports(*args, **kwargs):
        # The USB enumeration is the only thing faked: the pty poses as a nRF9160 DK's AT port.
        port = ListPortInfo(PTY, skip_link_detection=True)
        port.vid, port.pid, port.serial_number, port.location = 0x1366, 0x1015, "000960123456", "1-1:1.0"
        port.hwid = "USB VID:PID=1366:1015 SER=000960123456 LOCATION=1-1:1.0"
        return [port]

    list_ports.comports = comports
    from nrfcredstore.cli import run
    sys.exit(run(["nrfcredstore", PTY] + sys.argv[2:]))
""")


def nrfcredstore(path, *args):
    pytest.importorskip("nrfcredstore")
    return subprocess.run([sys.executable, "-c", NRFCREDSTORE, path, *args], capture_output=True, text=True,
                          timeout=120)


def test_nrfcredstore_sees_the_store_the_library_sees(pty_sim, name, tmp_path):
    sim = pty_sim()
    with at.SoC(f"sim://{name}") as soc:
        imei = soc.get_imei()
        soc.write_credential(321, at.CRED_TYPE_PSK_IDENTITY, "from-library")

    listed = nrfcredstore(sim.path, "list")
    assert listed.returncode in (0, None), listed.stderr
    assert "16842753" in listed.stdout and "321" in listed.stdout
    assert protocol.sha256_hex("from-library") in listed.stdout

    assert f"IMEI: {imei}" in nrfcredstore(sim.path, "imei").stdout

    psk_file = tmp_path / "psk.hex"
    psk_file.write_text("a1b2c3d4e5f60718\n")
    written = nrfcredstore(sim.path, "write", "555", "PSK", str(psk_file))
    assert written.returncode in (0, None), written.stderr
    deleted = nrfcredstore(sim.path, "delete", "16842753", "ROOT_CA_CERT")
    assert deleted.returncode in (0, None), deleted.stderr

    with at.SoC(f"sim://{name}") as soc:
        creds = {(c.sec_tag, c.cred_type): c.sha256 for c in soc.list_credentials()}
    # nrfcredstore strips the trailing newline before writing
    assert creds[(555, 3)] == protocol.sha256_hex("a1b2c3d4e5f60718")
    assert (16842753, 0) not in creds and (321, 4) in creds
