"""The quick parser (at/cli/quickparse.py) reads a command line exactly as argparse does, or leaves it to argparse.

Every command's options are recorded from its own `add_arguments`; generated command lines mix its real
options, both spellings, `=value` forms, abbreviations, counts, `--`, negative numbers, bad values and
stray positionals (seeded, so a failure repeats). Wherever the quick parser answers,
argparse must accept the line and set the same values.
"""
from __future__ import annotations

import contextlib
import io
import random
import shlex
import subprocess
import sys

import pytest

from at.cli import quickparse
from at.cli.exitcodes import UsageError
from at.cli.parser import build_parser
from at.cli.table import COMMANDS, load

from .conftest import run_cmng


def recorded(name: str) -> quickparse.Recorder | None:
    recorder = quickparse.Recorder()
    try:
        load(name).add_arguments(recorder)
    except quickparse.Defer:
        return None
    return recorder


QUICK = [name for name in COMMANDS if recorded(name) is not None]
VALUES = ["5", "0", "0.5", "-1", "-", "", "x", "nan", "inf", "auto", "at", "shell", "16842753", "4294967296", "0x10",
          "a b", "sim://demo", "/dev/ttyACM0", "uuid", "create", "=", "-vv", "--", "-h", "a1b2", "9600"]


def argparse_reading(name: str, argv: list[str]) -> dict | None:
    """What argparse makes of `cmng name argv`: its attributes, or None when it refuses or prints help."""
    parser = build_parser(name)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            args, extra = parser.parse_known_args([name, *argv])
        except (UsageError, SystemExit):
            return None
    if extra:
        return None
    values = vars(args)
    values.pop("_command_parser", None)
    return values


def quick_reading(name: str, argv: list[str]) -> dict | None:
    values = quickparse.parse(recorded(name), argv)
    return None if values is None else {"command": name, **values}


def command_line(rng: random.Random) -> tuple[str, list[str]]:
    """A command's help example, at times with a token left out, with a few tokens inserted: its options
    (valid and invalid values, `=` forms, the other spelling, abbreviations, repeats), or stray ones."""
    name = rng.choice(QUICK)
    argv = shlex.split(load(name).EXAMPLE)[2:]
    arguments = [argument for argument in recorded(name).arguments if not argument.positional]
    if argv and rng.randrange(4) == 0:  # one token left out: a required option, its value, the port
        del argv[rng.randrange(len(argv))]
    for _ in range(rng.randrange(5)):
        argument = rng.choice(arguments)
        flag = rng.choice(argument.flags)
        value = rng.choice(VALUES + [str(choice) for choice in argument.choices or ()] * 3)
        kind = rng.randrange(10)
        if kind == 0:
            tokens = [rng.choice(VALUES)]
        elif kind == 1 and flag.startswith("--"):
            tokens = [flag[:max(3, len(flag) - rng.randint(1, 4))], value]
        elif kind == 2 and flag.startswith("--"):
            tokens = [f"{flag}={value}"]
        elif argument.action == "store":
            tokens = [flag, value]
        else:
            tokens = [flag]
        at = rng.randint(0, len(argv))
        argv[at:at] = tokens
    return name, argv


def test_the_quick_parser_agrees_with_argparse_wherever_it_answers():
    rng = random.Random(17)
    answered = 0
    for _ in range(3000):
        name, argv = command_line(rng)
        quick = quick_reading(name, argv)
        if quick is not None:
            answered += 1
            assert argparse_reading(name, argv) == quick, (name, argv)
    assert answered > 600  # the lines it answers are not only the trivial ones


@pytest.mark.parametrize("name", QUICK)
def test_every_example_in_the_help_is_read_quickly_and_as_argparse_reads_it(name):
    argv = shlex.split(load(name).EXAMPLE)[2:]
    assert quick_reading(name, argv) is not None, argv
    assert quick_reading(name, argv) == argparse_reading(name, argv)


@pytest.mark.parametrize("argv", [
    ["imei", "sim://a", "--timeout", "2", "--mode", "at", "--json"],
    ["list", "--sec-tag", "7", "sim://a", "--cred_type", "0"],
    ["write", "sim://a", "--sec_tag", "9", "--cred_type", "3", "--content=a1b2", "--no-verify", "-v", "-v"],
    ["delete", "sim://a", "--sec_tag", "9", "--cred_type", "3", "--power_off", "-s", "683123456"],
    ["read", "sim://a", "--sec_tag", "9", "--cred_type", "0", "-o", "-"],
    ["psk", "sim://a", "sim://b", "--psk_file", "f", "--psk_bytes", "16"],
    ["query", "sim://a", "AT+CGMR"],
])
def test_plain_lines_are_read_quickly(argv):
    assert quick_reading(argv[0], argv[1:]) == argparse_reading(argv[0], argv[1:]) is not None


@pytest.mark.parametrize("argv", [
    ["imei", "sim://a", "-vv"], ["imei", "sim://a", "--time", "2"], ["imei", "--", "sim://a"], ["imei", "sim://a", "-h"],
    ["imei", "sim://a", "--timeout", "-1"], ["imei", "sim://a", "--mode", "bogus"], ["imei"], ["imei", "a", "b"],
    ["write", "sim://a", "--sec_tag", "9", "--cred_type", "3", "--content", "x", "--content_path", "f"],
    ["psk", "sim://a", "--json", "sim://b"], ["query", "sim://a", "--json"], ["hex", "list"],
])
def test_anything_else_is_left_to_argparse(argv):
    assert (quick_reading(argv[0], argv[1:]) if argv[0] in QUICK else None) is None


def test_a_plain_command_never_imports_argparse(name):
    code = ("import sys; from at import cli; rc = cli.main(sys.argv[1:]);"
            "sys.exit(rc or ('argparse' in sys.modules) * 99)")
    proc = subprocess.run([sys.executable, "-c", code, "imei", f"sim://{name}", "--timeout", "3"], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    help_text = run_cmng("imei", "--help").stdout.decode()  # argparse still owns the help and every error
    assert "usage: cmng imei" in help_text and "example:" in help_text
    assert run_cmng("imei", f"sim://{name}", "--timeout", "x").returncode == 2
