"""Training dataset ``umlvd_ifw_cartoon`` (photo → cartoon).

As ``umlvd_ifw`` but B images live under ``/Cartoon/`` (RGB), the static stylisation is
``/fakeB5_static/``, and there are no video clips (no B1/B2/B3/B4 items).
"""
from __future__ import annotations

from . import DATASETS
from .umlvd_ifw_dataset import UMLVDIFWDataset

__all__ = ["UMLVDIFWCartoonDataset"]


@DATASETS.register("umlvd_ifw_cartoon")
class UMLVDIFWCartoonDataset(UMLVDIFWDataset):
    """Photo A, cartoon B and the target landmarks tB/tB2."""

    b_folder = "/Cartoon/"
    static_folder = "/fakeB5_static/"
    use_clips = False
