"""Shared kernel of the project: errors, registry, landmark files, checkpoints, media, audio.

Module1 and Module2 both depend on this package and never on each other.
"""
from .audio import Audio
from .errors import (
    AudioError,
    CheckpointError,
    FFmpegError,
    InputError,
    NoFaceError,
    OutputError,
    UserError,
)
from .landmarks import LandmarkSequence, read_landmark_file, write_landmark_file
from .registry import Registry

__all__ = [
    "Audio",
    "AudioError",
    "CheckpointError",
    "FFmpegError",
    "InputError",
    "LandmarkSequence",
    "NoFaceError",
    "OutputError",
    "Registry",
    "UserError",
    "read_landmark_file",
    "write_landmark_file",
]
