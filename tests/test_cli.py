"""cmng end to end: the installed console script in subprocesses, against sim:// and a pty."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import at
from at import cli, protocol
from at.cli import exitcodes as codes
from tests.conftest import run_cmng

ROOT = Path(__file__).resolve().parent.parent


def out(proc) -> str:
    return proc.stdout.decode()


def err(proc) -> str:
    return proc.stderr.decode()


def test_readme_walkthrough_verbatim(tmp_path, name):
    port = f"sim://{name}"
    steps = [
        "cmng list SERIAL_PORT",
        "cmng read SERIAL_PORT --sec_tag 16842753 --cred_type 0 -o example_ca_out_file.crt",
        "cmng delete SERIAL_PORT --sec_tag 16842753 --cred_type 0",
        "cmng list SERIAL_PORT",
        "cmng write SERIAL_PORT --sec_tag 16842753 --cred_type 0 --content_path example_ca_out_file.crt",
        "cmng list SERIAL_PORT",
    ]
    results = []
    for step in steps:
        argv = step.replace("SERIAL_PORT", port).split()[1:]
        proc = run_cmng(*argv, cwd=tmp_path)
        assert proc.returncode == 0, err(proc)
        results.append(proc)
    first_ca = [line for line in out(results[0]).splitlines() if line.startswith("16842753    0")]
    last_ca = [line for line in out(results[5]).splitlines() if line.startswith("16842753    0")]
    assert first_ca and first_ca == last_ca
    assert not [line for line in out(results[3]).splitlines() if line.startswith("16842753    0")]
    saved = (tmp_path / "example_ca_out_file.crt").read_bytes()
    with at.SoC(port) as soc:
        assert soc.read_credential(16842753, 0).encode() == saved
    assert protocol.sha256_hex(saved) in first_ca[0]
    assert "nRF Cloud relies" in err(results[2])


def test_readme_first_command_style_works_from_checkout(name):
    proc = subprocess.run([sys.executable, str(ROOT / "cmng.py"), "list", f"sim://{name}"], capture_output=True)
    assert proc.returncode == 0 and b"16842753" in proc.stdout


def test_json_outputs_are_one_document_with_stable_fields(name, tmp_path):
    port = f"sim://{name}"
    listed = json.loads(out(run_cmng("list", port, "--json")))
    assert set(listed) == {"port", "credentials"}
    assert set(listed["credentials"][0]) == {"sec_tag", "cred_type", "type_name", "sha256"}
    read = json.loads(out(run_cmng("read", port, "--sec_tag", "16842753", "--cred_type", "0", "--json")))
    assert read["content"].startswith("-----BEGIN CERTIFICATE-----")
    imei = json.loads(out(run_cmng("imei", port, "--json")))
    assert protocol.is_valid_imei(imei["imei"])
    wrote = json.loads(out(run_cmng("write", port, "--sec_tag", "7", "--cred_type", "4", "--content", "id", "--json")))
    assert wrote["written"]["sha256"] == protocol.sha256_hex("id") and wrote["verified"] is True
    query = json.loads(out(run_cmng("query", port, "-c", "AT+CGMM", "--json")))
    assert query["response"] == ["nRF9151-LACA"] and query["ok"] is True
    deleted = json.loads(out(run_cmng("delete", port, "--sec_tag", "7", "--cred_type", "4", "--json")))
    assert deleted["deleted"] == {"sec_tag": 7, "cred_type": 4}
    failed = run_cmng("read", port, "--sec_tag", "7", "--cred_type", "4", "--json")
    doc = json.loads(out(failed))
    assert failed.returncode == codes.EXIT_MODEM and doc["error"]["cme_error"] == 513


def test_read_prints_content_exactly(name):
    port = f"sim://{name}"
    with at.SoC(port) as soc:
        ca = soc.read_credential(16842753, 0)
    assert out(run_cmng("read", port, "--sec_tag", "16842753", "--cred_type", "0")) == ca


def test_content_from_stdin_and_secret_warnings(name):
    port = f"sim://{name}"
    proc = run_cmng("write", port, "--sec_tag", "8", "--cred_type", "3", "--content_path", "-", input=b"c0ffee00\n")
    assert proc.returncode == 0, err(proc)
    assert "c0ffee00" not in out(proc) + err(proc)
    warned = run_cmng("write", port, "--sec_tag", "8", "--cred_type", "3", "--content", "c0ffee00")
    assert warned.returncode == 0 and "shell history" in err(warned)
    assert "c0ffee00" not in out(warned) + err(warned)


def test_verbose_traffic_redacts_secrets_unless_vv(name):
    port = f"sim://{name}"
    v = run_cmng("write", port, "--sec_tag", "8", "--cred_type", "3", "--content_path", "-", "-v", input=b"deadbeef")
    assert v.returncode == 0 and "> AT%CMNG=0,8,3" in err(v) and "deadbeef" not in err(v) + out(v)
    vv = run_cmng("write", port, "--sec_tag", "8", "--cred_type", "3", "--content_path", "-", "-vv", input=b"deadbeef")
    assert vv.returncode == 0 and "deadbeef" in err(vv) and "-vv shows private keys" in err(vv)


def test_active_modem_is_taken_offline_and_restored(name):
    port = f"sim://{name}"
    run_cmng("query", port, "AT+CFUN=1")
    proc = run_cmng("write", port, "--sec_tag", "9", "--cred_type", "4", "--content", "x")
    assert proc.returncode == 0 and "restoring CFUN=1" in err(proc)
    assert out(run_cmng("query", port, "AT+CFUN?")).startswith("+CFUN: 1")
    off = run_cmng("delete", port, "--sec_tag", "9", "--cred_type", "4", "--power_off")
    assert off.returncode == 0 and "CFUN=0" in err(off)
    assert out(run_cmng("query", port, "AT+CFUN?")).startswith("+CFUN: 0")


def test_overwriting_nrf_cloud_tag_warns(name):
    port = f"sim://{name}"
    with at.SoC(port) as soc:
        ca = soc.read_credential(16842753, 0)
    proc = run_cmng("write", port, "--sec_tag", "16842753", "--cred_type", "0", "--content", ca)
    assert proc.returncode == 0 and "nRF Cloud relies" in err(proc)


def test_help_keeps_the_epilog():
    proc = run_cmng("--help")
    assert proc.returncode == 0 and "nrf_cloud relies on credentials with sec_tag 16842753" in out(proc)


@pytest.mark.parametrize("args,code,message", [
    (["list"], codes.EXIT_USAGE, "required: SERIAL_PORT"),
    (["read", "PORT"], codes.EXIT_USAGE, "required: --sec_tag"),
    (["read", "PORT", "--sec_tag", "1"], codes.EXIT_USAGE, "required: --cred_type"),
    (["write", "PORT", "--sec_tag", "1", "--cred_type", "4"], codes.EXIT_USAGE, "one of the arguments --content"),
    (["list", "PORT", "-o", "x"], codes.EXIT_USAGE, "list does not take -o x"),
    (["query", "PORT"], codes.EXIT_USAGE, "no AT command given"),
    (["frobnicate", "PORT"], codes.EXIT_USAGE, "unknown command 'frobnicate'"),
    (["list", "PORT", "PORT"], codes.EXIT_USAGE, "list does not take sim://"),
    (["write", "PORT", "--sec_tag", "1", "--cred_type", "4", "--content", 'a"b'], codes.EXIT_VALIDATION, "double quote"),
    (["write", "PORT", "--sec_tag", "1", "--cred_type", "0", "--content_path", "/nonexistent"], codes.EXIT_VALIDATION,
     "cannot read"),
    (["write", "PORT", "--sec_tag", "1", "--cred_type", "0", "--content", "nope"], codes.EXIT_VALIDATION, "not a PEM"),
    (["write", "PORT", "--sec_tag", "2147483648", "--cred_type", "4", "--content", "x"], codes.EXIT_VALIDATION, "out of range"),
    (["read", "PORT", "--sec_tag", "1", "--cred_type", "2"], codes.EXIT_VALIDATION, "cannot be read back"),
    (["write", "PORT", "--sec_tag", "1", "--cred_type", "7", "--content", "x"], codes.EXIT_VALIDATION, "cannot be written"),
    (["read", "PORT", "--sec_tag", "1", "--cred_type", "4"], codes.EXIT_MODEM, "513 (not found)"),
    (["delete", "PORT", "--sec_tag", "4294967294", "--cred_type", "6"], codes.EXIT_VALIDATION, "out of range"),
    (["query", "PORT", "AT+BOGUS"], codes.EXIT_MODEM, "failed: ERROR"),
    (["list", "/dev/no-such-port"], codes.EXIT_PORT, "no such port"),
    (["list", "sim://PORTNAME?disconnect_after=50"], codes.EXIT_PORT, "went away"),
    (["list", "sim://PORTNAME?latency=3", "--timeout", "0.2"], codes.EXIT_TIMEOUT, "no answer to AT"),
    (["psk", "PORT", "--psk_bytes", "0"], codes.EXIT_USAGE, "psk_bytes 0 is out of range"),
    (["list", "PORT", "-x", "--programmer", "nrfutil"], codes.EXIT_FLASH, "nrfutil"),
])
def test_every_error_path_has_its_code_and_no_traceback(args, code, message, name, tmp_path):
    argv = [a.replace("PORTNAME", name + "e").replace("PORT", f"sim://{name}") if a != "PORT" else f"sim://{name}"
            for a in args]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no nrfutil on PATH
    proc = run_cmng(*argv, env=env, cwd=tmp_path)
    assert proc.returncode == code, (proc.returncode, err(proc))
    assert message in err(proc)
    assert "Traceback" not in err(proc)
    assert len([line for line in err(proc).splitlines() if "error:" in line]) == 1


def test_validation_error_leaves_device_untouched(name):
    port = f"sim://{name}"
    before = out(run_cmng("list", port))
    proc = run_cmng("write", port, "--sec_tag", "16842753", "--cred_type", "0", "--content", "-----BEGIN CERTIFICATE-----")
    assert proc.returncode == codes.EXIT_VALIDATION
    assert out(run_cmng("list", port)) == before


def test_list_does_not_load_pynrfjprog(mem_url):
    code = (f"import sys; from at import cli; rc = cli.main(['list', {mem_url!r}]);"
            "sys.exit(rc or ('pynrfjprog' in sys.modules and 99))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == 0, proc.stderr


def test_cmng_over_a_real_pty(pty_sim):
    sim = pty_sim()
    proc = run_cmng("list", sim.path, "--json")
    assert proc.returncode == 0, err(proc)
    assert len(json.loads(out(proc))["credentials"]) == 6


def test_failed_query_is_sent_once(mem_url, name, capsys):
    from at.sim import device

    assert cli.main(["query", mem_url, "AT+BOGUS"]) == codes.EXIT_MODEM
    assert device.devices[name].commands.count("AT+BOGUS") == 1
    assert "AT+BOGUS failed: ERROR" in capsys.readouterr().err
