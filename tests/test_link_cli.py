"""at_host's hard cases end to end through the real `cmng` process (sim:// state files and a real pty)."""
import json
import signal
import subprocess
import time

import serial

import at
from at.sim.factory import _pem_certificates
from at.sim.store import FileStore, default_state_dir
from tests.conftest import script


def run(*args, timeout=60):
    return subprocess.run([script("cmng"), *args], capture_output=True, text=True, timeout=timeout)


def stored(name):
    return FileStore(default_state_dir(), name, lambda: {}).credentials()


def rx_left(name) -> tuple:
    """What at_host holds in its buffer now (nothing before the device was first opened)."""
    if not (default_state_dir() / f"{name}.json").exists():
        return b"", False
    return FileStore(default_state_dir(), name, lambda: {}).rx_state()


def test_half_sent_write_left_by_a_killed_run_does_not_wedge_the_kit(name):
    raw = serial.serial_for_url(f"sim://{name}", timeout=0.1)
    raw.write(b'AT%CMNG=0,77,3,"0011')
    raw.close()
    started = time.monotonic()
    proc = run("list", f"sim://{name}", "--json")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 5
    assert all(c["sec_tag"] != 77 for c in json.loads(proc.stdout)["credentials"])
    assert (77, 3) not in stored(name)


def test_write_killed_mid_command_at_9600_baud_then_list_tells_the_truth(name, tmp_path):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(_pem_certificates("big")[0] * 5)
    assert 2500 < ca_file.stat().st_size < 4000
    port = f"sim://{name}?baud=9600"
    proc = subprocess.Popen([script("cmng"), "write", port, "--baudrate", "9600", "--sec_tag", "77",
                             "--cred_type", "0", "--content_path", str(ca_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)  # the scenario: killed 1.5 s into a 3+ s write ...
    deadline = time.monotonic() + 20
    while not rx_left(name)[0].lstrip().startswith(b"AT%CMNG=0,77") and time.monotonic() < deadline:
        time.sleep(0.05)  # ... or, on a slow machine, once the write has begun
    proc.kill()
    proc.wait(timeout=10)
    left, inside = rx_left(name)
    assert left.lstrip().startswith(b"AT%CMNG=0,77,0,") and inside  # killed inside the quoted PEM
    listed = run("list", port, "--baudrate", "9600", "--sec_tag", "77", "--json")
    assert listed.returncode == 0, listed.stderr
    truth = sorted(kind for (tag, kind) in stored(name) if tag == 77)
    assert sorted(c["cred_type"] for c in json.loads(listed.stdout)["credentials"]) == truth
    assert truth == []  # the half-sent certificate was never committed
    again = run("list", port, "--baudrate", "9600", "--json")
    assert again.returncode == 0, again.stderr


def test_4094_byte_command_is_written_and_4095_exits_3(name):
    content = "a" * (4094 - len('AT%CMNG=0,5,4,"') - 1)
    ok = run("write", f"sim://{name}", "--sec_tag", "5", "--cred_type", "4", "--content", content)
    assert ok.returncode == 0, ok.stderr
    assert stored(name)[(5, 4)] == content
    too_long = run("write", f"sim://{name}", "--sec_tag", "5", "--cred_type", "4", "--content", content + "a")
    assert too_long.returncode == 3 and "CONFIG_AT_HOST_CMD_MAX_LEN" in too_long.stderr
    assert "Traceback" not in too_long.stderr and stored(name)[(5, 4)] == content


def test_query_with_an_unbalanced_quote_exits_3_and_sends_nothing(name):
    proc = run("query", f"sim://{name}", "-c", 'AT+CGMR"')
    assert proc.returncode == 3 and "quote" in proc.stderr
    after = run("query", f"sim://{name}", "-c", "AT+CGMR")
    assert after.returncode == 0 and "mfw_" in after.stdout


def test_sigint_during_write_on_an_active_kit_restores_cfun_or_says_so(pty_sim, name, tmp_path):
    sim = pty_sim("--latency", "1")
    with at.SoC(sim.path, timeout=5) as soc:
        soc.set_functional_mode(1)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(_pem_certificates("x")[0])
    proc = subprocess.Popen([script("cmng"), "write", sim.path, "--sec_tag", "77", "--cred_type", "0",
                             "--content_path", str(ca_file), "--timeout", "5", "-v"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # wait for the write to go out (the trace), then interrupt its 1 s answer
        seen.append(line)
        if line.startswith("> AT%CMNG=0,77"):
            break
    time.sleep(0.2)  # the bytes are on the wire; the kit's answer is due 1 s later
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()  # through the same reader: lines it read ahead are in `rest`, not lost
    proc.wait(timeout=60)
    err = "".join(seen) + rest
    assert proc.returncode == 130, err
    assert not rest.startswith("< OK"), err  # interrupted before the answer came
    assert "Traceback" not in err
    with at.SoC(sim.path, timeout=5) as soc:
        mode = soc.get_functional_mode()
    assert mode == 1 or ("could not" in err or "failed" in err), (mode, err)
    if mode != 1:
        assert len([line for line in err.splitlines() if "CFUN" in line]) >= 1


def test_verbose_trace_on_an_echoing_kit_never_shows_the_psk(name):
    psk = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    proc = run("write", f"sim://{name}?echo=1", "--sec_tag", "9", "--cred_type", "3", "--content", psk, "-v")
    assert proc.returncode == 0, proc.stderr
    assert "AT%CMNG=0,9,3" in proc.stderr  # the trace is there, in both directions
    assert psk not in proc.stderr + proc.stdout and psk[:8] not in proc.stderr + proc.stdout
    assert stored(name)[(9, 3)] == psk


def test_sigint_when_cfun_cannot_be_restored_says_so_in_one_line(pty_sim, tmp_path):
    sim = pty_sim("--latency", "0.5")
    with at.SoC(sim.path, timeout=5) as soc:
        soc.set_functional_mode(1)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(_pem_certificates("y")[0])
    proc = subprocess.Popen([script("cmng"), "write", sim.path, "--sec_tag", "77", "--cred_type", "0",
                             "--content_path", str(ca_file), "--timeout", "1", "-v"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if line.startswith("> AT%CMNG=0,77"):
            break
    sim.proc.send_signal(signal.SIGSTOP)  # the kit hangs: nothing answers any more
    try:
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        sim.proc.send_signal(signal.SIGCONT)
    assert proc.returncode == 130, rest
    told = [line for line in rest.splitlines() if line.startswith("cmng:")]
    assert len(told) == 1 and "CFUN=1" in told[0] and "failed" in told[0], rest
    assert "Traceback" not in rest
