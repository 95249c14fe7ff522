"""Build the shipped cascade from the two stages a GPU session brought back.

The device returns the cascade as its two stages (``stage1.safetensors`` in
call 1, ``stage2.safetensors`` in call 2, see ``session.sh``), because one
call may bring back only 64 MiB. After ``ship.py receive`` has joined and
checked them, this script loads both stages, puts them into
``create_model(preset)``, checks that every tensor arrived unchanged, and
writes the cascade (sharded when over 64 MiB) with the card the protocol
wrote on the device. When the device's Table I came back too, the card gets
what a bundled model's card holds (``tests/models/test_bundled_weights.py``):
``metrics.val`` / ``metrics.test`` (and ``metrics.train`` when scored; opening),
``*_watershed`` rows, ``postprocess`` chosen on validation AJI, and ``mpp``:

    python benchmarks/gpu/assemble.py training-runs/gpu-cascade --preset cascade --out wsinuc/weights/cascade

A run trained on this machine (``wsinuc train --out RUN``) has the same two
stages; pass its card and a Table I scored here:

    python benchmarks/gpu/assemble.py RUN --card RUN/cascade.json --table RESULTS/table1.json \
        --preset cascade --out wsinuc/weights/cascade

Errors end with exit status 2 and one line ``assemble.py: error: ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from wsinuc.errors import WsinucError
from wsinuc.models import load_weights, save_weights
from wsinuc.training.cascade import assemble_cascade


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="folder ship.py receive wrote (stage1/2 + logs/)")
    parser.add_argument("--preset", default="cascade", help="cascade preset of the run")
    parser.add_argument("--out", type=Path, required=True, help="output stem, e.g. wsinuc/weights/cascade")
    parser.add_argument("--card", type=Path, default=None,
                        help="the protocol's card (default: RUN/logs/PRESET/PRESET.json, as session.sh sends it)")
    parser.add_argument("--table", type=Path, default=None,
                        help="table1.json of `wsinuc benchmark table1` (default: RUN/table1/table1.json)")
    return parser.parse_args(argv)


def read_json(path: Path) -> dict:
    """A JSON file's content; a missing or broken file is a one-line error."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WsinucError(f"{path}: cannot read the JSON ({error})") from error


MONUSEG_MPP = 0.25
METRICS = ("aji", "f1", "aji_plus", "pq", "dq", "sq", "dice")
PROTOCOLS = {
    "paper": "paper protocol (image reflect-padded to 1024, 16 tiles of 256 px, no halo)",
    "engine": "engine protocol (chunks 512, halo 128, mpp 0.25, as `wsinuc segment`)",
}


def protocol_text(table: dict) -> str:
    """How the Table I metrics were measured, from the settings ``table1.json`` records."""
    meta = table.get("meta", {})
    protocol = meta.get("protocol", "paper")
    where = meta.get("environment", {}).get("device") or "unknown device"
    return (f"MoNuSeg 2018, mean per-image; {PROTOCOLS.get(protocol, protocol + ' protocol')}; "
            f"{meta.get('precision', 'auto')} precision; `wsinuc benchmark table1` on {where}")


def split_metrics(entry: dict, split: str) -> dict:
    """``{aji, f1, ..., images}`` of one split of a Table I entry (rounded to 4 digits)."""
    values = {m: round(entry[f"{split}_{m}"], 4) for m in METRICS if f"{split}_{m}" in entry}
    return {**values, "images": entry.get(f"{split}_images")}


def table_metrics(card: dict, table: dict, preset: str) -> dict:
    """Card fields from the device's Table I rows of ``preset`` (opening and watershed)."""
    rows = {e["postprocess"]: e for e in table["table"] if Path(e["model"]).name == preset}
    if set(rows) != {"opening", "watershed"}:
        raise WsinucError(f"table1.json: no opening and watershed rows for {preset!r}")
    metrics = {"training_validation": card.get("metrics", {}), "protocol": protocol_text(table)}
    for split in ("train", "val", "test"):
        if f"{split}_aji" not in rows["opening"]:
            continue  # a split the table did not score
        metrics[split] = split_metrics(rows["opening"], split)
        metrics[f"{split}_watershed"] = split_metrics(rows["watershed"], split)
    val_aji = {name: metrics[key].get("aji") for name, key in
               (("opening", "val"), ("watershed", "val_watershed"))}
    chosen = max(val_aji, key=lambda name: val_aji[name] if val_aji[name] is not None else -1.0)
    return {"metrics": metrics, "mpp": MONUSEG_MPP, "postprocess": chosen,
            "postprocess_selection": {"rule": "higher mean validation AJI (the protocol of metrics.protocol)",
                                      "val_aji": val_aji}}


def device_card(run: Path, preset: str, card_path: Path | None = None, table_path: Path | None = None) -> dict:
    """The card the protocol wrote (on the device by default), completed from a Table I.

    The card keeps the device's own Table I as ``device_table1`` whenever it came
    back; a Table I scored elsewhere (``table_path``, e.g. the engine protocol on
    this machine) gives the card's metrics and is kept as ``table1``.
    """
    card = read_json(card_path or run / "logs" / preset / f"{preset}.json")
    device_table = run / "table1" / "table1.json"
    table_path = table_path or device_table
    if not table_path.is_file():
        print(f"assemble.py: {table_path} missing: the card has validation metrics only",
              file=sys.stderr)
        return card
    table = read_json(table_path)
    tables = {"device_table1": read_json(device_table)} if device_table.is_file() else {}
    if table_path.resolve() != device_table.resolve():
        tables["table1"] = table
    return {**card, **table_metrics(card, table, preset), **tables}


def same_tensors(expected: torch.nn.Module, cascade: torch.nn.Module, prefix: str) -> bool:
    """True when ``cascade.<prefix>`` holds exactly the tensors of ``expected``."""
    ours = {k.removeprefix(prefix + "."): v for k, v in cascade.state_dict().items()
            if k.startswith(prefix + ".")}
    theirs = expected.state_dict()
    return ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def main(argv: list[str] | None = None) -> int:
    """Assemble, check and save the cascade; print where it went."""
    args = parse_args(argv)
    try:
        stage1, _ = load_weights(args.run / "stage1")
        stage2, _ = load_weights(args.run / "stage2")
        cascade = assemble_cascade(args.preset, stage1, stage2)
        if not (same_tensors(stage1, cascade, "stage1") and same_tensors(stage2, cascade, "stage2")):
            raise WsinucError(f"{args.run}: the stages do not fit preset {args.preset!r}")
        card = {**device_card(args.run, args.preset, args.card, args.table), "name": args.preset}
        weights, card_path = save_weights(cascade, args.out, card)
    except (WsinucError, ValueError, RuntimeError) as error:
        print(f"assemble.py: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(f"{weights} (+ card {card_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
