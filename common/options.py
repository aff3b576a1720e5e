"""Command-line value checks shared by every parser: a bad value is one line naming the flag, exit 2.

The factories below are argparse ``type=`` callables: argparse turns their
:class:`argparse.ArgumentTypeError` into ``argument --flag: <message>``, which
:class:`OneLineParser` prints as a single ``error:`` line (no usage block, no traceback).
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import NoReturn

__all__ = [
    "OneLineParser",
    "number",
    "integer",
    "gpu_ids",
    "plain_name",
    "relative_subpath",
    "check_finite_floats",
]


class OneLineParser(argparse.ArgumentParser):
    """``ArgumentParser`` without abbreviations whose errors are one ``error: ...`` line and exit 2."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False  # `--batch` must never silently mean `--batch_size`
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        ns, rest = super().parse_known_args(args, namespace)
        # argparse drops a lone '--' value ("--fps=--") and stores [] without calling the type check.
        for action in self._actions:
            if action.nargs is None and action.option_strings and isinstance(getattr(ns, action.dest, None), list):
                self.error(f"argument {action.option_strings[0]}: expected one value")
        check_finite_floats(self, ns)  # flags added later with a plain type=float are covered too
        return ns, rest

    def error(self, message: str) -> NoReturn:
        print(f"error: {message.splitlines()[0] if message else 'bad arguments'} (see --help)", file=sys.stderr)
        sys.exit(2)


def _bounds(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is None and hi is None:
        return "any finite number"
    if hi is None or math.isinf(hi):
        return f"{'>' if lo_open else '>='} {lo:g}"
    if lo is None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
           allow_inf: bool = False) -> Callable[[str], float]:
    """A finite float within the bounds (``nan`` never passes; ``inf`` only with ``allow_inf``)."""
    allowed = _bounds(lo, hi, lo_open, hi_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {allowed}; got {text!r}") from None
        bad = math.isnan(value) or (math.isinf(value) and not allow_inf)
        if not bad and lo is not None:
            bad = value <= lo if lo_open else value < lo
        if not bad and hi is not None:
            bad = value >= hi if hi_open else value > hi
        if bad:
            raise argparse.ArgumentTypeError(f"must be a number {allowed}; got {text!r}")
        return value

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


def integer(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An integer within ``[lo, hi]`` (either bound may be ``None``)."""
    allowed = f"in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    if lo is not None and hi is None:
        allowed = f">= {lo}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}; got {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}; got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def gpu_ids(text: str) -> str:
    """``-1`` (CPU) or comma-separated GPU indices ``0,1``; returned unchanged (callers parse it)."""
    parts = [p.strip() for p in str(text).split(",")]
    # ASCII digits only: int() would also take '1_000' or other scripts' digits.
    ok = all(re.fullmatch(r"-?[0-9]+", p) and int(p) >= -1 for p in parts) if text.strip() else True
    if not ok:
        raise argparse.ArgumentTypeError(f"must be -1 (CPU) or GPU indices like 0 or 0,1; got {text!r}")
    return text


def _check_part(part: str, text: str, what: str) -> None:
    if part in ("", ".", "..") or "\\" in part or any(ord(c) < 32 or c == "\x7f" for c in part) or len(part) > 200:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")


def plain_name(text: str) -> str:
    """One file-name component (no separators, not ``.``/``..``): becomes part of an output file name.

    The empty string passes (callers treat it as "the default").
    """
    if text == "":
        return text
    if "/" in text:
        raise argparse.ArgumentTypeError(f"must be a plain name (no '/', '..', control characters); got {text!r}")
    _check_part(text, text, "a plain name (no '/', '..', control characters)")
    return text


def relative_subpath(text: str) -> str:
    """A relative folder path of plain names (``formal/drawing``): stays inside the folder it is joined to.

    The empty string passes (callers treat it as "the default").
    """
    if text == "":
        return text
    path = PurePosixPath(text)
    if path.is_absolute():
        raise argparse.ArgumentTypeError(f"must be a relative path like formal/drawing; got {text!r}")
    for part in text.split("/"):
        _check_part(part, text, "a relative path like formal/drawing (no '..', '.', '//', control characters)")
    return text


def check_finite_floats(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> None:
    """Reject ``nan``/``inf`` in every float flag whose default is finite (covers flags added by plug-ins)."""
    for action in parser._actions:  # argparse has no public list of actions
        if action.type is not float or action.dest not in vars(ns):
            continue
        value, default = getattr(ns, action.dest), action.default
        if isinstance(value, float) and not math.isfinite(value):
            if math.isinf(value) and isinstance(default, float) and math.isinf(default):
                continue  # e.g. --max_dataset_size inf
            parser.error(f"argument {action.option_strings[0]}: must be a finite number; got {value!r}")
