"""Nordic's own nrfcloud-utils 3.3.1 against the simulator: its parser and its installer accept our modem.

The installer runs as a real process on a real pty (`nrf91-sim`). Faked only at the
hardware boundary: USB enumeration (a pty is no USB device, so `list_ports.comports`
is told about it with a Nordic kit's hwid) and the network (every connect refused).
"""
import logging
import subprocess
import sys
import textwrap

import pytest
from nrfcloud_utils import modem_credentials_parser as parser  # a test dependency: pip install ".[test]"

import at
from at import ca
from at.sim import keygen as simkeys

INSTALLER = textwrap.dedent("""
    import socket, sys
    from serial.tools import list_ports, list_ports_common

    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")

    socket.socket.connect = socket.socket.connect_ex = socket.create_connection = no_network

    def comports(include_links=False):  # the USB boundary: the pty is the kit's VCOM port
        port = list_ports_common.ListPortInfo(sys.argv[1], skip_link_detection=True)
        port.hwid = "USB VID:PID=1366:1059 SER=001051216197 LOCATION=1-1:1.0"
        return [port]

    list_ports.comports = comports
    from nrfcloud_utils import device_credentials_installer
    device_credentials_installer.main(sys.argv[2:])
""")


def blob(lines: list[str]) -> str:
    return lines[0].split('"')[1]


@pytest.mark.parametrize("options, tag", [("", 42), ("&legacy_csr=1", 42), ("", 4000000000)])
def test_parser_accepts_our_keygen_answer(name, caplog, options, tag):
    with at.SoC(f"sim://{name}?state=memory{options}") as soc:
        answer = blob(soc.command(f"AT%KEYGEN={tag},2,0", timeout=30))
    caplog.set_level(logging.INFO)
    csr_pem, pub_pem, uuid_text, tag_text = parser.parse_keygen_output(answer)
    assert uuid_text == str(simkeys.device_uuid(name)) and tag_text == str(tag)
    assert b"BEGIN CERTIFICATE REQUEST" in csr_pem and b"BEGIN PUBLIC KEY" in pub_pem
    assert "COSE digest matches payload" in caplog.text and "identity_key" in caplog.text
    assert ("normalizing CSR" in caplog.text) == bool(options)


def test_parser_accepts_our_attestation_token(name, caplog):
    with at.SoC(f"sim://{name}?state=memory") as soc:
        token = blob(soc.command("AT%ATTESTTOKEN"))
        ours = soc.attest()
    caplog.set_level(logging.INFO)
    assert parser.parse_attesttoken_output(token) == (None, None)  # no payload in the token's COSE
    assert parser.get_device_uuid(token) == ours.device_uuid
    assert f"Dev Type:    {ours.device_type_name}" in caplog.text
    assert f"FW UUID:     {ours.firmware_uuid}" in caplog.text
    assert "Device identity message v1" in caplog.text


def run_installer(sim_path: str, tmp_path, tag: int) -> subprocess.CompletedProcess:
    cert_path, key_path = ca.create(tmp_path / f"ca{tag}")
    return subprocess.run(
        [sys.executable, "-c", INSTALLER, sim_path, "--port", sim_path, "--cmd-type", "at", "--verify",
         "--ca", str(cert_path), "--ca-key", str(key_path), "-S", str(tag), "--csv", str(tmp_path / "onboard.csv"),
         "--plain"], capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_installer_provisions_a_pty_kit(pty_sim, tmp_path):
    sim = pty_sim()
    run = run_installer(sim.path, tmp_path, 1234)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "COSE digest matches payload" in output and "Credential verification: PASS" in output
    # CA and certificate are checked by SHA-256; only the modem-made key's hash cannot be known
    assert output.count("SHA not verified") == 1 and "Private Key exists, SHA not verified" in output
    with at.SoC(sim.path) as soc:
        assert sorted(c.cred_type for c in soc.list_credentials(1234)) == [0, 1, 2]
        assert "\r\n" in soc.read_credential(1234, 0)  # stored as the installer sent it (CRLF)
        assert soc.get_functional_mode() == 4  # the installer leaves the kit offline


def test_installer_fails_on_a_kit_that_refuses_crlf(pty_sim, tmp_path):
    sim = pty_sim("--crlf527", "1")
    run = run_installer(sim.path, tmp_path, 1235)
    assert run.returncode != 0 and "Credential verification: PASS" not in run.stdout + run.stderr
