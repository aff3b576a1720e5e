"""Checkpoints are data: every released layout loads weights-only, a code-running pickle is refused."""
from __future__ import annotations

import argparse
import io
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from common.checkpoint import load_state_dict, read_checkpoint, safe_load
from common.errors import CheckpointError

MARKER_NAME = "PWNED"


class _Payload:
    """Unpickling this calls ``open(marker, 'w')``: the file appears if any code from the pickle runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A torch file whose pickle would create ``marker`` when loaded without weights_only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    net = torch.nn.Linear(2, 2)
    state = OrderedDict(net.state_dict())
    state["evil"] = _Payload(marker)  # type: ignore[assignment]
    torch.save(state, path)
    return path


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.InstanceNorm2d(4), torch.nn.Conv2d(4, 2, 1))


def _trained_adam(net: torch.nn.Module) -> torch.optim.Optimizer:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.ones(1, 3, 5, 5)).sum().backward()
    opt.step()
    return opt


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / MARKER_NAME
    path = write_malicious_checkpoint(tmp_path / "70_net_G_A.pth", marker)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "io.open" in msg and "refusing" in msg
    with pytest.raises(CheckpointError):
        load_state_dict(path, torch.nn.Linear(2, 2))
    assert not marker.exists()


def test_namespace_and_other_classes_are_refused(tmp_path):
    torch.save({"model": _net().state_dict(), "opt": argparse.Namespace(a=1)}, tmp_path / "ns.pth")
    with pytest.raises(CheckpointError, match=r"argparse\.Namespace"):
        read_checkpoint(tmp_path / "ns.pth", key="model")


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_torchscript_archive_is_refused(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(tmp_path / "ts.pt"))
    with pytest.raises(CheckpointError) as err:
        safe_load(tmp_path / "ts.pt")
    assert "ts.pt" in str(err.value) and "\n" not in str(err.value)


def test_plain_state_dict_with_metadata_and_legacy_format(tmp_path):
    net = _net()
    torch.save(net.state_dict(), tmp_path / "static_drawing.pth")  # OrderedDict with _metadata
    torch.save(net.state_dict(), tmp_path / "sphere20a_20171020.pth", _use_new_zipfile_serialization=False)
    for name in ("static_drawing.pth", "sphere20a_20171020.pth"):
        other = load_state_dict(tmp_path / name, _net())
        for a, b in zip(net.state_dict().values(), other.state_dict().values()):
            assert torch.equal(a, b)


def test_data_parallel_prefix_like_modnet(tmp_path):
    net = _net()
    torch.save(OrderedDict(("module." + k, v) for k, v in net.state_dict().items()), tmp_path / "modnet.ckpt")
    other = load_state_dict(tmp_path / "modnet.ckpt", _net())
    assert torch.equal(other[0].weight, net[0].weight)


def test_pth_tar_with_optimizer_and_numpy_values(tmp_path):
    """The MobileFaceNet-style ``.pth.tar``: epoch, state_dict, optimizer state, numpy scores and arrays."""
    net = _net()
    opt = _trained_adam(net)
    doc = {"epoch": 41, "arch": "mobilefacenet", "state_dict": net.state_dict(), "optimizer": opt.state_dict(),
           "best_nme": np.float64(0.0421), "best_epoch": np.int64(40), "mean": np.arange(4, dtype=np.float32),
           "betas": (0.9, 0.999), "flags": {True, False}, "blob": b"\x00\x01"}
    path = tmp_path / "mobilefacenet_model_best.pth.tar"
    torch.save(doc, path)
    got = safe_load(path)
    assert got["epoch"] == 41 and got["best_nme"] == np.float64(0.0421) and got["best_epoch"] == 40
    assert np.array_equal(got["mean"], np.arange(4, dtype=np.float32)) and got["blob"] == b"\x00\x01"
    assert got["optimizer"]["param_groups"][0]["lr"] == 1e-3
    other = load_state_dict(path, _net(), key="state_dict")
    assert torch.equal(other[2].bias, net[2].bias)


def test_numpy1_spelling_of_scalars_is_accepted(tmp_path):
    """Files written under numpy 1 name ``numpy.core.multiarray.scalar``; numpy 2 writes ``numpy._core``."""
    path = tmp_path / "old.pth.tar"
    torch.save({"state_dict": _net().state_dict(), "best": np.float64(1.5)}, path,
               _use_new_zipfile_serialization=False)
    raw = path.read_bytes()
    assert b"numpy._core.multiarray" in raw
    path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert safe_load(path)["best"] == 1.5


def test_module1_layouts(tmp_path):
    """``{'model': ...}`` (AutoVC), ``{'model_g_face_id': ..., 'epoch'}``, ``{'G': ..., 'epoch'}``, with an optimiser."""
    net = _net()
    opt = _trained_adam(net)
    for key in ("model", "model_g_face_id", "G"):
        torch.save({key: net.state_dict(), "epoch": 3, "optimizer": opt.state_dict(), "loss_history": [0.5, 0.25]},
                   tmp_path / f"{key}.pth")
        load_state_dict(tmp_path / f"{key}.pth", _net(), key=key)
        assert read_checkpoint(tmp_path / f"{key}.pth", key=key).keys() == net.state_dict().keys()


def test_truncated_and_foreign_files_are_one_line(tmp_path):
    torch.save(_net().state_dict(), tmp_path / "full.pth")
    raw = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(raw[: len(raw) // 2])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not torch")
    (tmp_path / "zip.pth").write_bytes(buf.getvalue())
    (tmp_path / "empty.pth").write_bytes(b"")
    for name in ("cut.pth", "zip.pth", "empty.pth"):
        with pytest.raises(CheckpointError) as err:
            safe_load(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)


def test_reference_checkpoints_load_weights_only(reference_dir):
    """The parity fixtures written by the original's classes load through the safe loader."""
    files = sorted(reference_dir.glob("fixtures/**/*.pth"))
    assert files
    for path in files:
        obj = safe_load(path)
        assert isinstance(obj, dict) and obj
