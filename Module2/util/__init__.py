"""Helpers of Module2's scripts: image conversion (``util``), HTML result pages (``html``),
the image pool and the training visualizer."""
