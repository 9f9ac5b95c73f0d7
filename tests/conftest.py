"""Shared fixtures: isolated simulator state, the real console scripts, a pty-served modem."""
from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import at  # noqa: F401  (registers sim://)

BIN = Path(sys.executable).parent
_names = itertools.count()


def script(name: str) -> str:
    """A console script installed next to this Python (the real `cmng`, not a stand-in)."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}: pip install . first")
    return str(path)


@pytest.fixture(autouse=True)
def sim_state(tmp_path, monkeypatch):
    """Every test gets its own simulator state directory (inherited by subprocesses)."""
    state = tmp_path / "simstate"
    monkeypatch.setenv("NRF91_SIM_STATE_DIR", str(state))
    return state


_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "no_proxy", "NO_PROXY")
_PROXIES_BEFORE = {var: os.environ.get(var) for var in _PROXY_VARS}


def package_index_env() -> dict:
    """The environment with the machine's own proxy settings, for `pip install` (which needs the index)."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
    env.update({k: v for k, v in _PROXIES_BEFORE.items() if v is not None})
    return env


@pytest.fixture(autouse=True)
def offline_firmware(tmp_path, monkeypatch):
    """No test reaches the internet: at_client files are cached per test, and any HTTP(S) request to a
    non-loopback host goes to a proxy on a closed loopback port (refused at once). Inherited by subprocesses."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for var in _PROXY_VARS[:6]:
        monkeypatch.setenv(var, dead)
    for var in _PROXY_VARS[6:]:
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    monkeypatch.setenv("NRF91_AT_CACHE_DIR", str(tmp_path / "hexcache"))
    monkeypatch.delenv("NRF91_AT_HEX_MANIFEST", raising=False)
    return tmp_path / "hexcache"


@pytest.fixture
def name(request):
    """A simulated device name unique to this test."""
    return f"t{next(_names)}-{os.getpid()}"


@pytest.fixture
def mem_url(name):
    """An in-memory simulated kit (lives as long as the test process)."""
    return f"sim://{name}?state=memory"


def run_cmng(*args: str, input: bytes | None = None, env: dict | None = None, cwd=None,
             timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([script("cmng"), *args], input=input, capture_output=True, timeout=timeout,
                          env=env, cwd=cwd)


def one_error(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line a failed cmng run prints (asserts there is exactly one, and no traceback)."""
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def stop_process(proc: subprocess.Popen) -> None:
    """End a server the test started: politely first, by force after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class PtySim:
    """`nrf91-sim NAME` in a subprocess: a simulated kit on a real pseudo-terminal."""

    def __init__(self, device: str, *options: str) -> None:
        self.proc = subprocess.Popen([script("nrf91-sim"), device, *options], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("/dev/"):
            self.proc.kill()
            raise RuntimeError(f"nrf91-sim did not print a device path: {line!r} {self.proc.stderr.read()}")
        self.path = line

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def pty_sim(name):
    if not hasattr(os, "openpty"):
        pytest.skip("this system has no pseudo-terminals (nrf91-sim needs one)")
    sims = []

    def start(*options: str, device: str = name) -> PtySim:
        sim = PtySim(device, *options)
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()
