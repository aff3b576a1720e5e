"""Optional pretrained helper networks of Module2, each loadable from its released file.

Absent files are handled by the callers (a clear :class:`common.errors.CheckpointError`, or a
weight-free stand-in); the modules here only build the networks and load them strictly.
"""
from .flownet import FlowUnet, FlowUnet_v2, build_flow_net, detect_flow_family, load_flow_net
from .modnet import MODNet, load_modnet, matte
from .photo2cartoon import ResnetGenerator, cartoonize_photo, load_photo2cartoon, photo_to_uint8, static_cartoon

__all__ = [
    "FlowUnet",
    "FlowUnet_v2",
    "build_flow_net",
    "detect_flow_family",
    "load_flow_net",
    "MODNet",
    "load_modnet",
    "matte",
    "ResnetGenerator",
    "cartoonize_photo",
    "load_photo2cartoon",
    "photo_to_uint8",
    "static_cartoon",
]
