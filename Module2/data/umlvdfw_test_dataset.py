"""Test dataset ``umlvdfw_test`` (SPEC §1.9) — work in progress."""
from __future__ import annotations

from . import DATASETS
from .base_dataset import BaseDataset

__all__ = ["UMLVDFWTestDataset"]


@DATASETS.register("umlvdfw_test")
class UMLVDFWTestDataset(BaseDataset):
    def __len__(self):
        return 0

    def __getitem__(self, index):
        raise IndexError(index)
