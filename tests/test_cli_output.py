"""cmng's output is truthful and safe: read -o, content limits, encodings, one JSON document, verification."""
import json
import os
import stat

import pytest

import at
from at import protocol
from at.cli import exitcodes as codes
from tests.conftest import one_error, run_cmng


def listing(port):
    return run_cmng("list", port).stdout


def test_read_out_file_refuses_folders_devices_and_missing_folders(name, tmp_path):
    port = f"sim://{name}"
    read = ["read", port, "--sec_tag", "16842753", "--cred_type", "0"]
    for target, message in ((tmp_path / "nope" / "ca.crt", "does not exist"), (tmp_path, "is a folder"),
                            ("/dev/null", "not a regular file")):
        proc = run_cmng(*read, "-o", str(target))
        assert proc.returncode == codes.EXIT_VALIDATION and message in one_error(proc)
    assert not (tmp_path / "nope").exists() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_read_out_file_through_a_symlink_replaces_the_target_and_dash_is_stdout(name, tmp_path):
    port = f"sim://{name}"
    read = ["read", port, "--sec_tag", "16842753", "--cred_type", "0"]
    target = tmp_path / "real.crt"
    target.write_text("old")
    link = tmp_path / "link.crt"
    link.symlink_to(target)
    assert run_cmng(*read, "-o", str(link)).returncode == 0
    assert link.is_symlink() and target.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    dash = run_cmng(*read, "-o", "-", cwd=tmp_path)
    assert dash.returncode == 0 and dash.stdout.decode() == target.read_text()
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("source", ["zero", "big_file", "big_stdin"])
def test_content_is_capped_and_dev_zero_does_not_hang(source, name, tmp_path):
    port = f"sim://{name}"
    before = listing(port)
    big = tmp_path / "big.pem"
    big.write_bytes(b"a" * (16 * 1024 + 1))
    args = {"zero": ("--content_path", "/dev/zero"), "big_file": ("--content_path", str(big)),
            "big_stdin": ("--content_path", "-")}[source]
    proc = run_cmng("write", port, "--sec_tag", "5", "--cred_type", "4", *args,
                    input=big.read_bytes() * 4 if source == "big_stdin" else None, timeout=20)
    assert proc.returncode == codes.EXIT_VALIDATION and "16384 bytes" in one_error(proc)
    assert listing(port) == before


def test_text_the_modem_cannot_take_is_exit_3(name):
    port = f"sim://{name}"
    before = listing(port)
    undecodable = os.fsdecode(b"id\xff")  # how argv carries bytes that are not UTF-8
    for argv in (["write", port, "--sec_tag", "5", "--cred_type", "4", "--content", undecodable],
                 ["write", port, "--sec_tag", "5", "--cred_type", "4", "--content", "idé"],
                 ["write", port, "--sec_tag", "5", "--cred_type", "4", "--content", "tab\there"],
                 ["query", port, "AT+CGMR\u00e9"]):
        proc = run_cmng(*argv)
        assert proc.returncode == codes.EXIT_VALIDATION, (argv, proc.stderr)
        one_error(proc)
    assert listing(port) == before


def test_json_is_one_document_on_every_failure(name):
    port = f"sim://{name}"
    for argv, code in ((["query", port, "AT+BOGUS"], codes.EXIT_MODEM),
                       (["read", port, "--sec_tag", "7", "--cred_type", "4"], codes.EXIT_MODEM),
                       (["write", port, "--sec_tag", "7", "--cred_type", "0", "--content", "x"], codes.EXIT_VALIDATION),
                       (["list", port, "--bogus"], codes.EXIT_USAGE),
                       (["list", "/dev/no-such-port"], codes.EXIT_PORT)):
        proc = run_cmng(*argv, "--json")
        assert proc.returncode == code
        one_error(proc)
        doc = json.loads(proc.stdout)  # raises if there are two documents
        assert doc["exit_code"] == code and doc["error"]["exit_code"] == code and doc["error"]["message"]
    query = json.loads(run_cmng("query", port, "AT+BOGUS", "--json").stdout)
    assert query["final"] == "ERROR" and query["command"] == "AT+BOGUS"


def test_verified_only_when_the_hash_was_compared(name):
    zero = f"sim://{name}?zero_sha=1"
    proc = run_cmng("write", zero, "--sec_tag", "5", "--cred_type", "4", "--content", "me", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["verified"] is False and "cannot be verified" in proc.stderr.decode()
    assert doc["written"]["sha256"] == protocol.sha256_hex("me")
    text = run_cmng("write", zero, "--sec_tag", "5", "--cred_type", "4", "--content", "me")
    assert "not verified" in text.stdout.decode() and " verified" not in text.stdout.decode().replace("not verified", "")
    real = json.loads(run_cmng("write", f"sim://{name}", "--sec_tag", "5", "--cred_type", "4", "--content", "me",
                               "--json").stdout)
    assert real["verified"] is True
    unchecked = json.loads(run_cmng("write", f"sim://{name}", "--sec_tag", "5", "--cred_type", "4", "--content", "me",
                                    "--no-verify", "--json").stdout)
    assert unchecked["verified"] is False


def test_psk_from_xxd_p_is_stored_as_hex_digits_only(name):
    port = f"sim://{name}"
    key = bytes(range(48)).hex()
    pasted = f"  {key[:60]}\n{key[60:]}  \n\n".encode()
    proc = run_cmng("write", port, "--sec_tag", "8", "--cred_type", "3", "--content_path", "-", "--json", input=pasted)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["written"]["sha256"] == protocol.sha256_hex(key)
    spaced = run_cmng("write", port, "--sec_tag", "8", "--cred_type", "3", "--content_path", "-", input=b"ab cd\n")
    assert spaced.returncode == codes.EXIT_VALIDATION and "hex digits only" in one_error(spaced)


def test_identity_is_printable_ascii_of_any_length_the_command_allows(name):
    port = f"sim://{name}"
    for identity in ("a b", " ", "x" * 1000):
        proc = run_cmng("write", port, "--sec_tag", "9", "--cred_type", "4", "--content", identity)
        assert proc.returncode == 0, proc.stderr
        assert run_cmng("read", port, "--sec_tag", "9", "--cred_type", "4").stdout.decode() == identity


def test_keys_never_ride_in_certificate_slots(name, tmp_path):
    port = f"sim://{name}"
    with at.SoC(port) as soc:
        ca = soc.read_credential(16842753, 0)
    key = ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAAAAAAAAAAAAAAAA\n"
           "-----END PRIVATE KEY-----\n")
    before = listing(port)
    bundle = run_cmng("write", port, "--sec_tag", "6", "--cred_type", "0", "--content_path", "-",
                      input=(ca + key).encode())
    assert bundle.returncode == codes.EXIT_VALIDATION and "PRIVATE KEY block" in one_error(bundle)
    two = run_cmng("write", port, "--sec_tag", "6", "--cred_type", "2", "--content_path", "-", input=(key + key).encode())
    assert two.returncode == codes.EXIT_VALIDATION and "exactly one private key" in one_error(two)
    assert listing(port) == before


def test_progress_shows_on_a_terminal_only(monkeypatch, capsys):
    import sys

    from at.cli.console import Console

    monkeypatch.delitem(sys.modules, "tqdm", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    Console(json_mode=False).progress("flashing: Programming", 70.0)
    assert capsys.readouterr().err == "" and "tqdm" not in sys.modules  # imported only when a bar is drawn
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    Console(json_mode=True).progress("flashing: Programming", 60.0)
    assert capsys.readouterr().err == ""
    console = Console(json_mode=False)
    console.progress("flashing: Programming", 50.0)
    console.progress("done", None)
    assert "flashing: Programming:  50%" in capsys.readouterr().err
