"""Module2 datasets, found by ``--dataset_mode`` through the ``DATASETS`` registry.

How to add a dataset: create ``Module2/data/<mode>_dataset.py`` with a class
``<Mode>Dataset(BaseDataset)`` decorated with ``@DATASETS.register("<mode>")``
(``modify_commandline_options``, ``__init__(opt)``, ``__len__``, ``__getitem__``),
then import it at the bottom of this file. ``create_dataset(opt)`` wraps it in a
``torch.utils.data.DataLoader``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

import torch.utils.data

from common import Registry

from ..util.cpu import loader_workers
from .base_dataset import BaseDataset

__all__ = ["DATASETS", "create_dataset", "find_dataset_using_name", "get_option_setter", "DatasetLoader"]

log = logging.getLogger(__name__)

DATASETS: Registry = Registry("dataset")


def find_dataset_using_name(dataset_name: str) -> type[BaseDataset]:
    """The dataset class registered as ``dataset_name`` (unknown names list the valid ones)."""
    return DATASETS.get(dataset_name)


def get_option_setter(dataset_name: str):
    """The dataset's static ``modify_commandline_options(parser, is_train)``."""
    return find_dataset_using_name(dataset_name).modify_commandline_options


class DatasetLoader:
    """A dataset plus its ``DataLoader``; iterating yields at most ``max_dataset_size`` items."""

    def __init__(self, opt, dataset: BaseDataset | None = None) -> None:
        self.opt = opt
        self.dataset = dataset if dataset is not None else find_dataset_using_name(opt.dataset_mode)(opt)
        log.info("dataset [%s] was created", type(self.dataset).__name__)
        self.dataloader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=opt.batch_size,
            shuffle=not opt.serial_batches,
            # never more loader processes than the cores this rank may use (one is kept for torch)
            num_workers=loader_workers(int(opt.num_threads), int(getattr(opt, "world_size", 1))),
        )

    def load_data(self) -> DatasetLoader:
        return self

    def __len__(self) -> int:
        return int(min(len(self.dataset), self.opt.max_dataset_size))

    def __iter__(self) -> Iterator[dict]:
        for i, data in enumerate(self.dataloader):
            if i * self.opt.batch_size >= self.opt.max_dataset_size:
                break
            yield data


def create_dataset(opt) -> DatasetLoader:
    """Build the ``--dataset_mode`` dataset and its loader from the parsed options."""
    return DatasetLoader(opt)


# Importing a dataset module registers it.
from . import (  # noqa: E402
    umlvd_ifw_cartoon_dataset,  # noqa: F401
    umlvd_ifw_dataset,  # noqa: F401
    umlvdfw_test_dataset,  # noqa: F401
)
