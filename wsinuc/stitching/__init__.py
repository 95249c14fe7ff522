"""Stitching: one owner per nucleus across chunks, global ids, and painting the label image."""

from wsinuc.stitching.ownership import OwnedObjects, anchor_keys, key_anchors, own_objects
from wsinuc.stitching.paint import OwnerMasks, paint_block
from wsinuc.stitching.relabel import KeyLookup, apply_key_lookup, build_key_lookup

__all__ = [
    "KeyLookup",
    "OwnedObjects",
    "OwnerMasks",
    "anchor_keys",
    "apply_key_lookup",
    "build_key_lookup",
    "key_anchors",
    "own_objects",
    "paint_block",
]
