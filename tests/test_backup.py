"""Backups of simulated kits: what can be read is kept, the rest described by hash, and a backup restores."""
import stat

import pytest

import at
from at import manifest
from at.backup import backup
from at.credentials import NRF_CLOUD_SEC_TAG, CredType
from at.plan import Action, apply_plan, make_plan
from at.sim import device
from at.sim.factory import _pem_certificates


def seed(name: str, tag: int, kind: int, content: str) -> None:
    device._memory[name].put(tag, kind, content)


def test_backup_describes_the_kit_and_plans_clean(tmp_path, mem_url, name):
    out = tmp_path / "kit"
    with at.SoC(mem_url) as soc:
        soc.write_credential(5, 4, "my-identity")
        soc.write_credential(5, 3, "00112233")
        result = backup(soc, out)
        assert sorted(p.name for p in result.files) == ["16842753-ca.pem", "5-identity.txt"]
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        for path in result.files + [result.manifest_path]:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert (out / "5-identity.txt").read_text() == "my-identity"
        assert (out / "16842753-ca.pem").read_text() == device._memory[name].credentials()[(NRF_CLOUD_SEC_TAG, 0)]
        assert sorted(c.sec_tag for c, _ in result.skipped) == [4294967292, 4294967293, 4294967294]
        assert {why for _, why in result.skipped} == {"modem-owned sec_tag"}
        assert sorted(e.slot for e in result.hash_only) == [(5, CredType.PSK), (NRF_CLOUD_SEC_TAG, 1), (NRF_CLOUD_SEC_TAG, 2)]
        assert "00112233" not in result.manifest_path.read_text()  # a PSK is never written to a backup

        loaded = manifest.load(result.manifest_path)
        assert loaded.source["imei"] == soc.get_imei() and loaded.source["model"] == "nRF9151-LACA"
        assert sorted(loaded.entries) == sorted(result.manifest.entries)
        assert all(e.sec_tag <= 2147483647 for e in loaded.entries.values())
        plan = make_plan(soc, loaded)
        assert plan.converged and not plan.warnings


def test_restore_onto_a_fresh_kit(tmp_path, name):
    with at.SoC(f"sim://{name}?state=memory") as soc:
        soc.write_credential(5, 4, "my-identity")
        soc.write_credential(5, 3, "00112233")
        soc.write_credential(6, 0, _pem_certificates("six")[0])
        result = backup(soc, tmp_path / "kit")
        before = device._memory[name].credentials()
    m = manifest.load(result.manifest_path)
    with at.SoC(f"sim://{name}-fresh?state=memory") as soc:
        plan = make_plan(soc, m)
        assert apply_plan(soc, plan, m).ok
        after = device._memory[f"{name}-fresh"].credentials()
        for entry in m.entries.values():
            if entry.kind == "content":  # every restorable slot is reproduced byte for byte
                assert after[entry.slot] == before[entry.slot]
        warned = sorted((s.sec_tag, int(s.cred_type)) for s in make_plan(soc, m).steps if s.action == Action.WARN)
        assert warned == [(5, 3), (NRF_CLOUD_SEC_TAG, 1), (NRF_CLOUD_SEC_TAG, 2)]  # named, never silently skipped


def test_slots_a_backup_cannot_describe_are_reported(tmp_path, name):
    with at.SoC(f"sim://{name}?state=memory&zero_sha=1") as soc:
        seed(name, 9, 5, "a public key for %XSUDO")
        result = backup(soc, tmp_path)
        reasons = {(c.sec_tag, c.cred_type): why for c, why in result.skipped}
        assert reasons[(9, 5)] == "public key cannot be written with AT%CMNG"
        assert reasons[(NRF_CLOUD_SEC_TAG, 2)] == "cannot be read and the firmware reports no SHA-256"
        assert list(result.manifest.entries) == [(NRF_CLOUD_SEC_TAG, CredType.ROOT_CA)]  # hashed from what was read
        assert make_plan(soc, manifest.load(result.manifest_path)).converged


def test_content_this_library_would_not_write_is_kept_and_described_by_hash(tmp_path, name):
    ca = _pem_certificates("crlf")[0]
    with at.SoC(f"sim://{name}?state=memory&fw=nrf9160") as soc:
        seed(name, 7, 0, ca.replace("\n", "\r\n"))  # another tool stored CRLF
        seed(name, 8, 0, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        result = backup(soc, tmp_path)
        assert (tmp_path / "8-ca.pem").exists() and result.manifest.entries[(8, CredType.ROOT_CA)].kind == "sha256"
        assert any("sec_tag 8 ca is kept in 8-ca.pem but described by SHA-256 only" in n for n in result.notes)
        assert any("sec_tag 7 ca is stored in a non-canonical form" in n for n in result.notes)
        plan = make_plan(soc, manifest.load(result.manifest_path))
        assert [(s.sec_tag, s.action) for s in plan.changes] == [(7, Action.REPLACE)]  # the note said so


def test_backup_where_it_cannot_write_is_an_at_error(tmp_path, mem_url):
    (tmp_path / "file").write_text("x")
    with at.SoC(mem_url) as soc:
        with pytest.raises(at.ATError, match="cannot create the backup folder"):
            backup(soc, tmp_path / "file" / "kit")


def test_backup_over_a_pty(tmp_path, pty_sim):
    sim = pty_sim()
    with at.SoC(sim.path, timeout=5) as soc:
        result = backup(soc, tmp_path / "kit")
        assert make_plan(soc, manifest.load(result.manifest_path)).converged
