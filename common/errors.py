"""Errors a user can cause and fix: the CLI prints them as one line and exits non-zero.

Anything that is not a :class:`UserError` is a bug and keeps its traceback.
"""
from __future__ import annotations

__all__ = [
    "UserError",
    "InputError",
    "NoFaceError",
    "AudioError",
    "CheckpointError",
    "FFmpegError",
    "OutputError",
    "Terminated",
]


class UserError(Exception):
    """Base class of every error caused by the user's input or environment."""

    exit_code = 2


class InputError(UserError):
    """An input file is missing, unreadable or of the wrong kind."""


class NoFaceError(InputError):
    """No usable face was found in the photo."""


class AudioError(InputError):
    """The speech input is missing, corrupt, empty, silent or too long."""


class CheckpointError(UserError):
    """A checkpoint file is missing or does not match the network it is loaded into."""


class FFmpegError(UserError):
    """ffmpeg failed; the message carries the tail of its stderr."""


class OutputError(UserError):
    """The output location cannot be written."""


class Terminated(BaseException):
    """The process got SIGTERM: raised in the main thread like Ctrl-C's ``KeyboardInterrupt``.

    A ``BaseException`` so that ``except Exception`` never swallows it; ``finally`` blocks
    (staging folders, ffmpeg children) still run. Exit status 143 = 128 + SIGTERM.
    """

    exit_code = 143
