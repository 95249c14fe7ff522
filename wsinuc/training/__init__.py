"""Training of the segmentation networks: weight maps, losses, patches, loop."""
