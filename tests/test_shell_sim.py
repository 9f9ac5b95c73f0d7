"""The simulated Zephyr shell with NCS's `at` command, byte for byte (at.sim.shell)."""
from __future__ import annotations

import pytest

from at.sim.device import make_front_end, make_modem
from at.sim.options import parse_options
from at.sim.shell import ShellFrontEnd
from at.sim.shell_argv import make_argv

P = "uart:~$ "


def shell(name: str, **query: str) -> ShellFrontEnd:
    options = parse_options({"state": "memory", "app": "shell", "fw": "nrf9160", **query})
    front = make_front_end(make_modem(name, options), options)
    assert isinstance(front, ShellFrontEnd)
    return front


def run(front: ShellFrontEnd, line: bytes) -> str:
    return front.receive(line + b"\r").decode()


@pytest.mark.parametrize("line, args, quote", [
    (b"at 'a b'", [b"at", b"a b"], 0),
    (b'at "a\'b"', [b"at", b"a'b"], 0),
    (b"at 'it\\'s'", [b"at", b"it's"], 0),
    (b"at 'AT%CMNG=0,1,4,\"x\"'", [b"at", b'AT%CMNG=0,1,4,"x"'], 0),
    (b"'\\x41\\0101\\x5cq'", [b"AA\\q"], 0),  # hex and octal escapes inside quotes
    (b"'\\q\\0\\xg'", [b"\\q\\0\\xg"], 0),  # other backslashes stay
    (b"'\\x4z\\0777'", [b"\x04z\xff"], 0),  # short escapes; octal wraps at 8 bits
    (b"a\\ b \\'c", [b"a b", b"'c"], 0),  # outside quotes a backslash takes the next byte as is
    (b"'ab''cd'", [b"abcd"], 0),
    (b"at 'open", [b"at", b"open"], 0x27),
    (b'at "x\\', [b"at", b"x\\"], 0x22),
])
def test_make_argv_follows_zephyr(line, args, quote):
    assert make_argv(line) == (args, quote)


def test_prompt_echo_and_crlf_on_output(name):
    front = shell(name)
    assert front.receive(b"\r") == f"\r\n{P}".encode()
    out = run(front, b"at AT+CGSN")
    assert out == f"at AT+CGSN\r\n{front.modem.imei}\r\r\nOK\r\r\n\r\n{P}"
    # CR LF ends one line, CR CR two (the second is empty: just a new prompt)
    assert front.receive(b"at AT\r\n") == f"at AT\r\nOK\r\r\n\r\n{P}".encode()
    assert front.receive(b"\r\r") == f"\r\n{P}\r\n{P}".encode()


def test_unknown_command_and_unterminated_quote(name):
    front = shell(name)
    assert run(front, b"AT") == f"AT\r\nAT: command not found\r\n{P}"
    assert run(front, b"at 'AT+CGSN") == f"at 'AT+CGSN\r\nnot terminated: '\r\n{P}"
    assert front.modem.commands == []


def test_echo_wraps_at_80_columns(name):
    front = shell(name)
    line = b"at '" + b"A" * 200 + b"'"
    echo = run(front, line).split("\r\n")
    assert echo[0] == (P + line.decode())[:80][len(P):]
    assert echo[1] == line.decode()[72:152] and echo[2] == line.decode()[152:]


def test_line_buffer_keeps_n_minus_1_bytes_and_echo_stops(name):
    front = shell(name, shell_buf="256")
    line = b"at 'AT%CMNG=0,9,4,\"" + b"x" * 300 + b"\"'"
    out = run(front, line)
    echoed = out.split("\r\nnot terminated")[0].replace("\r\n", "")
    assert echoed == line[:255].decode()
    assert "not terminated: '" in out and out.endswith(P)
    assert front.modem.commands == []
    # cut outside quotes: the shell runs what it kept
    front = shell(name + "b", shell_buf="13")  # keeps "at AT+CGSN=1"
    out = run(front, b"at AT+CGSN=1234567890")
    assert front.modem.commands == ["AT+CGSN=1"] and "+CGSN:" in out


def test_unescape_lf_only_for_a_cmng_write(name):
    front = shell(name)
    run(front, b"at AT+CFUN=4")
    pem = "-----BEGIN CERTIFICATE-----\\nQUJD\\n-----END CERTIFICATE-----\\n"
    run(front, f"at 'AT%CMNG=0,77,0,\"{pem}\"'".encode())
    assert front.modem.store.credentials()[(77, 0)] == pem.replace("\\n", "\r\n")
    run(front, f"at ' AT%CMNG=0,78,0,\"{pem}\"'".encode())  # not exactly at the start: untouched
    assert front.modem.store.credentials()[(78, 0)] == pem
    off = shell(name + "off", unescape_lf="0")
    run(off, b"at AT+CFUN=4")
    run(off, f"at 'AT%CMNG=0,79,0,\"{pem}\"'".encode())
    assert off.modem.store.credentials()[(79, 0)] == pem


def test_response_buffer_gives_e2big(name):
    front = shell(name, resp_max="300")
    out = run(front, b"at AT%CMNG=2,16842753,0")
    assert "Sending AT command failed with error code -7\r\n" in out and out.endswith(P)
    assert "BEGIN" not in out
    assert run(front, b"at AT").endswith(f"OK\r\r\n\r\n{P}")


def test_editing_keys_and_dropped_bytes(name):
    front = shell(name)
    front.receive(b"garbage")
    front.receive(b"\x15")  # Ctrl-U empties the line (no VT100: prints nothing)
    out = run(front, b"at AT\xff\xfe")  # bytes above 0x7F are dropped
    assert "garbage" not in front.modem.commands and front.modem.commands == ["AT"]
    assert out.startswith("at AT\r\n")
    front.receive(b"at AX\x08T\r")  # backspace edits
    assert front.modem.commands[-1] == "AT"
    assert front.receive(b"junk\x03") == f"junk\r\n{P}".encode()  # Ctrl-C: new prompt, line gone
    assert front.lines_run == [b"at AT", b"at AT"]


def test_prompt_colour_logs_and_wildcards(name):
    front = shell(name, prompt="mosh", colour="1")
    assert front.receive(b"\r") == b"\r\n\x1b[1;32mmosh:~$ \x1b[0m"
    logged = shell(name + "l", logs="1", seed="7")
    out = "".join(logged.receive(bytes([c])).decode() for c in b"at 'AT+CGSN=1'\r" * 5)
    assert "<" in out and "] <" in out  # log lines came at random moments
    assert logged.modem.commands == ["AT+CGSN=1"] * 5
    wild = shell(name + "w", wildcard="1")
    assert run(wild, b"at 'AT+CFUN?'").startswith("at 'AT+CFUN?'\r\nUsage: at <subcommand>")
    assert wild.modem.commands == []


def test_events_and_urcs(name):
    front = shell(name, urcs="1")
    out = run(front, b"at AT+CFUN?")
    assert "+CEREG" not in out and "%CESQ" not in out  # URCs do not go into the response buffer
    assert "enabled" in run(front, b"at events_enable")
    assert "AT event handler:\r\n+CEREG" in run(front, b"at AT+CFUN?")
