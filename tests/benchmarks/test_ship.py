"""benchmarks/gpu/ship.py: weights cut into parts over several calls come back whole, or not at all."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "ship.py"
MIB = 2**20


@pytest.fixture(scope="module")
def ship():
    """The script, imported as a module (it lives outside the package)."""
    spec = importlib.util.spec_from_file_location("ship", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_file(path: Path, size: int, seed: int) -> bytes:
    data = hashlib.shake_256(str(seed).encode()).digest(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def _send_two_calls(ship, tmp_path: Path) -> tuple[list[Path], dict[str, bytes]]:
    """Stage 1 (2.5 MiB + logs) in call 1, stage 2 (1 MiB) in call 2, 1 MiB parts."""
    runs = tmp_path / "runs"
    data = {
        "stage1.safetensors": _random_file(runs / "stage1.safetensors", 5 * MIB // 2, 1),
        "stage2.safetensors": _random_file(runs / "stage2.safetensors", MIB, 2),
    }
    (runs / "logs" / "sub").mkdir(parents=True)
    (runs / "logs" / "log.csv").write_text("epoch,loss\n1,0.5\n")
    (runs / "logs" / "sub" / ".hidden").write_text("kept")
    (runs / "card.json").write_text('{"epochs": 1}')
    calls = [tmp_path / "call1", tmp_path / "call2"]
    common = ["--part-bytes", str(MIB)]
    assert ship.main(["send", str(runs / "stage1.safetensors"), "--name", "stage1", "--out", str(calls[0]),
                      "--extra", str(runs / "logs"), str(runs / "card.json"), *common]) == 0
    assert ship.main(["send", str(runs / "stage2.safetensors"), "--name", "stage2", "--out", str(calls[1]),
                      *common]) == 0
    return calls, data


def test_plan_parts_and_limits(ship):
    assert ship.plan_parts([5 * MIB // 2, MIB, 0], MIB) == [
        [(0, MIB), (MIB, MIB), (2 * MIB, MIB // 2)], [(0, MIB)], []]
    assert ship.check_limits({f"a.{i:02d}.part": MIB for i in range(8)}) is None
    assert "9 files" in ship.check_limits({f"a.{i:02d}.part": MIB for i in range(9)})
    assert "8 already there" in ship.check_limits({"a.00.part": MIB}, existing=[1, 2, 3, 4, 5, 6, 7, 8])
    assert "the limit is 16777216" in ship.check_limits({"big.part": 16 * MIB + 1})
    assert "64 MiB" in ship.check_limits({f"a.{i:02d}.part": 16 * MIB for i in range(4)}, existing=[1])
    assert "not a name" in ship.check_limits({"a b.part": 1})


def test_round_trip_over_two_calls(ship, tmp_path, capsys):
    calls, data = _send_two_calls(ship, tmp_path)
    assert sorted(p.name for p in calls[0].iterdir()) == [
        "stage1.00.part", "stage1.01.part", "stage1.02.part", "stage1.extra.tar.gz", "stage1.manifest.json"]
    manifest = json.loads((calls[0] / "stage1.manifest.json").read_text())
    assert [p["size"] for p in manifest["files"][0]["parts"]] == [MIB, MIB, MIB // 2]
    assert manifest["files"][0]["sha256"] == hashlib.sha256(data["stage1.safetensors"]).hexdigest()
    capsys.readouterr()

    target = tmp_path / "target"
    assert ship.main(["receive", str(calls[0]), str(calls[1]), "--into", str(target)]) == 0
    for name, content in data.items():
        assert (target / name).read_bytes() == content
    assert (target / "logs" / "log.csv").read_text() == "epoch,loss\n1,0.5\n"
    assert (target / "logs" / "sub" / ".hidden").read_text() == "kept"
    assert (target / "card.json").is_file()
    out = capsys.readouterr().out
    assert hashlib.sha256(data["stage2.safetensors"]).hexdigest() in out
    assert not [p for p in target.iterdir() if p.name.startswith(".")]


def test_parts_spread_over_calls_are_found_by_name(ship, tmp_path):
    calls, data = _send_two_calls(ship, tmp_path)
    os.replace(calls[0] / "stage1.02.part", calls[1] / "stage1.02.part")
    assert ship.main(["receive", str(calls[0]), "--into", str(tmp_path / "t1")]) == 2
    assert not (tmp_path / "t1" / "stage1.safetensors").exists()
    assert ship.main(["receive", str(calls[0]), str(calls[1]), "--into", str(tmp_path / "t2")]) == 0
    assert (tmp_path / "t2" / "stage1.safetensors").read_bytes() == data["stage1.safetensors"]


def test_too_many_parts_are_refused_and_nothing_is_written(ship, tmp_path, capsys):
    _random_file(tmp_path / "w.bin", 9 * 1000, 3)
    out = tmp_path / "out"
    assert ship.main(["send", str(tmp_path / "w.bin"), "--out", str(out), "--part-bytes", "1000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ship.py: error: 10 files would go to")
    assert "the limit is 8" in err
    assert not out.exists()


def test_files_already_in_out_count_and_a_used_tag_is_refused(ship, tmp_path, capsys):
    _random_file(tmp_path / "a.bin", 5000, 5)
    _random_file(tmp_path / "b.bin", 3000, 6)
    out = tmp_path / "out"
    assert ship.main(["send", str(tmp_path / "a.bin"), "--name", "a", "--out", str(out), "--part-bytes", "1000"]) == 0
    before = sorted(out.iterdir())
    assert ship.main(["send", str(tmp_path / "b.bin"), "--name", "a", "--out", str(out)]) == 2
    assert ship.main(["send", str(tmp_path / "b.bin"), "--name", "b", "--out", str(out), "--part-bytes", "1000"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "a.manifest.json: exists already" in err[0]
    assert err[1].endswith("10 files would go to " + str(out) + " (6 already there), the limit is 8: "
                           "send fewer FILEs per call")
    assert sorted(out.iterdir()) == before


def test_bad_part_size_tag_or_missing_file_are_refused(ship, tmp_path, capsys):
    _random_file(tmp_path / "w.bin", 10, 4)
    out = tmp_path / "out"
    cases = [
        ["--part-bytes", str(16 * MIB + 1)],
        ["--part-bytes", "0"],
        ["--name", "a/b"],
    ]
    for extra in cases:
        assert ship.main(["send", str(tmp_path / "w.bin"), "--out", str(out), *extra]) == 2
    assert ship.main(["send", str(tmp_path / "nope.bin"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and all(line.startswith("ship.py: error: ") for line in err)
    assert "--part-bytes 16777217" in err[0] and "nope.bin: no such file" in err[3]
    assert not out.exists()


def test_corrupted_part_is_refused_and_nothing_is_joined(ship, tmp_path, capsys):
    calls, _ = _send_two_calls(ship, tmp_path)
    part = calls[0] / "stage1.01.part"
    damaged = bytearray(part.read_bytes())
    damaged[123] ^= 0xFF
    part.write_bytes(bytes(damaged))
    capsys.readouterr()
    target = tmp_path / "target"
    assert ship.main(["receive", str(calls[0]), str(calls[1]), "--into", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ship.py: error: stage1.01.part: sha256 mismatch") and err.count("\n") == 1
    assert not target.exists() or not list(target.iterdir())


def test_missing_part_is_named(ship, tmp_path, capsys):
    calls, _ = _send_two_calls(ship, tmp_path)
    (calls[1] / "stage2.00.part").unlink()
    capsys.readouterr()
    target = tmp_path / "target"
    assert ship.main(["receive", str(calls[0]), str(calls[1]), "--into", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == "ship.py: error: stage2.00.part: missing (expected from a later call?)\n"
    assert not target.exists()


def _manifest_with_tarball(folder: Path, members: list[tarfile.TarInfo]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    folder.mkdir()
    (folder / "bad.extra.tar.gz").write_bytes(buffer.getvalue())
    extra = {"name": "bad.extra.tar.gz", "size": len(buffer.getvalue()),
             "sha256": hashlib.sha256(buffer.getvalue()).hexdigest()}
    manifest = {"format": "wsinuc-ship/1", "name": "bad", "part_bytes": MIB, "files": [], "extra": extra}
    (folder / "bad.manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_unsafe_tar_members_are_refused(ship, tmp_path, capsys, kind):
    member = tarfile.TarInfo({"dotdot": "../evil", "absolute": "/tmp/evil", "symlink": "evil"}[kind])
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        member.size = 4
    _manifest_with_tarball(tmp_path / "call", [member])
    target = tmp_path / "target"
    assert ship.main(["receive", str(tmp_path / "call"), "--into", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ship.py: error: bad.extra.tar.gz: member") and "evil" in err
    assert not (tmp_path / "evil").exists() and not target.exists()
