"""Nordic's nrfcloud-utils 3.3.1 installer with `--cmd-type at_shell` against `nrf91-sim --app shell`.

The same real process as tests/test_keygen_nrfcloud.py (only USB enumeration and the
network are faked), talking to the simulated Zephyr shell with the `at` command.
"""
import subprocess
import sys

import at
from at import ca
from tests.test_keygen_nrfcloud import INSTALLER


def test_installer_in_at_shell_mode_provisions_a_shell_kit(pty_sim, tmp_path):
    sim = pty_sim("--app", "shell", "--prompt", "mosh")
    cert_path, key_path = ca.create(tmp_path / "ca")
    run = subprocess.run(
        [sys.executable, "-c", INSTALLER, sim.path, "--port", sim.path, "--cmd-type", "at_shell", "--verify",
         "--ca", str(cert_path), "--ca-key", str(key_path), "-S", "4321", "--csv", str(tmp_path / "onboard.csv"),
         "--plain"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "COSE digest matches payload" in output and "Credential verification: PASS" in output
    with at.SoC(sim.path) as soc:  # our library sees what Nordic's installer stored, through the same shell
        assert soc.mode == "shell"
        assert sorted(c.cred_type for c in soc.list_credentials(4321)) == [0, 1, 2]
        assert "\r\n" in soc.read_credential(4321, 0)
