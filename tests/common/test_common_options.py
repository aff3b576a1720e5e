"""common.options: the value checks every parser uses."""
from __future__ import annotations

import argparse

import pytest

from common.options import OneLineParser, gpu_ids, integer, number, plain_name, relative_subpath


def _parser() -> OneLineParser:
    p = OneLineParser(prog="x")
    p.add_argument("--fps", type=number(0, 120, lo_open=True), default=25.0)
    p.add_argument("--batch_size", type=integer(1, 64), default=1)
    p.add_argument("--gain", type=float, default=1.0)  # a plain float flag added by someone else
    p.add_argument("--limit", type=float, default=float("inf"))
    return p


@pytest.mark.parametrize("argv, flag", [
    (["--fps", "nan"], "--fps"), (["--fps", "0"], "--fps"), (["--fps=--"], "--fps"),
    (["--batch_size", "65"], "--batch_size"), (["--gain", "nan"], "--gain"), (["--gain", "-inf"], "--gain"),
    (["--limit", "nan"], "--limit"), (["--batch", "2"], "--batch"),
])
def test_one_line_errors(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(argv)
    assert exc.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0]


def test_good_values():
    ns = _parser().parse_args(["--fps", "120", "--batch_size", "64", "--gain", "-2.5", "--limit", "inf"])
    assert (ns.fps, ns.batch_size, ns.gain, ns.limit) == (120.0, 64, -2.5, float("inf"))


@pytest.mark.parametrize("text", ["-1", "0", "0,1", " 2 , 3 ", ""])
def test_gpu_ids_ok(text):
    assert gpu_ids(text) == text


@pytest.mark.parametrize("text", ["abc", "-2", "1_0", "\u0663", "0,", "0;1"])
def test_gpu_ids_bad(text):
    with pytest.raises(argparse.ArgumentTypeError):
        gpu_ids(text)


def test_names():
    assert plain_name("iter_500") == "iter_500" and plain_name("") == ""
    assert relative_subpath("formal/cartoon") == "formal/cartoon"
    for bad in ("a/b", "..", ".", "x\x00y", "a\\b"):
        with pytest.raises(argparse.ArgumentTypeError):
            plain_name(bad)
    for bad in ("/abs", "a/../b", "a//b", "./a", "a/.."):
        with pytest.raises(argparse.ArgumentTypeError):
            relative_subpath(bad)
