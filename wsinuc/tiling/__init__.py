"""Tiling: cut an image into halo-padded tiles and pick those on tissue (pure geometry)."""

from wsinuc.tiling.plan import Box, Tile, TilePlan, plan_tiles
from wsinuc.tiling.select import select_tiles

__all__ = ["Box", "Tile", "TilePlan", "plan_tiles", "select_tiles"]
