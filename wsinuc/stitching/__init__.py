"""Stitching: one owner per nucleus across tiles, and global ids."""

from wsinuc.stitching.ownership import (
    OwnedObjects,
    anchor_keys,
    key_anchors,
    own_objects,
    stitch_into,
)
from wsinuc.stitching.relabel import (
    KeyLookup,
    apply_key_lookup,
    build_key_lookup,
    face_pairs,
    merge_lookup,
    offset_labels,
    tile_offsets,
)

__all__ = [
    "KeyLookup",
    "OwnedObjects",
    "anchor_keys",
    "apply_key_lookup",
    "build_key_lookup",
    "face_pairs",
    "key_anchors",
    "merge_lookup",
    "offset_labels",
    "own_objects",
    "stitch_into",
    "tile_offsets",
]
