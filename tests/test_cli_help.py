"""The command table as people meet it: per-command help with a runnable example, usage errors, lazy imports."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from at.cli import exitcodes
from at.cli.parser import build_parser
from at.cli.table import COMMANDS, load
from tests.conftest import one_error, run_cmng

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_has_its_own_help_and_its_example_runs(command, name, tmp_path):
    module = load(command)
    helped = run_cmng(command, "--help")
    text = helped.stdout.decode()
    assert helped.returncode == 0 and f"usage: cmng {command}" in text and module.EXAMPLE in text
    assert text != run_cmng("--help").stdout.decode()
    def argv_of(line: str) -> list[str]:
        return shlex.split(line.replace("sim://demo", f"sim://{name}").replace("sim://kit", f"sim://{name}-"))

    argv = argv_of(module.EXAMPLE)
    assert argv[0] == "cmng" and argv[1] == command
    setup = getattr(module, "EXAMPLE_SETUP", None)  # e.g. plan's example needs a backup to plan against
    if setup:
        assert setup in text and run_cmng(*argv_of(setup)[1:], cwd=tmp_path).returncode == 0
    proc = run_cmng(*argv[1:], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


def test_options_a_command_does_not_take_are_usage_errors(name):
    for argv in (["imei", f"sim://{name}", "--sec_tag", "1"], ["list", f"sim://{name}", "--content", "x"],
                 ["ports", "--psk_file", "x"], ["delete", f"sim://{name}", "--sec_tag", "1", "--cred_type", "0", "-o", "f"]):
        proc = run_cmng(*argv)
        assert proc.returncode == exitcodes.EXIT_USAGE, argv
        assert "does not take" in one_error(proc)


def test_version_and_did_you_mean():
    version = run_cmng("--version")
    assert version.returncode == 0 and version.stdout.decode().startswith("cmng 1.")
    typo = run_cmng("lsit", "sim://x")
    assert typo.returncode == 2 and "did you mean 'list'" in one_error(typo)
    nothing = run_cmng()
    assert nothing.returncode == 2 and "a command is required" in one_error(nothing)


def test_dash_and_underscore_spellings_and_the_original_form(name, tmp_path):
    port = f"sim://{name}"
    (tmp_path / "id.txt").write_text("dash-id\n")
    assert run_cmng("write", port, "--sec-tag", "5", "--cred-type", "4", "--content-path", str(tmp_path / "id.txt")
                    ).returncode == 0
    # options before the operation, after the port, and the original -c / positional query forms
    before = run_cmng("--sec_tag", "5", "--cred_type", "4", "read", port)
    assert before.returncode == 0 and before.stdout == b"dash-id"
    assert run_cmng("--json", "query", port, "-c", "AT+CGMM").returncode == 0
    assert run_cmng("query", port, "AT+CGMM").stdout.decode().startswith("nRF91")
    # an option value that names a command stays a value
    assert run_cmng("--content", "list", "--sec_tag", "6", "--cred_type", "4", "write", port).returncode == 0
    assert run_cmng("read", port, "--sec_tag", "6", "--cred_type", "4").stdout == b"list"
    both = run_cmng("query", port, "AT+CGMM", "-c", "AT+CGMR")
    assert both.returncode == 2 and "once" in one_error(both)


@pytest.mark.parametrize("option,value", [("--baudrate", "0"), ("--baudrate", "-5"), ("--timeout", "0"),
                                          ("--timeout", "-1"), ("--timeout", "nan"), ("--timeout", "inf"),
                                          ("--sec_tag", "-1"), ("--sec_tag", "4294967296"), ("--cred_type", "12"),
                                          ("--sec_tag", "x")])
def test_numbers_are_range_checked_by_the_parser(option, value, name):
    proc = run_cmng("list", f"sim://{name}", option, value, "--json", timeout=20)
    assert proc.returncode == exitcodes.EXIT_USAGE
    one_error(proc)
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == 2 and doc["error"]["exit_code"] == 2


def test_exit_code_table_is_the_same_in_help_and_readme():
    help_text = run_cmng("--help").stdout.decode()
    readme = (ROOT / "README.md").read_text()
    for code, text in exitcodes.EXIT_CODES.items():
        assert text in help_text and f"| {code} | {text} |" in readme


# What a command may import only where it is used: certificate parsing, flashing, the simulator, progress bars,
# downloads, CBOR, TOML, JSON output, logging (until someone configures it), threads, OpenSSL's hashes.
HEAVY = ("cryptography", "pynrfjprog", "tqdm", "at.sim", "urllib.request", "at.download", "at.firmware", "cbor2",
         "tomllib", "json", "logging", "threading", "hashlib", "difflib", "traceback", "shutil", "concurrent")
# (Modules the interpreter loaded before `at`, e.g. an editable install's finder, are not cmng's doing.)
IMPORTS_OF = ("import sys; before = set(sys.modules); from at import cli; rc = cli.main(sys.argv[2:]);"
              "allowed = set(sys.argv[1].split(',')) | before;"
              f"heavy = [m for m in {HEAVY!r} if m in sys.modules and m not in allowed];"
              "print(heavy); sys.exit(rc or (99 if heavy else 0))")


def imports_only_what_it_needs(*argv: str, allowed: tuple = (), forbidden: tuple = ()) -> None:
    """`cmng argv` imports none of HEAVY but `allowed`, and none of `forbidden`."""
    code = IMPORTS_OF.replace(f"{HEAVY!r}", f"{HEAVY + tuple(forbidden)!r}")
    proc = subprocess.run([sys.executable, "-c", code, ",".join(allowed), *argv], capture_output=True)
    assert proc.returncode == 0, (argv, proc.stdout[-200:], proc.stderr[-400:])


def test_help_and_list_do_not_import_heavy_modules(name):
    # the simulator makes its factory certificates with cryptography once, on a device's first use
    assert run_cmng("imei", f"sim://{name}").returncode == 0
    for argv in (["--help"], ["list", "--help"], ["write", "--help"]):
        imports_only_what_it_needs(*argv)
    # psk's module needs the psk_file's lock (filelock logs), threads and random keys to define its options
    imports_only_what_it_needs("psk", "--help", allowed=("logging", "threading", "hashlib", "traceback", "shutil"))
    # sim:// itself: its URL, its modem's hashes, its state file (JSON, under a lock from filelock, which logs)
    sim = ("at.sim", "urllib.parse", "hashlib", "json", "logging", "threading", "traceback", "shutil")
    imports_only_what_it_needs("list", f"sim://{name}", allowed=sim)
    imports_only_what_it_needs("list", f"sim://{name}", "--json", allowed=(*sim, "json"))


# What no command on a serial port imports at all: the cost of every run that start-up is measured by.
START_UP = ("typing", "contextlib", "locale", "dataclasses", "argparse", "gettext", "at.link.shell")


def test_commands_on_a_pty_import_only_what_they_use(pty_sim, tmp_path):
    """As a provisioning station runs them: on a serial port, nothing of the simulator, certificates only for PEM."""
    port = pty_sim().path
    imports_only_what_it_needs("imei", port, forbidden=(*START_UP, "at.cmng", "at.credentials"))
    imports_only_what_it_needs("list", port, forbidden=START_UP)
    imports_only_what_it_needs("write", port, "--sec_tag", "9", "--cred_type", "3", "--content", "a1b2", "-v",
                               allowed=("hashlib",), forbidden=START_UP)  # -v: the trace, not logging; verification by SHA-256
    imports_only_what_it_needs("delete", port, "--sec_tag", "9", "--cred_type", "3", forbidden=START_UP)
    imports_only_what_it_needs("read", port, "--sec_tag", "16842753", "--cred_type", "0", forbidden=START_UP)
    pem = run_cmng("read", port, "--sec_tag", "16842753", "--cred_type", "0").stdout
    (tmp_path / "ca.pem").write_bytes(pem)
    imports_only_what_it_needs("write", port, "--sec_tag", "9", "--cred_type", "0", "--content_path",
                               str(tmp_path / "ca.pem"), allowed=("hashlib",))  # at.der checks certificates


def test_certificate_writes_do_not_import_cryptography(name, tmp_path):
    """Certificates are checked by at.der; only private keys (type 2, passwords) need cryptography."""
    assert run_cmng("imei", f"sim://{name}").returncode == 0  # the simulator's factory certificates, made once
    pem = run_cmng("read", f"sim://{name}", "--sec_tag", "16842753", "--cred_type", "0").stdout
    (tmp_path / "ca.pem").write_bytes(pem)
    sim = ("at.sim", "urllib.parse", "hashlib", "json", "logging", "threading", "traceback", "shutil")
    for cred_type in ("0", "1"):
        imports_only_what_it_needs("write", f"sim://{name}", "--sec_tag", "5", "--cred_type", cred_type,
                                   "--content_path", str(tmp_path / "ca.pem"), allowed=sim)


def test_import_at_imports_pyserial_and_nothing_else_of_ours():
    code = ("import sys, at; ours = sorted(m for m in sys.modules if m.startswith('at.'));"
            "print(ours); sys.exit(bool(ours) or 'logging' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == 0, proc.stdout
    lazy = subprocess.run([sys.executable, "-c", "import at; print(at.SoC.__module__, at.CRED_TYPE_PSK, "
                                                 "at.CMEError.__module__, 'SoC' in dir(at))"], capture_output=True)
    assert lazy.stdout.split() == [b"at.soc", b"3", b"at.errors", b"True"], lazy.stderr


def test_import_at_reaches_every_module_the_readme_shows():
    code = "import at; at.psk.DEFAULT_SEC_TAG; at.ports.find_kits; at.pskfile.read_psk_file; at.cli.main; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == 0 and proc.stdout == b"ok\n", proc.stderr


def test_python_dash_m_at_is_cmng(name):
    proc = subprocess.run([sys.executable, "-m", "at", "imei", f"sim://{name}"], capture_output=True)
    assert proc.returncode == 0 and len(proc.stdout.strip()) == 15


# Modules still over the limit, owned by another issue; remove a line when its split lands.
OVER_LIMIT_ELSEWHERE: set = set()  # none left


def test_no_module_grows_past_300_lines():
    sizes = {str(p.relative_to(ROOT / "at")): len(p.read_text().splitlines()) for p in (ROOT / "at").rglob("*.py")}
    over = {path: n for path, n in sizes.items() if n > 300 and path not in OVER_LIMIT_ELSEWHERE}
    assert not over


FLAGS_ELSEWHERE: set = set()  # files whose messages still name CLI flags (none left)
# A whole quoted option is an argv element for another program (nrfutil's "--serial-number"), not a message.
ARGV_ELEMENT = re.compile(r'"--[A-Za-z][\w-]*"')


def test_library_messages_never_name_cli_flags():
    flags = set()
    for command in COMMANDS:
        parser = build_parser(command)
        for action in parser._subparsers._group_actions[0].choices[command]._actions:
            flags.update(option for option in action.option_strings if option.startswith("--") and option != "--help")
    assert "--sec_tag" in flags and "--content-path" in flags
    pattern = re.compile("|".join(re.escape(flag) + r"\b" for flag in sorted(flags, key=len, reverse=True)))
    offenders = []
    for path in (ROOT / "at").glob("*.py"):
        if path.name in FLAGS_ELSEWHERE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(ARGV_ELEMENT.sub('""', line)):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders
