"""The real `cmng` process in shell mode: every command, over sim:// and a pty."""
from __future__ import annotations

import json

import at
from at import protocol

from .conftest import run_cmng

PSK = "000102030405060708090a0b0c0d0e0f"


def shell_url(name: str, extra: str = "") -> str:
    return f"sim://{name}?app=shell&fw=nrf9160" + (f"&{extra}" if extra else "")


def cmng(*args: str, input: bytes | None = None):
    result = run_cmng(*args, input=input)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_every_command_through_the_shell(name, tmp_path):
    port = shell_url(name, "logs=1&colour=1&prompt=mosh")
    code, out, err = cmng("list", port, "-v")
    assert code == 0 and "16842753" in out and "mode shell" in err
    code, out, _ = cmng("imei", port, "--json")
    assert code == 0 and json.loads(out)["mode"] == "shell" and protocol.is_valid_imei(json.loads(out)["imei"])
    code, out, _ = cmng("query", port, "-c", "AT+CGMM", "--mode", "shell")
    assert code == 0 and "nRF9160" in out
    ca = tmp_path / "ca.pem"
    assert cmng("read", port, "--sec_tag", "16842753", "--cred_type", "0", "-o", str(ca))[0] == 0
    pem = ca.read_text().replace("\r\n", "\n")
    ca.write_text(pem)
    code, out, err = cmng("write", port, "--sec_tag", "42", "--cred_type", "0", "--content_path", str(ca), "--json")
    assert code == 0, err
    written = json.loads(out)["written"]
    assert written["sha256"] == protocol.sha256_hex(pem.replace("\n", "\r\n")) and written["line_endings"] == "CRLF"
    assert "stored with CRLF line endings" in err
    code, out, _ = cmng("write", port, "--sec_tag", "43", "--cred_type", "4", "--content", "b\\x41\\0101\\'q\\")
    assert code == 0
    code, out, _ = cmng("read", port, "--sec_tag", "43", "--cred_type", "4")
    assert out == "b\\x41\\0101\\'q\\"
    assert cmng("delete", port, "--sec_tag", "43", "--cred_type", "4")[0] == 0
    assert "43" not in cmng("list", port, "--sec_tag", "43")[1]


def test_cfun_is_taken_offline_and_restored_in_shell_mode(name):
    port = shell_url(name)
    assert cmng("query", port, "-c", "AT+CFUN=1")[0] == 0
    code, _, err = cmng("write", port, "--sec_tag", "50", "--cred_type", "3", "--content_path", "-",
                        input=PSK.encode())
    assert code == 0, err
    assert "+CFUN: 1" in cmng("query", port, "-c", "AT+CFUN?")[1]
    with at.SoC(port) as soc:
        assert soc.mode == "shell" and soc.get_functional_mode() == 1
        assert any(c.sec_tag == 50 and c.sha256 == protocol.sha256_hex(PSK) for c in soc.list_credentials(50))


def test_psk_with_mixed_kits(name, tmp_path):
    shell_kit, at_kit = shell_url(name + "s"), f"sim://{name}a?fw=nrf9160"
    psk_file = tmp_path / "psk_file.txt"
    code, out, err = cmng("psk", shell_kit, at_kit, "--psk_file", str(psk_file), "--json")
    assert code == 0, err
    modes = {r["port"]: r["mode"] for r in json.loads(out)["results"]}
    assert modes == {shell_kit: "shell", at_kit: "at"}
    assert len(psk_file.read_text().splitlines()) == 2


def test_limits_and_refusals_have_exit_codes_and_name_the_option(name, tmp_path):
    ca = tmp_path / "ca.pem"
    cmng("read", shell_url(name), "--sec_tag", "16842753", "--cred_type", "0", "-o", str(ca))
    ca.write_text(ca.read_text().replace("\r\n", "\n"))
    code, _, err = cmng("write", shell_url(name + "b", "shell_buf=256"), "--sec_tag", "9", "--cred_type", "0",
                        "--content_path", str(ca))
    assert code == 3 and "CONFIG_SHELL_CMD_BUFF_SIZE" in err and err.count("\n") == 1
    code, _, err = cmng("write", shell_url(name + "u", "unescape_lf=0"), "--sec_tag", "9", "--cred_type", "0",
                        "--content_path", str(ca))
    assert code == 8 and "CONFIG_AT_SHELL_UNESCAPE_LF" in err
    code, _, err = cmng("read", shell_url(name + "r", "resp_max=300"), "--sec_tag", "16842753", "--cred_type", "0")
    assert code == 8 and "CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN" in err
    code, _, err = cmng("write", shell_url(name), "--sec_tag", "9", "--cred_type", "4", "--content", "a\\nb")
    assert code == 3 and "UNESCAPE_LF" in err


def test_no_secret_in_the_verbose_trace(name):
    code, out, err = cmng("write", shell_url(name, "logs=1"), "--sec_tag", "60", "--cred_type", "3",
                          "--content_path", "-", "-v", input=PSK.encode())
    assert code == 0 and "redacted" in err and PSK not in err and PSK not in out


def test_cmng_over_a_real_pty(pty_sim):
    sim = pty_sim("--app", "shell", "--fw", "nrf9160", "--prompt", "mosh")
    code, out, err = cmng("list", sim.path, "--json")
    assert code == 0, err
    assert json.loads(out)["mode"] == "shell"
    code, _, err = cmng("write", sim.path, "--sec_tag", "70", "--cred_type", "3", "--content_path", "-",
                        input=PSK.encode())
    assert code == 0, err
    assert protocol.sha256_hex(PSK) in cmng("list", sim.path, "--sec_tag", "70")[1]


def test_plan_and_apply_converge_through_the_shell(tmp_path):
    """A certificate stored with CRLF by the shell is what the manifest asks for: no endless REPLACE."""
    from at.plan import Action, apply_plan, make_plan
    from tests.test_plan import BASIC, load

    m = load(tmp_path, BASIC)
    with at.SoC("sim://plan-shell?state=memory&app=shell&fw=nrf9160") as soc:
        assert soc.mode == "shell"
        assert apply_plan(soc, make_plan(soc, m), m).ok
        again = make_plan(soc, m)
        assert again.converged and {s.action for s in again.steps} == {Action.OK}
