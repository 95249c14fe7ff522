"""The post-processing rule of a run: which method turns probabilities into nuclei, with what parameters.

One small value object names the method (``opening``, ``watershed`` or
``seeded``) and its parameters, reads them from a model card, converts its
lengths from working to level-0 pixels, and applies itself to a probability
map. The engine, the MoNuSeg benchmark and the validation scripts all go
through it, so a parameter added to a method is added once.

>>> rule = InstanceRule.from_card({"postprocess": "seeded", "seeded": {"threshold": 0.5}})
>>> rule.method, rule.threshold
('seeded', 0.5)
>>> rule.at_scale(0.5).min_seed_size   # 8 working px at half the resolution
2
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from wsinuc.errors import OptionError
from wsinuc.instances.postprocess import probability_to_instances, watershed_instances
from wsinuc.instances.seeded import seeded_instances

METHODS = ("opening", "watershed", "seeded")
"""Post-processing methods: the paper's opening, a distance watershed, and interior seeds grown back."""

SEEDED_PARAMETERS = ("threshold", "min_seed_size", "max_expansion", "seed_peak", "merge_dip")
"""The keys a model card's ``seeded`` block may hold."""


@dataclass(frozen=True)
class InstanceRule:
    """A post-processing method and its parameters, lengths in working pixels.

    Parameters
    ----------
    method : str
        ``opening`` (the paper's: opening of the nucleus mask, connected
        components), ``watershed`` (distance watershed of the nucleus mask) or
        ``seeded`` (interior seeds grown into the nucleus mask; needs a
        background / interior / boundary model).
    threshold : float
        Foreground is ``prob > threshold``.
    kernel_size : int
        ``opening`` / ``watershed``: side of the square opening (the paper's 5 px).
    min_seed_size, max_expansion, seed_peak, merge_dip
        ``seeded``: see :func:`wsinuc.instances.seeded_instances`.
    """

    method: str = "opening"
    threshold: float = 0.5
    kernel_size: int = 5
    min_seed_size: int = 8
    max_expansion: int = 4
    seed_peak: float = 0.0
    merge_dip: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise OptionError("--postprocess", f"use one of {', '.join(METHODS)} (or auto), got {self.method!r}")
        if not 0.0 <= self.threshold < 1.0:
            raise OptionError("--threshold", f"must be in [0, 1), got {self.threshold}")

    @classmethod
    def from_card(cls, card: dict, method: str = "auto", threshold: float | None = None) -> InstanceRule:
        """The rule a model card asks for (``method="auto"``), or ``method`` with the card's parameters.

        A card names its method (``postprocess``), its ``threshold`` for
        ``opening`` / ``watershed``, and a ``seeded`` block for ``seeded``;
        a card without them gets ``opening`` at 0.5. ``threshold`` overrides
        the card's.
        """
        if method == "auto":
            method = str(card.get("postprocess", "opening"))
        if method == "seeded":
            seeded = {k: v for k, v in card.get("seeded", {}).items() if k in SEEDED_PARAMETERS}
            rule = cls(method="seeded", **seeded)
        else:
            rule = cls(method=method, threshold=float(card.get("threshold", 0.5)))
        return rule if threshold is None else dataclasses.replace(rule, threshold=float(threshold))

    def at_scale(self, scale: float) -> InstanceRule:
        """The same rule on a grid of ``1 / scale`` working pixels per pixel (lengths converted).

        The opening kernel stays odd; a seed area scales with ``scale**2`` and
        keeps at least 1 pixel; the rings a seed grows by are rounded up.
        """
        if scale == 1.0:
            return self
        kernel = max(1, round(self.kernel_size / scale))
        return dataclasses.replace(
            self, kernel_size=kernel if kernel % 2 else kernel + 1,
            min_seed_size=max(1, round(self.min_seed_size / scale**2)) if self.min_seed_size else 0,
            max_expansion=max(1, math.ceil(self.max_expansion / scale)) if self.max_expansion else 0)

    def __call__(self, prob: np.ndarray, model: str = "this model") -> np.ndarray:
        """Labelled nuclei (``int32``) of ``(H, W)`` nucleus or ``(H, W, 2)`` interior + nucleus probability.

        ``model`` names the maps' model in the error ``seeded`` raises on a
        single map.
        """
        prob = np.asarray(prob)
        if self.method == "seeded":
            if prob.ndim != 3:
                raise OptionError("--postprocess", "seeded needs a model with interior and boundary outputs; "
                                                   f"{model} predicts nucleus probability only")
            return seeded_instances(prob[..., 0], prob[..., 1], threshold=self.threshold,
                                    min_seed_size=self.min_seed_size, max_expansion=self.max_expansion,
                                    seed_peak=self.seed_peak, merge_dip=self.merge_dip)
        nucleus = prob[..., 1] if prob.ndim == 3 else prob
        rule = watershed_instances if self.method == "watershed" else probability_to_instances
        return rule(nucleus, threshold=self.threshold, kernel_size=self.kernel_size)

    def parameters(self) -> dict:
        """The parameters that matter to this method (for run records and model cards)."""
        if self.method == "seeded":
            return {name: getattr(self, name) for name in SEEDED_PARAMETERS}
        return {"threshold": self.threshold, "kernel_size": self.kernel_size}
