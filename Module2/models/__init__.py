"""Module2 models, found by ``--model`` through the ``MODELS`` registry.

How to add a model (CycleGAN convention, explicit registration):

1. Create ``Module2/models/<name>_model.py`` with a class ``<Name>Model(BaseModel)``
   (e.g. ``geomgm_ifw_fore_model.py`` → ``GeomGMIFWForeModel``) and decorate it with
   ``@MODELS.register("<name>")``.
2. Implement ``modify_commandline_options(parser, is_train)`` (static; add the model's
   flags, change defaults such as ``dataset_mode``), ``__init__(opt)`` (call
   ``BaseModel.__init__`` first, then fill ``loss_names``, ``model_names``,
   ``visual_names``, build ``self.net<Name>`` networks and, when training, optimizers),
   ``set_input(input)``, ``forward()`` and, for training, ``optimize_parameters()``.
3. Import the module at the bottom of this file so that it registers itself.

``--model`` then accepts the new name (argparse ``choices`` come from the registry).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from common import Registry

if TYPE_CHECKING:
    from .base_model import BaseModel

__all__ = ["MODELS", "create_model", "get_option_setter", "find_model_using_name"]

MODELS: Registry = Registry("model")


def find_model_using_name(model_name: str) -> type[BaseModel]:
    """The model class registered as ``model_name`` (unknown names list the valid ones)."""
    return MODELS.get(model_name)


def get_option_setter(model_name: str) -> Callable:
    """The model's static ``modify_commandline_options(parser, is_train)``."""
    return find_model_using_name(model_name).modify_commandline_options


def create_model(opt):
    """Build the model named by ``opt.model`` from the parsed options."""
    import logging

    instance = find_model_using_name(opt.model)(opt)
    logging.getLogger(__name__).info("model [%s] was created", type(instance).__name__)
    return instance


# Importing a model module registers it.
from . import (  # noqa: E402
    geomcgt_ifw_test_model,  # noqa: F401
    geomgm_ifw_cartoon_fore_model,  # noqa: F401
    geomgm_ifw_fore_model,  # noqa: F401
)
