"""The psk_file against a real Mosquitto broker: it sees what cmng sees, takes the new PSK and refuses the old
after `cmng psk`, never activates a comment, and still reads the file as its own unprivileged user."""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from at import pskfile
from at.files import FileError
from tests.conftest import run_cmng

K = "00112233445566778899aabbccddeeff"
K2 = "ffeeddccbbaa99887766554433221100"


def stored(state_dir, name, sec_tag=1234):
    """What the simulated kit holds: (identity, psk), read from its state file."""
    doc = json.loads((state_dir / f"{name}.json").read_text())
    creds = {(c["sec_tag"], c["type"]): c["content"] for c in doc["credentials"]}
    return creds.get((sec_tag, 4)), creds.get((sec_tag, 3))


def mosquitto_binary():
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if not found or not shutil.which("mosquitto_pub"):
        if os.environ.get("CI"):
            pytest.fail("mosquitto and mosquitto-clients must be installed in CI (.ci/run installs them)")
        pytest.skip("mosquitto not installed: apt-get install mosquitto mosquitto-clients")
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A Mosquitto on a free loopback port, PSK only, identity as user name (as the original tool's setup)."""

    def __init__(self, folder: Path, psk_file: Path, user: str = "root") -> None:
        self.exe = mosquitto_binary()
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self.conf.write_text(f"per_listener_settings true\nlistener {self.port} 127.0.0.1\npsk_hint nrf91\n"
                             f"psk_file {psk_file}\nuse_identity_as_username true\nallow_anonymous false\n"
                             f"user {user}\n")
        self.proc = None

    def start(self) -> "Broker":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                assert self.proc.poll() is None, f"mosquitto exited: {self.log.read_text()}"
                assert time.monotonic() < deadline, "mosquitto did not listen within 15 s"
                time.sleep(0.05)

    def accepts(self, identity: str, key: str) -> bool:
        proc = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "--psk-identity", identity,
                               "--psk", key, "-q", "1", "-t", "t", "-m", "m"], capture_output=True, timeout=20)
        return proc.returncode == 0

    def reload_until(self, identity: str, key: str) -> None:
        """SIGHUP (Mosquitto re-reads its psk_file), then wait until `identity` connects with `key`."""
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while not self.accepts(identity, key):
            assert time.monotonic() < deadline, f"the broker never took {identity}'s new key: {self.log.read_text()}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def brokers():
    started = []

    def make(folder, psk_file, user="root"):
        broker = Broker(Path(folder), Path(psk_file), user)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


def test_the_broker_sees_exactly_the_entries_cmng_sees(tmp_path, brokers):
    dropped = "D" * (255 - 1 - len(K))  # a last line without LF that fills the reader's buffer exactly
    data = (f"#c1:{K}\n  sp1:{K}\n\fff1:{K}\ncrlf1:{K}\r\ntw1 : {K} \n #h1:{K}\ndup1:{K}\ndup1:{K2}\n::col1:{K}\n"
            f"x1:{K}:ffff\nnocolon\n\n   \nv1\v:{K}\n#cmng-pending p1:{K}\nempty1:\n{dropped}:{K}").encode()
    path = tmp_path / "psk_file.txt"
    path.write_bytes(data)
    seen = pskfile.read_psk_file(path)
    assert set(seen) == {"sp1", "ff1", "crlf1", "tw1", "#h1", "dup1", "col1", "x1", "v1", "empty1"}
    broker = brokers(tmp_path, path).start()
    candidates = [(i, K) for i in ("c1", "#c1", "sp1", "ff1", "crlf1", "tw1", "#h1", "dup1", "col1", "x1", "v1", "p1",
                                   dropped, "nocolon")] + [("dup1", K2)]
    for identity, key in candidates:
        assert broker.accepts(identity, key) == (seen.get(identity) == key), identity
    # ...and the line that only lacked its LF is an entry to both once it has one
    path.write_bytes(data + b"\n")
    broker.reload_until(dropped, K)
    assert pskfile.read_psk_file(path)[dropped] == K


def test_a_file_the_broker_refuses_is_refused_by_cmng(tmp_path, brokers):
    path = tmp_path / "psk_file.txt"
    path.write_text(f"good:{K}\nbad:{K} # not a comment\n")
    broker = brokers(tmp_path, path)
    with pytest.raises(AssertionError, match="mosquitto exited"):
        broker.start()
    assert "non-hexadecimal" in broker.log.read_text()
    with pytest.raises(FileError, match="line 2: the key of identity 'bad' is not hex"):
        pskfile.read_psk_file(path)


def test_after_cmng_psk_the_broker_takes_the_new_psk_refuses_the_old_and_no_comment(tmp_path, brokers, name,
                                                                                      sim_state):
    path = tmp_path / "psk_file.txt"
    path.write_text(f"# retired kit, kept for the record:\n#retired:{K}\nother:{K2}\n")
    assert run_cmng("psk", f"sim://{name}", "--psk_file", str(path)).returncode == 0
    identity, first = stored(sim_state, name)
    broker = brokers(tmp_path, path).start()
    assert broker.accepts(identity, first) and broker.accepts("other", K2)
    pskfile.PskFile(path).begin("waiting", K)  # a pending line is a comment to the broker
    assert run_cmng("psk", f"sim://{name}", "--psk_file", str(path)).returncode == 0
    identity, second = stored(sim_state, name)
    assert second != first and pskfile.read_psk_file(path)[identity] == second
    broker.reload_until(identity, second)
    assert not broker.accepts(identity, first)
    assert not broker.accepts("retired", K) and not broker.accepts("#retired", K) and not broker.accepts("waiting", K)
    assert broker.accepts("other", K2)
    assert path.read_text().startswith(f"# retired kit, kept for the record:\n#retired:{K}\nother:{K2}\n")


def mosquitto_user():
    try:
        return grp.getgrnam("mosquitto").gr_gid
    except KeyError:
        if os.environ.get("CI"):
            pytest.fail("the mosquitto package creates the 'mosquitto' user and group; CI installs it")
        pytest.skip("no 'mosquitto' group: apt-get install mosquitto")


@pytest.fixture
def broker_folder():
    """A folder the unprivileged broker can enter (pytest's tmp_path is 0700 root): root:mosquitto 0750."""
    if os.geteuid() != 0:
        pytest.skip("starting mosquitto as its own user and giving files to its group needs root")
    gid = mosquitto_user()
    folder = Path(tempfile.mkdtemp(prefix="nrf91-at-broker-", dir="/tmp"))
    os.chown(folder, 0, gid)
    os.chmod(folder, 0o750)
    yield folder, gid
    shutil.rmtree(folder, ignore_errors=True)


def test_a_broker_running_as_mosquitto_still_reads_the_file_cmng_replaced(broker_folder, brokers, name, sim_state):
    folder, gid = broker_folder
    path = folder / "psk_file.txt"
    path.write_text(f"other:{K2}\n")
    os.chown(path, 0, gid)
    os.chmod(path, 0o640)
    broker = brokers(folder, path, user="mosquitto").start()
    assert broker.accepts("other", K2)
    assert os.stat(f"/proc/{broker.proc.pid}").st_uid == pwd.getpwnam("mosquitto").pw_uid  # not root any more
    proc = run_cmng("psk", f"sim://{name}", "--psk_file", str(path))
    assert proc.returncode == 0, proc.stderr
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, gid, 0o640)  # root:mosquitto 0640 kept
    identity, key = stored(sim_state, name)
    broker.reload_until(identity, key)  # the broker, as user mosquitto, re-read the replaced file
    assert broker.accepts("other", K2)
    # the control: a file reset to root 0600 (what cmng used to do) locks that broker out
    os.chmod(path, 0o600)
    broker.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while broker.accepts(identity, key):
        assert time.monotonic() < deadline, "the broker kept accepting a file it cannot read"


def test_a_new_file_in_the_brokers_folder_is_0640_with_its_group(broker_folder, brokers, name, sim_state):
    folder, gid = broker_folder
    path = folder / "psk_file.txt"
    proc = run_cmng("psk", f"sim://{name}", "--psk_file", str(path))
    assert proc.returncode == 0, proc.stderr
    st = os.stat(path)
    assert (st.st_gid, st.st_mode & 0o777) == (gid, 0o640)
    identity, key = stored(sim_state, name)
    assert brokers(folder, path, user="mosquitto").start().accepts(identity, key)


def test_provisioned_kits_connect_to_a_real_mosquitto(tmp_path, brokers, name, sim_state):
    path = tmp_path / "psk_file.txt"
    kits = [f"{name}-a", f"{name}-b"]
    proc = run_cmng("psk", *[f"sim://{k}" for k in kits], "--psk_file", str(path))
    assert proc.returncode == 0, proc.stderr
    assert path.stat().st_mode & 0o777 == 0o600  # a new file outside the broker's group's folder
    broker = brokers(tmp_path, path).start()
    for kit in kits:
        identity, key = stored(sim_state, kit)  # what the kit holds, not what the file says
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "--psk-identity", identity,
                                "--psk", key, "-t", f"devices/{identity}", "-C", "1", "-W", "15"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        message = f"hello from {identity}"
        deadline = time.monotonic() + 15
        out = ""
        while time.monotonic() < deadline:  # publish until the subscriber has it
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--psk-identity", identity,
                            "--psk", key, "-q", "1", "-t", f"devices/{identity}", "-m", message], timeout=20)
            try:
                out, _ = sub.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        assert out.strip() == message
        wrong = "00" * (len(key) // 2) if key != "00" * (len(key) // 2) else "11" * (len(key) // 2)
        assert not broker.accepts(identity, wrong)
