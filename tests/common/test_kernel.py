"""Registry, landmark files, validating checkpoint loader, atomic writes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from common import CheckpointError, LandmarkSequence, Registry, read_landmark_file, write_landmark_file
from common.checkpoint import load_state_dict, safe_load, save_atomic, select_device
from common.fs import atomic_path


class TestRegistry:
    def test_register_get_and_list(self):
        reg = Registry("thing")

        @reg.register("a")
        class A: ...

        assert reg.get("a") is A and reg.names() == ["a"] and "a" in reg

    def test_unknown_lists_valid(self):
        reg = Registry("thing")
        reg.register("x")(object)
        reg.register("y")(object)
        with pytest.raises(KeyError, match="unknown thing 'z'; choose one of: x, y"):
            reg.get("z")

    def test_duplicate(self):
        reg = Registry("thing")
        reg.register("x")(object)
        with pytest.raises(ValueError):
            reg.register("x")(object)


class TestLandmarkFiles:
    def test_round_trip(self, tmp_path):
        pts = np.random.default_rng(0).uniform(0, 512, (68, 2)).astype(np.float32)
        write_landmark_file(tmp_path / "a.txt", pts)
        lines = (tmp_path / "a.txt").read_text().splitlines()
        assert len(lines) == 68 and all(len(line.split()) == 2 for line in lines)
        np.testing.assert_array_equal(read_landmark_file(tmp_path / "a.txt"), pts)

    def test_bad_file(self, tmp_path):
        (tmp_path / "b.txt").write_text("1 2\n3 4\n")
        with pytest.raises(ValueError, match="68 lines"):
            read_landmark_file(tmp_path / "b.txt")

    def test_sequence_save_load_resample(self, tmp_path):
        rng = np.random.default_rng(1)
        src = rng.uniform(0, 512, (68, 2))
        pts = src[None] + np.linspace(0, 10, 50)[:, None, None]
        seq = LandmarkSequence(pts, 62.5, src)
        paths = seq.save_frames(tmp_path / "lm")
        assert [p.name for p in paths[:2]] == ["00000.txt", "00001.txt"] and len(paths) == 50
        back = LandmarkSequence.load_frames(tmp_path / "lm", 62.5)
        np.testing.assert_allclose(back.points, seq.points, atol=1e-4)
        r = seq.resample(25.0)
        assert len(r) == 20  # 50 frames at 62.5 fps = 0.8 s = 20 frames at 25 fps
        # linear motion stays linear: frame k at t = k/25 s → offset 10·t/(49/62.5)
        np.testing.assert_allclose(r.points[5] - src, 10 * (5 / 25) / (49 / 62.5), atol=1e-3)
        longer = seq.resample(25.0, n_frames=23)  # an explicit count; frames past the end hold the last
        assert len(longer) == 23 and longer.fps == 25.0
        np.testing.assert_allclose(longer.points[-1], seq.points[-1], atol=1e-4)


class TestAudio:
    def test_resampled_keeps_duration_and_tone(self):
        from common import Audio

        sr = 44100
        t = np.arange(sr) / sr
        a = Audio(np.sin(2 * np.pi * 440 * t).astype(np.float32), sr).resampled(16000)
        assert a.sample_rate == 16000 and len(a.samples) == 16000 and a.samples.dtype == np.float32
        spectrum = np.abs(np.fft.rfft(a.samples))
        assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over 1 s
        assert Audio(np.zeros(0, np.float32), 8000).resampled(16000).samples.size == 0

    def test_shape_checked(self):
        with pytest.raises(ValueError, match=r"\(\.\.\., 68, 2\)"):
            LandmarkSequence(np.zeros((3, 67, 2)), 25, np.zeros((68, 2)))


class TestCheckpoint:
    def _net(self):
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.InstanceNorm2d(4), torch.nn.Conv2d(4, 2, 1))

    def test_strict_round_trip_with_subkey_and_prefix(self, tmp_path):
        a, b = self._net(), self._net()
        sd = {f"module.{k}": v for k, v in a.state_dict().items()}
        sd["comb_mlp.weight"] = torch.zeros(1)
        save_atomic({"G": sd}, tmp_path / "c.pth")
        load_state_dict(tmp_path / "c.pth", b, key="G", drop_prefixes=("comb_mlp",))
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb)

    def test_mismatch_names_keys(self, tmp_path):
        sd = self._net().state_dict()
        sd["0.weight"] = torch.zeros(5, 3, 3, 3)
        sd.pop("2.bias")
        sd["extra.w"] = torch.zeros(1)
        torch.save(sd, tmp_path / "bad.pth")
        with pytest.raises(CheckpointError) as err:
            load_state_dict(tmp_path / "bad.pth", self._net())
        msg = str(err.value)
        assert "bad.pth" in msg and "2.bias" in msg and "extra.w" in msg and "0.weight" in msg

    def test_missing_and_corrupt(self, tmp_path):
        with pytest.raises(CheckpointError, match="not found"):
            load_state_dict(tmp_path / "none.pth", self._net())
        (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
        with pytest.raises(CheckpointError, match="cannot read"):
            load_state_dict(tmp_path / "junk.pth", self._net())
        torch.save({"x": 1}, tmp_path / "k.pth")
        with pytest.raises(CheckpointError, match="no key 'G'"):
            load_state_dict(tmp_path / "k.pth", self._net(), key="G")

    def test_save_atomic_keeps_old_file_on_failure(self, tmp_path, monkeypatch):
        path = tmp_path / "latest_net_G.pth"
        save_atomic({"v": torch.ones(2)}, path)

        def torn(obj, f, *a, **k):
            with open(f, "wb") as fh:
                fh.write(b"half")
            raise KeyboardInterrupt

        monkeypatch.setattr(torch, "save", torn)
        with pytest.raises(KeyboardInterrupt):
            save_atomic({"v": torch.zeros(2)}, path)
        monkeypatch.undo()
        assert torch.equal(safe_load(path)["v"], torch.ones(2))
        assert [p.name for p in tmp_path.iterdir()] == ["latest_net_G.pth"]

    def test_select_device_cpu(self):
        assert select_device("-1").type == "cpu"
        assert select_device([]).type == "cpu"


def test_atomic_path_success_and_failure(tmp_path):
    target = tmp_path / "f.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "p.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "p.txt").stat().st_mode) == 0o644


class TestResolveAuto:
    class _Neural:
        @classmethod
        def unavailable_reason(cls, cfg):
            return None if cfg else "weights.pth not found"

    class _Default:
        @classmethod
        def unavailable_reason(cls, cfg):
            return None

    def _reg(self):
        from common.registry import Registry

        reg = Registry("back-end")
        reg.register("plain")(self._Default)
        reg.register("net")(self._Neural)
        return reg

    def test_auto(self):
        from common.registry import resolve_auto

        reg = self._reg()
        assert resolve_auto(reg, "auto", True, "net", "plain", "stage") == ("net", None)
        name, notice = resolve_auto(reg, "auto", False, "net", "plain", "stage")
        assert name == "plain" and notice == "stage: using 'plain' (weights.pth not found)"

    def test_explicit_unavailable_is_a_user_error(self):
        from common.registry import resolve_auto

        with pytest.raises(CheckpointError, match="stage 'net' cannot run: weights.pth not found"):
            resolve_auto(self._reg(), "net", False, "net", "plain", "stage")
        assert resolve_auto(self._reg(), "plain", False, "net", "plain", "stage") == ("plain", None)
