"""A fresh virtual environment installs the checkout as the README says, and the tools run."""
import subprocess
import sys
import venv
from pathlib import Path

from tests.conftest import package_index_env

ROOT = Path(__file__).resolve().parent.parent


def test_fresh_venv_install_and_first_run(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                             capture_output=True, text=True, timeout=600, env=package_index_env())
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run([str(bin_dir / "cmng"), "list", "sim://fresh?state=memory"], capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "16842753" in listed.stdout and "root CA certificate" in listed.stdout
    # the at_client manifest travels inside the (non-editable) install, as the package at.hex
    manifest = subprocess.run([str(bin_dir / "python"), "-c", "from at import firmware; "
                               "print(' '.join(firmware.load_manifest().boards()))"],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert manifest.stdout.split() == ["nrf9160dk", "nrf9161dk", "thingy91", "thingy91x"], manifest.stderr
    helped = subprocess.run([str(bin_dir / "nrf91-sim"), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "pseudo-terminal" in helped.stdout
