"""The library through an application's AT shell: detection, framing, limits (at.link.shell)."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import at
from at import protocol
from at.link import shell_text
from at.link.serial_port import SerialPort
from at.link.shell import ShellLink
from at.sim import device

SHELL = "state=memory&app=shell&fw=nrf9160"
IDENTITY = "b\\x41\\0101\\'q\\"  # the characters b \ x 4 1 \ 0 1 0 1 \ ' q \


def url(name: str, extra: str = "") -> str:
    return f"sim://{name}?{SHELL}" + (f"&{extra}" if extra else "")


def shell_of(name: str):
    return device.devices[name]


def with_shell(cls):
    """`make_front_end` with another shell front end class (a fault or another shell's habits)."""
    original = device.make_front_end
    return lambda modem, options: cls(modem, options.shell) if options.app == "shell" else original(modem, options)


def front_end(soc: at.SoC):
    """The simulated shell behind a SoC's sim:// port (to count the lines it ran)."""
    return soc._link.serial.raw.front_end


def test_auto_detects_at_client_fast_and_sends_no_shell_bytes(name):
    start = time.monotonic()
    with at.SoC(f"sim://{name}?state=memory") as soc:
        assert soc.mode == "at"
        assert time.monotonic() - start < 1.0
        soc.list_credentials()
    assert all(command.startswith("AT") for command in shell_of(name).commands)


@pytest.mark.parametrize("extra, prompt", [("", "uart:~$ "), ("prompt=mosh&colour=1&logs=1", "mosh:~$ ")])
def test_auto_detects_the_shell_and_learns_its_prompt(name, extra, prompt):
    start = time.monotonic()
    with at.SoC(url(name, extra)) as soc:
        assert soc.mode == "shell"
        assert soc._link.prompt == prompt
        assert time.monotonic() - start < 2.0
        assert protocol.is_valid_imei(soc.get_imei())
        assert soc.get_functional_mode() == 0


def test_identity_with_quotes_and_backslashes_round_trips(name):
    with at.SoC(url(name, "colour=1&logs=1")) as shell_soc, at.SoC(f"sim://{name}-at?state=memory") as at_soc:
        for soc in (shell_soc, at_soc):
            with soc.offline():
                soc.write_credential(5, at.CRED_TYPE_PSK_IDENTITY, IDENTITY)
            assert soc.read_credential(5, at.CRED_TYPE_PSK_IDENTITY) == IDENTITY
        assert shell_soc.list_credentials(5) == at_soc.list_credentials(5)
    assert shell_of(name).store.credentials()[(5, 4)] == IDENTITY


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters='"'),
               min_size=1, max_size=120).filter(lambda s: "\\n" not in s and s.strip() == s and s))
def test_any_identity_at_host_carries_round_trips_through_the_shell(name, identity):
    with at.SoC(url(name, "logs=1")) as soc:
        soc.write_credential(6, at.CRED_TYPE_PSK_IDENTITY, identity)
        assert soc.read_credential(6, at.CRED_TYPE_PSK_IDENTITY) == identity


def _pem(name: str) -> str:
    with at.SoC(f"sim://{name}-ca?state=memory") as soc:
        return soc.read_credential(at.NRF_CLOUD_SEC_TAG, 0)


def test_certificate_is_stored_with_crlf_and_verified_against_it(name):
    pem = _pem(name)
    with at.SoC(url(name, "logs=1&colour=1")) as soc:
        stored = soc.write_credential(20, at.CRED_TYPE_ROOT_CA, pem)
        crlf = pem.replace("\n", "\r\n")
        assert stored.sha256 == protocol.sha256_hex(crlf) != protocol.sha256_hex(pem)
        assert "CRLF" in soc.stored_note
        assert soc.read_credential(20, at.CRED_TYPE_ROOT_CA) == crlf


def test_without_unescape_lf_the_write_fails_naming_the_option(name):
    pem = _pem(name)
    with at.SoC(url(name, "unescape_lf=0")) as soc:
        with pytest.raises(at.VerificationError, match="CONFIG_AT_SHELL_UNESCAPE_LF") as info:
            soc.write_credential(21, at.CRED_TYPE_ROOT_CA, pem)
    literal = pem.replace("\n", "\\n")
    assert protocol.sha256_hex(literal) in str(info.value)
    assert shell_of(name).store.credentials()[(21, 0)] == literal


def test_small_line_buffer_is_one_error_and_nothing_is_stored(name):
    pem = _pem(name)
    with at.SoC(url(name, "shell_buf=256")) as soc:
        before = soc.list_credentials()
        with pytest.raises(at.ValidationError, match="CONFIG_SHELL_CMD_BUFF_SIZE") as info:
            soc.write_credential(22, at.CRED_TYPE_ROOT_CA, pem)
        assert "255" in str(info.value)
        assert soc.list_credentials() == before  # in step, nothing stored
        runs = len(front_end(soc).lines_run)
        with pytest.raises(at.ValidationError, match="CONFIG_SHELL_CMD_BUFF_SIZE"):
            soc.write_credential(22, at.CRED_TYPE_ROOT_CA, pem)
        assert len(front_end(soc).lines_run) == runs  # refused before sending, now that the limit is known
        soc.write_credential(23, at.CRED_TYPE_PSK, "a1b2c3d4")  # short lines still work


def test_large_answer_fails_fast_and_the_link_stays_in_step(name):
    with at.SoC(url(name, "resp_max=300")) as soc:
        start = time.monotonic()
        with pytest.raises(at.ProtocolError, match="CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN"):
            soc.read_credential(at.NRF_CLOUD_SEC_TAG, at.CRED_TYPE_ROOT_CA)
        assert time.monotonic() - start < 1.0
        assert len(soc.list_credentials()) == 3


def test_content_the_shell_cannot_carry_is_refused_before_sending(name):
    with at.SoC(url(name)) as soc:
        runs = len(front_end(soc).lines_run)
        with pytest.raises(at.ValidationError, match="UNESCAPE_LF"):
            soc.write_credential(7, at.CRED_TYPE_PSK_IDENTITY, "id\\nwith a literal backslash-n")
        with pytest.raises(at.ValidationError, match="line break"):
            soc.command('AT%CMNG=1\nAT')
        assert len(front_end(soc).lines_run) == runs


def test_wildcard_shell_is_explained(name):
    with at.SoC(url(name, "wildcard=1")) as soc:
        assert len(soc.list_credentials()) == 3  # no '?' or '*': works
        with pytest.raises(at.ProtocolError, match="CONFIG_SHELL_WILDCARD=n"):
            soc.get_functional_mode()


def test_half_typed_line_is_cleared_not_run(name):
    port = SerialPort(url(name), 115200)
    port.write(b"kernel reboot")
    link = ShellLink(url(name), serial_port=port)
    assert link.command("AT").ok
    assert all(b"kernel" not in line for line in port.raw.front_end.lines_run)
    link.close()


def test_shell_that_stops_answering_mid_line_times_out(name, monkeypatch):
    from at.sim import protocol_sim

    class Hangs(device.ShellFrontEnd):
        """The real front end, silent once it has echoed 20 bytes of a command (a hung firmware)."""

        def receive(self, data: bytes) -> bytes:
            out = super().receive(data)
            if self.lines_run or len(data) > 20:
                return out[:20]
            return out

    monkeypatch.setattr(protocol_sim, "make_front_end", with_shell(Hangs))
    link = ShellLink(url(name), serial_port=SerialPort(url(name), 115200), timeout=0.5)
    start = time.monotonic()
    with pytest.raises(at.ATTimeoutError, match="shell"):
        link.command("AT%CMNG=1")
    assert time.monotonic() - start < 2.0
    link.close()


def test_no_secret_in_the_trace_in_either_direction(name):
    psk = "0123456789abcdef" * 4
    key = "-----BEGIN PRIVATE KEY-----"
    lines: list[str] = []
    with at.SoC(url(name, "logs=1&colour=1"), trace=lambda d, t: lines.append(t)) as soc:
        soc.write_credential(30, at.CRED_TYPE_PSK, psk)
    with at.SoC(url(name + "cut", "shell_buf=60&logs=1"), trace=lambda d, t: lines.append(t)) as soc:
        with pytest.raises(at.ValidationError):  # the shell echoes part of the PSK, then cuts the line
            soc.write_credential(31, at.CRED_TYPE_PSK, psk)
    assert any("redacted" in line for line in lines)
    assert not any(psk[:16] in line or key in line for line in lines)


def test_shell_text_escaping_is_exact():
    assert shell_text.shell_line(f'AT%CMNG=0,5,4,"{IDENTITY}"') == \
        "at 'AT%CMNG=0,5,4,\"b\\x5cx41\\x5c0101\\x5c\\'q\\x5c\"'"
    assert shell_text.shell_line('AT%CMNG=0,1,0,"A\nB"') == "at 'AT%CMNG=0,1,0,\"A\\nB\"'"


def test_over_a_real_pty(pty_sim):
    sim = pty_sim("--app", "shell", "--prompt", "mosh", "--fw", "nrf9160", "--logs", "1")
    with at.SoC(sim.path) as soc:
        assert soc.mode == "shell"
        with soc.offline():
            soc.write_credential(40, at.CRED_TYPE_PSK_IDENTITY, IDENTITY)
        assert soc.read_credential(40, at.CRED_TYPE_PSK_IDENTITY) == IDENTITY
    with at.SoC(sim.path, mode="shell") as soc:
        assert any(c.sec_tag == 40 for c in soc.list_credentials())


def test_explicit_modes_do_not_guess(name):
    start = time.monotonic()
    with pytest.raises(at.ProtocolError, match="does not answer like a Zephyr shell"):
        at.SoC(f"sim://{name}?state=memory", mode="shell")
    assert time.monotonic() - start < 2.0
    with pytest.raises(at.ValidationError, match="link mode"):
        at.SoC(url(name), mode="telnet")
    with at.SoC(url(name), mode="shell") as soc:
        assert soc.mode == "shell" and soc._link.prompt == "uart:~$ "


def test_a_shell_that_redraws_its_line_with_bare_cr(name, monkeypatch):
    """Another shell's way to echo (CR, prompt, whole line on every key; no wrapping) reads the same."""
    from at.sim import protocol_sim

    class Redraws(device.ShellFrontEnd):
        def _insert(self, byte: int) -> str:
            if len(self._line) + 1 >= self.options.buffer_size:
                return ""
            self._line.append(byte)
            return "\r" + self._prompt() + self._line.decode()

    monkeypatch.setattr(protocol_sim, "make_front_end", with_shell(Redraws))
    with at.SoC(url(name, "colour=1")) as soc:
        assert soc.mode == "shell"
        soc.write_credential(8, at.CRED_TYPE_PSK_IDENTITY, IDENTITY)
        assert soc.read_credential(8, at.CRED_TYPE_PSK_IDENTITY) == IDENTITY


@pytest.mark.parametrize("log_text", ["<wrn> app: no timestamp here", "a line of some other logger"])
def test_unknown_log_lines_inside_a_wrapped_echo_are_not_a_cut(name, monkeypatch, log_text):
    """Log lines of another format, glued to any part of the echo, never pass for a cut line."""
    from at.sim import protocol_sim

    class OtherLogs(device.ShellFrontEnd):
        def _log(self) -> str:
            return log_text + "\n" + self._wrapped_line()

    monkeypatch.setattr(protocol_sim, "make_front_end", with_shell(OtherLogs))
    pem = _pem(name)
    for seed in range(4):
        with at.SoC(url(f"{name}-{seed}", f"logs=1&seed={seed}")) as soc:
            assert soc.write_credential(20, at.CRED_TYPE_ROOT_CA, pem).sha256 == \
                protocol.sha256_hex(pem.replace("\n", "\r\n"))


def test_ctrl_c_while_sending_leaves_no_half_typed_key(name):
    with at.SoC(url(name)) as soc:
        port = soc._link.serial
        real_write = port.write
        calls = []

        def interrupted(data, progress=None):
            calls.append(data)
            if len(calls) == 1:
                real_write(data[:30])  # part of the line is out, then Ctrl-C
                raise KeyboardInterrupt
            real_write(data, progress)

        port.write = interrupted
        with pytest.raises(KeyboardInterrupt):
            soc._link.command('AT%CMNG=0,9,3,"00112233445566778899aabbccddeeff"')
        port.write = real_write
        assert bytes(front_end(soc)._line) == b""  # Ctrl-U went out: nothing of the PSK stays typed
        assert soc.get_functional_mode() == 0  # and the link is in step again
