"""The paper's Table I: AJI and object F1 on train / validation / test, per model.

Each row is a model with a post-processing (``"path@watershed"`` selects the
watershed variant; the default is the paper's opening). Every row is scored
on each split with :func:`wsinuc.benchmark.monuseg.evaluate_model`, i.e.
through the same engine as ``wsinuc segment``. :func:`table_one` folds the
per-image rows into one line per model (mean per-image metrics per split, the
paper's test numbers beside them) and :func:`table_one_markdown` prints it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from wsinuc.benchmark.monuseg import PAPER_TABLE, MonusegConfig, evaluate_model, paper_key
from wsinuc.errors import OptionError
from wsinuc.metrics import mean_metrics

SPLIT_ORDER = ("train", "val", "test")
EXTRA_TEST_COLUMNS = ("aji_plus", "pq", "dice")
POSTPROCESSING = ("opening", "watershed", "seeded", "auto")
COLUMN_NAMES = {"aji": "AJI", "f1": "F1", "aji_plus": "AJI+", "pq": "PQ", "dice": "Dice"}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One row of the table: a model and the post-processing applied to its probabilities.

    Attributes
    ----------
    model : str
        Bundled model name or weights path.
    postprocess : str
        ``opening`` (the paper), ``watershed``, ``seeded`` (interior/boundary
        models) or ``auto`` (the model card's choice).
    """

    model: str
    postprocess: str = "opening"

    @property
    def label(self) -> str:
        """Row name: the weight file's stem, with ``+ watershed`` for that variant."""
        return self._named(_stem(self.model))

    @property
    def full_label(self) -> str:
        """Row name with the model as given (path and all), for rows whose stems clash."""
        return self._named(self.model.removesuffix(".safetensors"))

    def _named(self, name: str) -> str:
        return name if self.postprocess == "opening" else f"{name} + {self.postprocess}"


def row_labels(specs: Sequence[ModelSpec]) -> list[str]:
    """One distinct row name per spec: the stem, or the whole path where two stems clash.

    Raises
    ------
    OptionError
        The same model and post-processing asked for twice.
    """
    if len(set(specs)) != len(specs):
        twice = next(spec for spec in specs if specs.count(spec) > 1)
        raise OptionError("--models", f"{twice.model}@{twice.postprocess} is given twice")
    models_of_stem: dict[str, set[str]] = {}
    for spec in specs:
        models_of_stem.setdefault(_stem(spec.model), set()).add(spec.model)
    return [spec.full_label if len(models_of_stem[_stem(spec.model)]) > 1 else spec.label
            for spec in specs]


def _stem(model: str) -> str:
    return Path(model).name.removesuffix(".safetensors")


def all_rows(names: Sequence[str]) -> list[str]:
    """Rows of ``--models all``: each model with the paper's opening and with its card's choice.

    A card choosing ``opening`` (or none) gets a ``watershed`` row instead, so
    that every model still has two rows.
    """
    from wsinuc.inference.model_cache import load_card

    rows = []
    for name in names:
        card = load_card(name)
        chosen = str(card.get("postprocess", "opening"))
        rows += [name, f"{name}@{'watershed' if chosen == 'opening' else chosen}"]
    return rows


def parse_model_spec(text: str) -> ModelSpec:
    """``"name_or_path[@postprocess]"`` -> :class:`ModelSpec`.

    Raises
    ------
    OptionError
        Empty model or unknown post-processing.
    """
    model, _, postprocess = text.strip().partition("@")
    postprocess = postprocess or "opening"
    if not model:
        raise OptionError("--models", f"empty model in {text!r}")
    if postprocess not in POSTPROCESSING:
        raise OptionError("--models", f"post-processing of {text!r} must be one of {POSTPROCESSING}")
    return ModelSpec(model, postprocess)


def evaluate_table_one(
    root: Path,
    specs: Sequence[ModelSpec],
    splits: Sequence[str],
    config: MonusegConfig,
    on_image: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Per-image metric rows for every (model spec, split), tagged with ``row`` and ``split``."""
    rows = []
    for spec, label in zip(specs, row_labels(specs)):
        for split in splits:
            run = dataclasses.replace(config, split=split, postprocess=spec.postprocess)
            for row in evaluate_model(root, spec.model, run, on_image):
                rows.append({"row": label, "split": split, "postprocess": spec.postprocess, **row})
    return rows


def table_one(rows: Sequence[dict]) -> list[dict]:
    """One dict per table row: ``{split}_{metric}`` means, image counts and the paper's test numbers.

    The paper's numbers are given only for rows with the paper's post-processing.
    """
    table = []
    for label in dict.fromkeys(row["row"] for row in rows):
        mine = [row for row in rows if row["row"] == label]
        entry = {"row": label, "model": mine[0]["model"], "postprocess": mine[0]["postprocess"]}
        for split in SPLIT_ORDER:
            per_image = [_metrics_only(row) for row in mine if row["split"] == split]
            if per_image:
                entry[f"{split}_images"] = len(per_image)
                entry |= {f"{split}_{key}": value for key, value in mean_metrics(per_image).items()}
        paper = PAPER_TABLE.get(paper_key(entry["model"]), {}) if entry["postprocess"] == "opening" else {}
        entry |= {"paper_test_aji": paper.get("aji"), "paper_test_f1": paper.get("f1")}
        table.append(entry)
    return table


def _metrics_only(row: dict) -> dict:
    skip = ("row", "split", "postprocess", "model", "image_id", "organ", "n_gt", "n_pred")
    return {k: v for k, v in row.items() if k not in skip}


def table_one_markdown(table: Sequence[dict], title: str) -> str:
    """Markdown: AJI / F1 per split, AJI+ / PQ / Dice on test, the paper's test AJI / F1."""
    splits = [s for s in SPLIT_ORDER if any(f"{s}_aji" in entry for entry in table)]
    columns = [(f"{s}_{m}", f"{s} {COLUMN_NAMES[m]}") for s in splits for m in ("aji", "f1")]
    if "test" in splits:
        columns += [(f"test_{m}", f"test {COLUMN_NAMES[m]}") for m in EXTRA_TEST_COLUMNS]
    columns += [("paper_test_aji", "paper test AJI"), ("paper_test_f1", "paper test F1")]
    lines = [f"### {title}", "", "| model | " + " | ".join(name for _, name in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for entry in table:
        cells = [_cell(entry.get(key)) for key, _ in columns]
        lines.append(f"| {entry['row']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
