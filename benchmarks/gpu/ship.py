"""Ship big files back from a lent GPU machine in parts, and re-join them here.

Files come back from the device only through its ``$OUT`` folder, with hard
limits per call: at most 8 files, each at most 16 MiB, 64 MiB in all, names
only of letters, digits, ``.``, ``_`` and ``-``, at most two folders down.
Trained weights are bigger than one file may be (the paper cascade's stages
are 59 MiB and 45 MiB in fp16), so ``send`` cuts each FILE into parts of at
most 15 MiB, packs small extras (logs, JSON cards, CSV) into one tarball and
writes a manifest with the size and sha256 of every piece. It checks the
limits before writing anything and writes each output under a temporary name
first, the manifest last, so a manifest in ``$OUT`` means its parts are whole.

``receive`` reads every ``*.manifest.json`` in the folders given (one folder
per call), looks each part up by name in any of them (its manifest's own
folder first), checks every size and sha256 before writing anything, then
joins each FILE under a temporary name, checks the whole file's sha256,
renames it into place and extracts the extras (no absolute paths, no ``..``,
no links).

    # on the device, call 1:   python3 benchmarks/gpu/ship.py send /tmp/runs/cascade/stage1.safetensors --name stage1 --extra /tmp/runs/cascade/logs --out $OUT
    # on the device, call 2:   python3 benchmarks/gpu/ship.py send /tmp/runs/cascade/stage2.safetensors --name stage2 --out $OUT
    # here:                    python benchmarks/gpu/ship.py receive /work/.device/<call1> /work/.device/<call2> --into training-runs/gpu-cascade

Errors (a missing FILE, limits exceeded, a missing or damaged part) end with
exit status 2 and one line ``ship.py: error: ...`` on stderr. The script uses
the standard library only, so it runs with any ``python3`` on the device.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

MIB = 2**20
MAX_FILES = 8
MAX_FILE_BYTES = 16 * MIB
MAX_TOTAL_BYTES = 64 * MIB
DEFAULT_PART_BYTES = 15 * MIB
FORMAT = "wsinuc-ship/1"
NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
CHUNK = MIB


class ShipError(Exception):
    """A problem reported as one ``ship.py: error: ...`` line and exit status 2."""


# ---------------------------------------------------------------- helpers


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : Path
        File to hash.

    Returns
    -------
    str
        The 64-character hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mib(size: int) -> str:
    """Format a byte count as ``'12.3 MiB'``."""
    return f"{size / MIB:.1f} MiB"


def plan_parts(sizes: Sequence[int], part_bytes: int) -> list[list[tuple[int, int]]]:
    """Cut files of the given sizes into parts of at most ``part_bytes``.

    Parameters
    ----------
    sizes : sequence of int
        Size in bytes of each file.
    part_bytes : int
        Largest part, > 0.

    Returns
    -------
    list of list of (int, int)
        For each file, the ``(offset, length)`` of its parts in order; an
        empty file has no parts. Parts are numbered across all files in this
        order when named.
    """
    if part_bytes <= 0:
        raise ValueError(f"part_bytes must be > 0, got {part_bytes}")
    return [[(start, min(part_bytes, size - start)) for start in range(0, size, part_bytes)] for size in sizes]


def check_limits(new: Mapping[str, int], existing: Sequence[int] = (), where: str = "DIR") -> str | None:
    """Say what breaks the device's per-call limits, if anything.

    Parameters
    ----------
    new : mapping of str to int
        Name and size in bytes of every file that would be written.
    existing : sequence of int
        Sizes of the files already in the folder (they travel too).
    where : str
        The folder, for the message.

    Returns
    -------
    str or None
        A one-line description of the first limit broken, or None.
    """
    for name, size in new.items():
        if not NAME_RE.fullmatch(name):
            return f"{name!r} is not a name the device sends back (letters, digits, '.', '_', '-' only)"
        if size > MAX_FILE_BYTES:
            return f"{name} would be {size} bytes ({mib(size)}), the limit is {MAX_FILE_BYTES} (16 MiB) a file"
    count, total = len(new) + len(existing), sum(new.values()) + sum(existing)
    there = f" ({len(existing)} already there)" if existing else ""
    if count > MAX_FILES:
        return f"{count} files would go to {where}{there}, the limit is {MAX_FILES}: send fewer FILEs per call"
    if total > MAX_TOTAL_BYTES:
        return (
            f"{total} bytes ({mib(total)}) would go to {where}{there}, the limit is {MAX_TOTAL_BYTES} "
            "(64 MiB): send fewer FILEs or extras per call"
        )
    return None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``.<name>.tmp`` beside ``path``, then rename it to ``path``."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


# ---------------------------------------------------------------- send


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="ship.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="on the device: cut FILEs into parts in --out")
    send.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files to send")
    send.add_argument("--out", type=Path, required=True, help="folder that comes back ($OUT)")
    send.add_argument("--name", default="ship", help="TAG that starts every output name (default: ship)")
    send.add_argument("--extra", type=Path, nargs="+", action="extend", default=[], help="small files/folders")
    send.add_argument("--part-bytes", type=int, default=DEFAULT_PART_BYTES, help="largest part (default 15 MiB)")
    receive = commands.add_parser("receive", help="here: check and join what came back")
    receive.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="one folder per call")
    receive.add_argument("--into", type=Path, required=True, help="TARGET folder for the joined files")
    return parser.parse_args(argv)


def check_send_args(args: argparse.Namespace) -> None:
    """Refuse a bad tag or part size, missing inputs and clashing names (raises ShipError)."""
    if not NAME_RE.fullmatch(args.name):
        raise ShipError(f"--name {args.name!r}: use letters, digits, '.', '_' and '-' only")
    if not 0 < args.part_bytes <= MAX_FILE_BYTES:
        raise ShipError(f"--part-bytes {args.part_bytes}: must be between 1 and {MAX_FILE_BYTES} (16 MiB)")
    for path in args.files:
        if not path.is_file():
            raise ShipError(f"{path}: no such file")
    for path in args.extra:
        if not path.exists():
            raise ShipError(f"{path}: no such file or folder (--extra)")
    for label, paths in (("FILE", args.files), ("--extra", args.extra)):
        names = [path.resolve().name for path in paths]
        clash = sorted({name for name in names if names.count(name) > 1})
        if clash:
            raise ShipError(f"{clash[0]}: two {label} paths share this name")
    if (args.out / f"{args.name}.manifest.json").exists():
        raise ShipError(f"{args.out / (args.name + '.manifest.json')}: exists already, choose another --name")


def describe_files(files: Sequence[Path], part_bytes: int, tag: str) -> list[dict]:
    """Manifest entries for ``files``: name, size, sha256 and parts (name, size, sha256)."""
    sizes = [path.stat().st_size for path in files]
    entries, index = [], 0
    for path, size, plan in zip(files, sizes, plan_parts(sizes, part_bytes), strict=True):
        whole, parts = hashlib.sha256(), []
        with open(path, "rb") as handle:
            for _, length in plan:
                data = handle.read(length)
                whole.update(data)
                parts.append({"name": f"{tag}.{index:02d}.part", "size": length,
                              "sha256": hashlib.sha256(data).hexdigest()})
                index += 1
        entries.append({"name": path.resolve().name, "size": size, "sha256": whole.hexdigest(), "parts": parts})
    return entries


def pack_extras(paths: Sequence[Path]) -> bytes | None:
    """Gzipped tarball of ``paths`` (each under its basename, folders recursively; links followed)."""
    if not paths:
        return None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", dereference=True) as tar:
        for path in paths:
            tar.add(path, arcname=path.resolve().name, recursive=True)
    return buffer.getvalue()


def build_manifest(tag: str, part_bytes: int, entries: list[dict], extra: bytes | None) -> bytes:
    """The manifest JSON (UTF-8 bytes) for the files and the optional extras tarball."""
    extra_entry = None
    if extra is not None:
        extra_entry = {"name": f"{tag}.extra.tar.gz", "size": len(extra), "sha256": hashlib.sha256(extra).hexdigest()}
    manifest = {"format": FORMAT, "name": tag, "part_bytes": part_bytes, "files": entries, "extra": extra_entry}
    return (json.dumps(manifest, indent=1) + "\n").encode()


def existing_sizes(out: Path, planned: set[str]) -> list[int]:
    """Sizes of the files already under ``out`` that this call would not replace."""
    if not out.is_dir():
        return []
    return [p.stat().st_size for p in out.rglob("*") if p.is_file() and p.relative_to(out).as_posix() not in planned]


def write_parts(files: Sequence[Path], entries: list[dict], out: Path) -> None:
    """Copy every planned part into ``out``, checking it still has the hashed bytes."""
    for path, entry in zip(files, entries, strict=True):
        with open(path, "rb") as handle:
            for part in entry["parts"]:
                data = handle.read(part["size"])
                if hashlib.sha256(data).hexdigest() != part["sha256"]:
                    raise ShipError(f"{path}: changed while being sent ({part['name']})")
                write_atomic(out / part["name"], data)


def send(args: argparse.Namespace) -> int:
    """Check limits, then write the parts, the extras tarball and (last) the manifest."""
    check_send_args(args)
    entries = describe_files(args.files, args.part_bytes, args.name)
    extra = pack_extras(args.extra)
    manifest = build_manifest(args.name, args.part_bytes, entries, extra)
    new = {part["name"]: part["size"] for entry in entries for part in entry["parts"]}
    if extra is not None:
        new[f"{args.name}.extra.tar.gz"] = len(extra)
    new[f"{args.name}.manifest.json"] = len(manifest)
    problem = check_limits(new, existing_sizes(args.out, set(new)), str(args.out))
    if problem:
        raise ShipError(problem)
    args.out.mkdir(parents=True, exist_ok=True)
    write_parts(args.files, entries, args.out)
    if extra is not None:
        write_atomic(args.out / f"{args.name}.extra.tar.gz", extra)
    write_atomic(args.out / f"{args.name}.manifest.json", manifest)
    for entry in entries:
        names = [part["name"] for part in entry["parts"]]
        span = f"{names[0]}..{names[-1]}" if names else "no parts"
        print(f"{entry['name']}: {mib(entry['size'])} in {len(names)} parts ({span}), sha256 {entry['sha256']}")
    if extra is not None:
        print(f"extras: {args.name}.extra.tar.gz ({len(extra)} bytes) from {len(args.extra)} paths")
    print(f"{args.out}: {len(new)} files, {mib(sum(new.values()))} (limits: {MAX_FILES} files, 64 MiB)")
    return 0


# ---------------------------------------------------------------- receive


def safe_name(name: object, what: str) -> str:
    """Return ``name`` if it is a plain file name (no folders, not '.' or '..'), else raise ShipError."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ShipError(f"{what}: {name!r} is not a plain file name")
    return name


def check_entry(entry: object, what: str, sized: bool = True) -> None:
    """Raise ShipError unless ``entry`` has a plain ``name``, an int ``size`` and a hex ``sha256``."""
    if not isinstance(entry, dict):
        raise ShipError(f"{what}: an entry is not an object")
    safe_name(entry.get("name"), what)
    if sized and not (isinstance(entry.get("size"), int) and entry["size"] >= 0):
        raise ShipError(f"{what}: {entry['name']} has no valid size")
    if not (isinstance(entry.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])):
        raise ShipError(f"{what}: {entry['name']} has no valid sha256")


def read_manifest(path: Path) -> dict:
    """Load and sanity-check one manifest (plain names, sizes and sha256 everywhere)."""
    try:
        manifest = json.loads(path.read_text())
    except ValueError as error:
        raise ShipError(f"{path}: not JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ShipError(f"{path}: not a ship manifest (format is not {FORMAT})")
    if not isinstance(manifest.get("files"), list):
        raise ShipError(f"{path}: not a ship manifest (no files list)")
    for entry in manifest["files"]:
        check_entry(entry, path.name)
        if not isinstance(entry.get("parts"), list):
            raise ShipError(f"{path.name}: {entry['name']} has no parts list")
        for part in entry["parts"]:
            check_entry(part, path.name)
    if manifest.get("extra") is not None:
        check_entry(manifest["extra"], path.name, sized=False)
    return manifest


def load_manifests(dirs: Sequence[Path]) -> list[tuple[Path, dict]]:
    """Every ``*.manifest.json`` in ``dirs`` as ``(folder, manifest)``, in the order of ``dirs``."""
    found = []
    for folder in dirs:
        if not folder.is_dir():
            raise ShipError(f"{folder}: no such folder")
        found += [(folder, read_manifest(path)) for path in sorted(folder.glob("*.manifest.json"))]
    if not found:
        raise ShipError(f"no *.manifest.json in {', '.join(map(str, dirs))}")
    return found


def locate(name: str, size: int | None, sha256: str, home: Path, dirs: Sequence[Path]) -> Path:
    """Find the file ``name`` with this size and sha256 in ``home`` or any of ``dirs``.

    Raises
    ------
    ShipError
        ``'<name>: missing ...'`` if no folder holds it, else the first
        candidate's problem (size or sha256 mismatch).
    """
    candidates = [home / name] + [folder / name for folder in dirs if folder != home]
    candidates = [path for path in dict.fromkeys(candidates) if path.is_file()]
    if not candidates:
        raise ShipError(f"{name}: missing (expected from a later call?)")
    problems = []
    for path in candidates:
        actual = path.stat().st_size
        if size is not None and actual != size:
            problems.append(f"size {actual} bytes, the manifest says {size} (in {path.parent})")
        elif sha256_file(path) != sha256:
            problems.append(f"sha256 mismatch (in {path.parent})")
        else:
            return path
    raise ShipError(f"{name}: {problems[0]}")


def check_members(tarball: Path) -> list[tarfile.TarInfo]:
    """Members of an extras tarball, refusing absolute paths, ``..``, links and special files."""
    with tarfile.open(tarball, "r:gz") as tar:
        members = tar.getmembers()
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or "\\" in member.name:
            raise ShipError(f"{tarball.name}: member {member.name!r} would land outside the target")
        if not (member.isfile() or member.isdir()):
            raise ShipError(f"{tarball.name}: member {member.name!r} is a link or special file")
    return members


def plan_receive(dirs: Sequence[Path]) -> tuple[list[tuple[dict, list[Path]]], list[Path]]:
    """Check every part and extras tarball before anything is written.

    Returns
    -------
    jobs : list of (dict, list of Path)
        Each file's manifest entry and the paths of its verified parts.
    extras : list of Path
        Verified, safe extras tarballs, in the order of ``dirs``.
    """
    jobs, extras, seen = [], [], {}
    for home, manifest in load_manifests(dirs):
        for entry in manifest["files"]:
            if entry["name"] in seen:
                if seen[entry["name"]] != entry["sha256"]:
                    raise ShipError(f"{entry['name']}: two manifests give it different sha256")
                continue
            seen[entry["name"]] = entry["sha256"]
            parts = [locate(p["name"], int(p["size"]), p["sha256"], home, dirs) for p in entry["parts"]]
            jobs.append((entry, parts))
        extra = manifest.get("extra")
        if extra is not None:
            tarball = locate(extra["name"], extra.get("size"), extra["sha256"], home, dirs)
            check_members(tarball)
            if tarball not in extras:
                extras.append(tarball)
    return jobs, extras


def join_file(entry: dict, parts: Sequence[Path], target: Path) -> Path:
    """Join ``parts`` into ``target/<name>`` via a temporary name; check the whole sha256 first."""
    final = target / entry["name"]
    temp = final.with_name(f".{final.name}.joining")
    digest = hashlib.sha256()
    try:
        with open(temp, "wb") as sink:
            for part in parts:
                with open(part, "rb") as source:
                    for chunk in iter(lambda: source.read(CHUNK), b""):
                        digest.update(chunk)
                        sink.write(chunk)
        if digest.hexdigest() != entry["sha256"]:
            raise ShipError(f"{entry['name']}: sha256 mismatch after joining {len(parts)} parts")
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    return final


def extract_extras(tarball: Path, target: Path) -> tuple[int, int]:
    """Extract a checked tarball into ``target``; returns (members, files replaced)."""
    members = check_members(tarball)
    replaced = sum(1 for m in members if m.isfile() and (target / m.name).exists())
    with tarfile.open(tarball, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(target, members=members)
    return len(members), replaced


def receive(args: argparse.Namespace) -> int:
    """Verify everything that came back, then join the files and extract the extras."""
    jobs, extras = plan_receive(args.dirs)
    args.into.mkdir(parents=True, exist_ok=True)
    for entry, parts in jobs:
        final = join_file(entry, parts, args.into)
        print(f"{final}: sha256 {entry['sha256']} ({len(parts)} parts, {mib(entry['size'])})")
    for tarball in extras:
        count, replaced = extract_extras(tarball, args.into)
        print(f"{tarball.name}: {count} members extracted into {args.into} ({replaced} files replaced)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``send`` or ``receive``; a ShipError or OSError becomes one stderr line and exit status 2."""
    args = parse_args(argv)
    try:
        return send(args) if args.command == "send" else receive(args)
    except (ShipError, OSError) as error:
        print(f"ship.py: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
