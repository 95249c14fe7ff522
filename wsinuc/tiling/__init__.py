"""Tiling: cut an image into halo-padded tiles and pick those a run needs (pure geometry)."""

from wsinuc.tiling.plan import Box, Tile, TilePlan, grid_cell, plan_tiles
from wsinuc.tiling.select import crop_to_region, select_tiles

__all__ = ["Box", "Tile", "TilePlan", "crop_to_region", "grid_cell", "plan_tiles", "select_tiles"]
