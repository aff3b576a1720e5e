"""End-to-end pipeline: photo + speech → talking portrait video."""
