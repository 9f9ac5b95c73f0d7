"""Manifests: every field loads as documented, every mistake is refused with the line it is on."""
import textwrap

import pytest

from at import manifest, protocol
from at.credentials import CredType
from at.sim.factory import _pem_certificates
from at.tomlpos import Positions

CA, CERT, KEY = _pem_certificates("manifest-tests")
IMEI = "352656100000002"  # a valid Luhn IMEI used only as an override key
assert protocol.is_valid_imei(IMEI)


def write(tmp_path, text: str, **files: str):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    path = tmp_path / "m.toml"
    path.write_text(textwrap.dedent(text))
    return path


def refused(tmp_path, text: str, **files: str) -> list[str]:
    with pytest.raises(manifest.ManifestError) as err:
        manifest.load(write(tmp_path, text, **files))
    for line in err.value.errors:
        assert "\n" not in line and line.startswith(str(tmp_path / "m.toml") + ":")
    return err.value.errors


def test_every_kind_of_entry_loads(tmp_path):
    path = write(tmp_path, f'''
        version = 1
        psk_file = "keys/psk_file.txt"

        [tag.1234.ca]
        path = "ca.pem"
        [tag.1234]
        identity = {{ content = "device-1" }}
        psk = {{ generate = "psk", bytes = 32 }}
        [tag.7.client_cert]
        content = """
        {CERT}"""
        [tag.7.client_key]
        sha256 = "{"ab" * 32}"
        [tag.8.0]
        absent = true

        [kit.{IMEI}.tag.1234.identity]
        content = "device-2"
        ''', **{"ca.pem": CA.replace("\n", "\r\n")})
    m = manifest.load(path)
    ca = m.entries[(1234, CredType.ROOT_CA)]
    assert ca.kind == "content" and ca.path == tmp_path / "ca.pem"
    assert ca.content == CA and ca.sha256 == protocol.sha256_hex(CA)  # stored form: LF, as the modem will hash it
    assert m.entries[(1234, CredType.PSK)].generator == "psk" and m.entries[(1234, CredType.PSK)].psk_bytes == 32
    assert m.entries[(7, CredType.CLIENT_CERT)].content == CERT
    assert m.entries[(7, CredType.CLIENT_PRIVATE_KEY)].sha256 == "AB" * 32
    assert m.entries[(8, CredType.ROOT_CA)].kind == "absent"
    assert m.psk_file == tmp_path / "keys/psk_file.txt"
    assert m.for_imei(IMEI)[(1234, CredType.PSK_IDENTITY)].content == "device-2"
    assert m.for_imei("352656100000010")[(1234, CredType.PSK_IDENTITY)].content == "device-1"
    assert list(m.for_imei(None)) == sorted(m.entries)
    assert m.entries[(1234, CredType.PSK_IDENTITY)].line == 8  # inline tables are located too


def test_save_then_load_gives_the_same_manifest(tmp_path):
    (tmp_path / "ca.pem").write_text(CA)
    path = write(tmp_path, f'''
        version = 1
        psk_file = "psk_file.txt"
        [source]
        imei = "{IMEI}"
        [tag.5.ca]
        path = "ca.pem"
        [tag.5.identity]
        content = "id-5"
        [tag.5.psk]
        generate = "psk"
        [tag.6.client_key]
        content = """{KEY}"""
        [tag.9.client_cert]
        absent = true
        [kit.{IMEI}.tag.5.client_cert]
        sha256 = "{"0" * 63}1"
        ''')
    first = manifest.load(path)
    out = tmp_path / "again.toml"
    manifest.save(first, out)
    assert out.stat().st_mode & 0o777 == 0o600
    again = manifest.load(out)
    strip = lambda entries: {k: (e.kind, e.content, e.sha256, e.path, e.generator) for k, e in entries.items()}  # noqa: E731
    assert strip(again.entries) == strip(first.entries)
    assert strip(again.overrides[IMEI]) == strip(first.overrides[IMEI])
    assert again.psk_file == first.psk_file and again.source == {"imei": IMEI}
    assert 'path = "ca.pem"' in out.read_text()


def test_unknown_fields_name_their_lines(tmp_path):
    errors = refused(tmp_path, '''
        version = 1
        colour = "blue"
        [tag.5.ca]
        pth = "ca.pem"
        [tag.5.identity]
        content = "x"
        secret = 1
        [source]
        owner = "me"
        ''')
    assert any(e.endswith(":3: unknown field 'colour' in the manifest: use version, psk_file, source, tag, kit")
               for e in errors)
    assert any(":5: unknown field 'pth' in sec_tag 5 ca" in e for e in errors)
    assert any(":8: unknown field 'secret'" in e for e in errors)
    assert any(":10: unknown field 'owner' in [source]" in e for e in errors)


def test_missing_content_file(tmp_path):
    [error] = refused(tmp_path, '''
        version = 1
        [tag.5.ca]
        path = "nowhere.pem"
        ''')
    assert error.startswith(f"{tmp_path / 'm.toml'}:4: sec_tag 5 ca: cannot read {tmp_path / 'nowhere.pem'}")


def test_pem_of_the_wrong_kind_uses_the_credentials_checks(tmp_path):
    errors = refused(tmp_path, '''
        version = 1
        [tag.5.ca]
        path = "key.pem"
        [tag.5.client_key]
        path = "cert.pem"
        [tag.5.psk]
        content = "xyz"
        ''', **{"key.pem": KEY, "cert.pem": CERT})
    assert errors[0].endswith(":4: sec_tag 5 ca: the root CA certificate is not a PEM certificate: no "
                              "'-----BEGIN CERTIFICATE-----' line (this looks like a private key: use type 2)")
    assert ":6: sec_tag 5 client_key: the client private key is not a PEM private key" in errors[1]
    assert ":8: sec_tag 5 psk: the PSK must be hex digits only" in errors[2]


@pytest.mark.parametrize("tag, message", [
    ("2147483648", "sec_tag 2147483648 is out of range for writing or deleting: use 0..2147483647"),
    ("4294967294", "out of range"),
    ("-1", "is not a number"),
    ("cloud", "'cloud' is not a number"),
])
def test_sec_tag_out_of_range(tmp_path, tag, message):
    [error] = refused(tmp_path, f'''
        version = 1
        [tag.{tag}.identity]
        content = "x"
        ''' if tag != "-1" else '''
        version = 1
        [tag."-1".identity]
        content = "x"
        ''')
    assert ":3: " in error and message in error


@pytest.mark.parametrize("second", ["[tag.5.0]", "[tag.05.ca]", "[tag.005.0]"])
def test_two_entries_for_one_slot(tmp_path, second):
    [error] = refused(tmp_path, f'''
        version = 1
        [tag.5.ca]
        path = "ca.pem"
        {second}
        path = "ca.pem"
        ''', **{"ca.pem": CA})
    assert ":5: a second entry for sec_tag 5 ca (the first is on line 3): keep one" in error


def test_toml_syntax_error_names_its_line(tmp_path):
    [error] = refused(tmp_path, '''
        version = 1
        [tag.5.ca]
        path = "ca.pem
        ''')
    assert f"{tmp_path / 'm.toml'}:4: not valid TOML:" in error
    [error] = refused(tmp_path, '''
        version = 1
        [tag.5.ca]
        path = "a"
        path = "b"
        ''')
    assert ":5: not valid TOML:" in error  # a repeated key is TOML's own business


@pytest.mark.parametrize("body, message", [
    ('[tag.5.ca]\nsha256 = "abc"', ":3: sec_tag 5 ca: sha256 must be 64 hex digits"),
    ("[tag.5.ca]\nabsent = false", ":3: sec_tag 5 ca: absent must be true"),
    ('[tag.5.ca]\nabsent = true\npath = "x"', ":2: sec_tag 5 ca needs exactly one of content, path, template, "
                                              "sha256, absent, generate, not path and absent"),
    ("[tag.5.ca]", ":2: sec_tag 5 ca needs exactly one of"),
    ('[tag.5.client_key]\ngenerate = "keygen"', 'generate = "keygen" is not yet supported'),
    ('[tag.5.identity]\ngenerate = "psk"', 'generate = "psk" makes a PSK: put it under psk'),
    ('[tag.5.identity]\ngenerate = "uuid"', "generate must be one of psk, keygen"),
    ('[tag.5.psk]\ngenerate = "psk"', ':3: sec_tag 5 psk: generate = "psk" needs the identity of sec_tag 5'),
    ('[tag.5.ca]\npasswd = "x"\nabsent = true', ":3: passwd belongs only to a client_key"),
    ('[tag.5.ca]\nbytes = 3\nabsent = true', ":3: bytes belongs only to generate"),
    ('[tag.5.identity]\ncontent = "x"\n[tag.5.psk]\ngenerate = "psk"\nbytes = 65', "bytes = 65 is not possible"),
    ('[tag.5.ca]\ntemplate = "ca-{imei}"', "template makes a PSK identity from the IMEI: put it under identity"),
    ('[tag.5.identity]\ntemplate = "nrf-"', "template must hold {imei} once and no other braces"),
    ('[tag.5.identity]\ntemplate = "{imei}-{x}"', "template must hold {imei} once"),
    ('[tag.5.identity]\ntemplate = "n\\u00e9-{imei}"', "non-ASCII character"),
    ('psk_file = "p"\n[tag.5.identity]\ncontent = "a:b"\n[tag.5.psk]\ngenerate = "psk"',
     ":4: sec_tag 5 identity: a generated PSK is recorded under its identity in psk_file, which cannot hold ':'"),
    ("[tag.5.cert]\nabsent = true", ":2: unknown type 'cert': use ca, client_cert, client_key, psk, identity"),
    ('[kit.123.tag.5.ca]\nabsent = true', ":2: '123' is not an IMEI"),
    ('[tag.5.identity]\ncontent = "a\\"b"', "contains a double quote"),
])
def test_bad_fields(tmp_path, body, message):
    errors = refused(tmp_path, "version = 1\n" + body + "\n")
    assert any(message in e for e in errors), errors


def test_identity_template_is_filled_per_kit(tmp_path):
    path = write(tmp_path, '''
        version = 1
        psk_file = "psk_file.txt"
        [tag.5.identity]
        template = "nrf-{imei}"
        [tag.5.psk]
        generate = "psk"
        ''')
    m = manifest.load(path)
    assert m.entries[(5, CredType.PSK_IDENTITY)].kind == "template"
    filled = m.for_imei(IMEI)[(5, CredType.PSK_IDENTITY)]
    assert (filled.kind, filled.content) == ("content", f"nrf-{IMEI}") and filled.sha256 == protocol.sha256_hex(f"nrf-{IMEI}")
    manifest.save(m, tmp_path / "again.toml")
    assert 'template = "nrf-{imei}"' in (tmp_path / "again.toml").read_text()


def test_generated_psk_needs_psk_file(tmp_path):
    errors = refused(tmp_path, '''
        version = 1
        [tag.5.identity]
        content = "x"
        [tag.5.psk]
        generate = "psk"
        ''')
    assert any(":6: " in e and "needs psk_file" in e for e in errors)


def test_version_is_required(tmp_path):
    [error] = refused(tmp_path, '[tag.5.ca]\nabsent = true\n')
    assert error.endswith("m.toml: version = 1 is required (found None)")


def test_encrypted_key_with_passwd(tmp_path):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(KEY.encode(), None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"secret")).decode()
    path = write(tmp_path, '''
        version = 1
        [tag.5.client_key]
        path = "k.pem"
        passwd = "secret"
        ''', **{"k.pem": encrypted})
    entry = manifest.load(path).entries[(5, CredType.CLIENT_PRIVATE_KEY)]
    assert entry.passwd == "secret" and "secret" not in repr(entry) and "BEGIN" not in repr(entry)
    errors = refused(tmp_path, '''
        version = 1
        [tag.5.client_key]
        path = "k.pem"
        ''', **{"k.pem": encrypted})
    assert "the private key is encrypted" in errors[0]


def test_positions_skip_multiline_strings():
    text = 'a = 1\n[t.x]\nc = """\n[t.y]\nd = 2\n"""\ne = 3\n[t."q.r"]\nf = {g = 1, h = 2}\n'
    pos = Positions(text)
    assert pos.line(("t", "x", "c")) == 3 and pos.line(("t", "x", "e")) == 7
    assert pos.line(("t", "y")) == 2 and pos.line(("t", "x", "d")) == 2
    assert pos.line(("t", "q.r", "f", "h")) == 9 and pos.line(("a",)) == 1 and pos.line(()) is None


def test_the_readme_manifest_loads(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "ca.pem").write_text(CA)
    m = manifest.loads(example, tmp_path, "README")
    assert sorted((t, int(k)) for t, k in m.entries) == [(7, 2), (42, 0), (1234, 0), (1234, 3), (1234, 4)]
    assert m.for_imei(IMEI)[(1234, CredType.PSK_IDENTITY)].content == "gateway-1"
    table = readme.split("| field | where | meaning |", 1)[1].split("\n\n", 1)[0]
    for field in manifest.KINDS + ("passwd", "bytes") + manifest.TOP_FIELDS[:2] + manifest.SOURCE_FIELDS:
        assert f"`{field}" in table, field  # every field is documented
