"""Module2 test-time path: landmark maps, Delaunay grid, flow post-processing, the test dataset,
BaseModel checkpoints, and whole-pipeline parity with the original (fixtures/module2/pipeline_drawing)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from common import read_landmark_file
from common.checkpoint import safe_load
from common.errors import CheckpointError
from Module2.data.landmark_maps import (
    FACE_LMARK_LOOKUP,
    cal_motion256,
    draw_landmark_map,
    face_window,
    flow_net_input,
    kp_to_map,
    postprocess_flow,
    trans_lm,
)
from Module2.data.umlvdfw_test_dataset import UMLVDFWTestDataset
from Module2.models.base_model import BaseModel
from Module2.models.networks import define_G


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fx(reference_dir):
    root = reference_dir / "fixtures" / "module2"
    pipe = safe_load(root / "pipeline_drawing" / "pipeline.pt")
    io = safe_load(root / "g_drawing_ngf16" / "io.pt")
    lm_dir = root / "pipeline_drawing" / "Data_Alm_txt"
    return {
        "root": root,
        "pipe": pipe,
        "io": io["inputs"],
        "G_out": io["output"],
        "src512": read_landmark_file(lm_dir / "ori.txt"),
        "dst512": read_landmark_file(lm_dir / "00000.txt"),
    }


def _flow_stand_in(vis_class: torch.Tensor):
    """The fixture's flow net: logits one_hot(vis_class), raw flow ((X−112)/2048, (Y−112)/1024)."""
    X = torch.arange(224.0).view(1, 224).expand(224, 224)
    Y = torch.arange(224.0).view(224, 1).expand(224, 224)
    raw = torch.stack([(X - 112) / 2048, (Y - 112) / 1024])[None]
    logits = torch.nn.functional.one_hot(vis_class.long(), 3).permute(2, 0, 1)[None].float()

    def flow(x: torch.Tensor):
        assert x.shape[1:] == (136, 224, 224)
        b = x.shape[0]
        return raw.expand(b, -1, -1, -1), logits.expand(b, -1, -1, -1)

    return flow


# -- pure geometry ------------------------------------------------------------------------------
class TestLandmarkMaps:
    def test_trans_lm_and_window_match_the_original(self, fx):
        src = trans_lm(fx["src512"], (512, 512), 256)
        dst = trans_lm(fx["dst512"], (512, 512), 256)
        assert np.array_equal(src, fx["pipe"]["A_lm_68"][0].numpy())
        assert np.array_equal(dst, fx["pipe"]["tB_lm_68"][0].numpy())
        assert face_window(256).tolist() == fx["pipe"]["winB"][0].tolist() == [38, 217, 51, 230]

    def test_draw_landmark_map_exact(self, fx):
        src = fx["pipe"]["A_lm_68"][0].numpy()
        dst = fx["pipe"]["tB_lm_68"][0].numpy()
        assert torch.equal(torch.from_numpy(draw_landmark_map(src, 256, 3)), fx["io"]["land1"][0])
        assert torch.equal(torch.from_numpy(draw_landmark_map(dst, 256, 3)), fx["io"]["land2"][0])

    def test_draw_landmark_map_disc(self):
        pts = np.full((68, 2), 10.5, np.float32)  # np.round → 10 (half to even)
        m = draw_landmark_map(pts, 32, 3)[0]
        assert m.dtype == np.float32 and set(np.unique(m)) == {-1.0, 1.0}
        assert m[10, 10] == 1 and m[10, 13] == 1 and m[10, 14] == -1 and m[11, 11] == 1

    def test_cal_motion256_exact(self, fx):
        grid = cal_motion256(fx["pipe"]["A_lm_68"][0].numpy(), fx["pipe"]["tB_lm_68"][0].numpy())
        assert grid.shape == (256, 256, 2) and grid.dtype == np.float32
        assert torch.equal(torch.from_numpy(grid), fx["io"]["motion"][0])

    def test_cal_motion256_identity(self):
        rng = np.random.default_rng(0)
        pts = rng.uniform(40, 210, (68, 2)).astype(np.float32)
        grid = cal_motion256(pts, pts)
        lin = np.linspace(-1, 1, 256)
        assert np.allclose(grid[..., 0], lin[None, :], atol=1e-5)
        assert np.allclose(grid[..., 1], lin[:, None], atol=1e-5)

    def test_kp_to_map(self):
        m = kp_to_map((224, 224), np.array([[100.0, 50.0], [-1.0, 5.0]]))
        assert m.shape == (2, 224, 224) and m.dtype == np.float32
        assert m[0].sum() == 49  # lattice points with dx²+dy² ≤ 16
        assert m[0, 50, 104] == 1 and m[0, 50, 105] == 0 and m[0, 54, 100] == 1
        assert m[1].sum() == 0
        x = flow_net_input(torch.full((2, 68, 2), 64.0), torch.full((2, 68, 2), 128.0))
        assert x.shape == (2, 136, 224, 224) and x[0, 0, 56, 56] == 1 and x[0, 68, 112, 112] == 1

    def test_postprocess_flow_exact(self, fx):
        raw, logits = _flow_stand_in(fx["pipe"]["vis_class_uint8_224"])(torch.zeros(1, 136, 224, 224))
        flow, mask = postprocess_flow(raw, logits)
        assert torch.equal(flow, fx["io"]["flow"]) and torch.equal(mask, fx["io"]["ifmask"])

    def test_lookup(self):
        assert FACE_LMARK_LOOKUP.shape == (64, 2)
        assert FACE_LMARK_LOOKUP[11].tolist() == [59, 48] and FACE_LMARK_LOOKUP[19].tolist() == [67, 60]
        assert FACE_LMARK_LOOKUP[23].tolist() == [30, 33] and FACE_LMARK_LOOKUP[-1].tolist() == [15, 16]


# -- dataset ------------------------------------------------------------------------------------
class TestDataset:
    def test_in_memory_items_match_the_original(self, fx):
        photo = fx["pipe"]["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy()
        ds = UMLVDFWTestDataset.from_arrays(photo, fx["src512"], fx["dst512"][None], image_size=(512, 512))
        assert len(ds) == 1
        b = next(ds.batches(1))
        A_ref = (fx["pipe"]["A_uint8_CHW_RGB"].float() / 255 - 0.5) / 0.5
        assert torch.equal(b["A"][0], A_ref)
        assert torch.equal(b["A_lm"], fx["io"]["land1"]) and torch.equal(b["tB_lm"], fx["io"]["land2"])
        assert torch.equal(b["B_lm"], b["tB_lm"]) and torch.equal(b["warp_motion"], fx["io"]["motion"])
        assert torch.equal(b["A_lm_68"], fx["pipe"]["A_lm_68"]) and torch.equal(b["tB_lm_68"], fx["pipe"]["tB_lm_68"])
        assert b["winB"].dtype == torch.int32 and torch.equal(b["winB"], fx["pipe"]["winB"])
        assert b["image_paths"] == ["ori->00000.png"] and b["realA_static_warp"].shape == (1, 3, 256, 256)

    def test_from_list_files(self, fx, tmp_path):
        db = "face-speech"
        photo_dir = tmp_path / "Data" / "Photo" / f"{db}_MTCNN"
        txt_dir = tmp_path / "Data" / "Alm_txt" / "MTCNN" / f"{db}_MTCNN"
        alm_dir = tmp_path / "Data" / "Alm" / "MTCNN" / f"{db}_MTCNN"
        for d in (photo_dir, txt_dir, alm_dir):
            d.mkdir(parents=True)
        photo = np.repeat(np.repeat(fx["pipe"]["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy(), 2, 0), 2, 1)
        Image.fromarray(photo).save(photo_dir / "ori.png")
        shutil.copy(fx["root"] / "pipeline_drawing" / "Data_Alm_txt" / "ori.txt", txt_dir / "ori.txt")
        for k, pts in enumerate([fx["dst512"], fx["src512"]]):
            np.savetxt(txt_dir / f"{k:05d}.txt", pts)
        lists = tmp_path / "list"
        (lists / "testA").mkdir(parents=True)
        (lists / "testB").mkdir(parents=True)
        (lists / "testA" / f"{db}.txt").write_text(f"{photo_dir / 'ori.png'}\n" * 2)
        (lists / "testB" / f"{db}.txt").write_text("".join(f"{alm_dir / f'{k:05d}.png'}\n" for k in range(2)))
        from Module2.options.test_options import TestOptions

        opt = TestOptions().parse(["--dataroot", db, "--list_dir", str(lists), "--checkpoints_dir", str(tmp_path)], save=False)
        ds = UMLVDFWTestDataset(opt)
        assert len(ds) == 2
        item0, item1 = ds[0], ds[1]
        assert torch.equal(item0["tB_lm"], fx["io"]["land2"][0]) and torch.equal(item0["A_lm"], fx["io"]["land1"][0])
        assert torch.equal(item0["warp_motion"], fx["io"]["motion"][0])
        assert item0["image_paths"] == "ori->00000.png" and item1["image_paths"] == "ori->00001.png"
        assert item0["A"].shape == (3, 256, 256) and -1 <= item0["A"].min() and item0["A"].max() <= 1
        lin = np.linspace(-1, 1, 256)  # frame 1 targets the source landmarks: identity grid
        assert np.allclose(item1["warp_motion"][..., 0].numpy(), lin[None, :], atol=1e-5)

    def test_missing_list_is_a_user_error(self, tmp_path):
        from common.errors import InputError
        from Module2.options.test_options import TestOptions

        opt = TestOptions().parse(["--dataroot", "none", "--list_dir", str(tmp_path)], save=False)
        with pytest.raises(InputError, match="testA"):
            UMLVDFWTestDataset(opt)


# -- BaseModel checkpoints ----------------------------------------------------------------------
class _TinyModel(BaseModel):
    def __init__(self, opt):
        BaseModel.__init__(self, opt)
        self.model_names = ["G", "D"]
        self.loss_names = ["G"]
        self.visual_names = ["out"]
        self.netG = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.InstanceNorm2d(2))
        self.netD = torch.nn.DataParallel(torch.nn.Linear(3, 1))

    def set_input(self, input):
        self.x = input

    def forward(self):
        self.out = self.netG(self.x)
        self.loss_G = self.out.mean()


class TestBaseModel:
    def _opt(self, tmp_path):
        import argparse

        return argparse.Namespace(checkpoints_dir=str(tmp_path), name="exp/a", gpu_ids=[], isTrain=False,
                                  device=torch.device("cpu"), epoch="7", load_iter=0, verbose=False)

    def test_save_load_roundtrip(self, tmp_path):
        m = _TinyModel(self._opt(tmp_path))
        paths = m.save_networks(7)
        assert [p.name for p in paths] == ["7_net_G.pth", "7_net_D.pth"]
        state = torch.load(paths[1], weights_only=True)
        assert list(state) == ["weight", "bias"]  # no 'module.' prefix
        assert not list((tmp_path / "exp" / "a").glob(".*tmp*"))
        m2 = _TinyModel(self._opt(tmp_path))
        m2.setup(m2.opt)  # test mode: loads epoch '7'
        assert torch.equal(m2.netG[0].weight, m.netG[0].weight)
        assert torch.equal(m2.netD.module.bias, m.netD.module.bias)
        m2.set_input(torch.ones(1, 1, 5, 5))
        m2.test()
        assert list(m2.get_current_visuals()) == ["out"] and m2.get_current_visuals()["out"].shape == (1, 2, 3, 3)
        assert isinstance(m2.get_current_losses()["G"], float)
        m2.set_requires_grad([m2.netG, None], False)
        assert not any(p.requires_grad for p in m2.netG.parameters())

    def test_stale_instance_norm_keys_and_mismatch(self, tmp_path):
        m = _TinyModel(self._opt(tmp_path))
        m.save_networks("old")
        p = tmp_path / "exp" / "a" / "old_net_G.pth"
        state = torch.load(p, weights_only=True)
        state["1.running_mean"] = torch.zeros(2)  # pre-0.4 InstanceNorm buffers
        state["1.num_batches_tracked"] = torch.tensor(0)
        torch.save(state, p)
        m.load_networks("old")
        state["0.weight"] = torch.zeros(3, 1, 3, 3)
        torch.save(state, p)
        with pytest.raises(CheckpointError, match="shape mismatch"):
            m.load_networks("old")


# -- whole-pipeline parity ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def parity_model(fx, tmp_path_factory):
    from common.checkpoint import load_state_dict
    from Module2.models.geomcgt_ifw_test_model import GeomCGTIFWTestModel, StaticDrawing
    from Module2.options.test_options import TestOptions

    ck = tmp_path_factory.mktemp("ck")
    (ck / "formal" / "drawing").mkdir(parents=True)
    shutil.copy(fx["root"] / "g_drawing_ngf16" / "ngf16_net_G_A.pth", ck / "formal" / "drawing" / "fx_net_G_A.pth")
    opt = TestOptions().parse(
        "--dataroot x --name formal/drawing --model geomcgt_ifw_test --netG resnet_9blocks_rcatland32_full_ifw "
        "--netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 --ngf 16 --load_size 256 --crop_size 256 --epoch fx "
        f"--blendbg 1 --checkpoints_dir {ck}".split(),
        save=False,
    )
    static_net = define_G(3, 1, 4, "resnet_style2_9blocks", "instance", False, "normal", 0.02, [])
    load_state_dict(fx["root"] / "pipeline_drawing" / "static_drawing_ngf4.pth", static_net)
    matte = fx["pipe"]["matte_uint8"].float().div(255).view(1, 1, 256, 256)
    model = GeomCGTIFWTestModel(
        opt,
        matting=lambda A, lm: matte,
        flow_net=_flow_stand_in(fx["pipe"]["vis_class_uint8_224"]),
        static_stylizer=StaticDrawing(static_net.eval()),
    )
    model.setup(opt)  # loads formal/drawing/fx_net_G_A.pth through load_networks
    model.eval()
    return model


def test_config_from_test_options(tmp_path):
    from Module2.models.geomcgt_ifw_test_model import TestModelConfig
    from Module2.options.test_options import TestOptions

    opt = TestOptions().parse(["--dataroot", "x", "--name", "formal/cartoon", "--model", "geomcgt_ifw_test", "--ngf", "16",
                               "--output_nc", "3", "--netg_resb_disp", "3", "--blendbg", "1", "--epoch", "70",
                               "--gpu_ids", "-1", "--checkpoints_dir", str(tmp_path)], save=False)
    cfg = TestModelConfig.from_options(opt)
    assert (cfg.name, cfg.ngf, cfg.output_nc, cfg.netg_resb_div, cfg.netg_resb_disp, cfg.blendbg, cfg.epoch) == \
        ("formal/cartoon", 16, 3, 3, 3, 1, "70")
    assert cfg.checkpoints_dir == tmp_path and cfg.device == torch.device("cpu") and cfg.no_dropout and not cfg.isTrain
    assert cfg.style == "cartoon"


def test_visuals_are_drawn_only_when_asked(fx, parity_model):
    photo = fx["pipe"]["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy()
    m = parity_model
    for shift in (0.0, 6.0):
        ds = UMLVDFWTestDataset.from_arrays(photo, fx["src512"], fx["dst512"][None] + shift, image_size=(512, 512))
        m.set_input(next(ds.batches(1)))
        m.test()
        if shift == 0.0:
            first = m.get_current_visuals()["fake_B_vis"].clone()
    assert torch.equal(m.fake_B_vis, first)  # forward did not redraw it
    second = m.get_current_visuals()["fake_B_vis"]
    assert second.shape == (1, 3, 256, 256) and not torch.equal(second, first)


def test_pipeline_parity(fx, parity_model):
    photo = fx["pipe"]["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy()
    ds = UMLVDFWTestDataset.from_arrays(photo, fx["src512"], fx["dst512"][None], image_size=(512, 512))
    m = parity_model
    m.set_input(next(ds.batches(1)))
    m.test()
    assert torch.equal(m.iw_flow, fx["io"]["flow"]) and torch.equal(m.ifmask, fx["io"]["ifmask"])
    assert torch.equal(m.real_A, fx["io"]["input"])
    assert torch.allclose(m.fakeB_static, fx["pipe"]["fakeB_static"], atol=1e-5)
    assert torch.equal(m.mask1, fx["pipe"]["mask1"])
    assert torch.allclose(m.fake_B_fore, fx["G_out"], atol=1e-5)
    assert torch.allclose(m.fake_B, fx["pipe"]["fake_B"], atol=1e-5)
    assert list(m.get_current_visuals()) == [
        "real_A", "real_A_lm", "target_B_lm", "fake_B", "fake_B_vis", "fg_mask", "fakeB_static", "fake_B_fore", "fg_mask1"]
    assert m.fake_B_vis.shape == (1, 3, 256, 256) and m.fg_mask.shape == (1, 3, 256, 256)


def test_pipeline_batched_frames(fx, parity_model):
    """Several frames in one batch: the fixture frame comes out the same as alone."""
    photo = fx["pipe"]["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy()
    targets = np.stack([fx["src512"], fx["dst512"], fx["dst512"] + 2.0])
    ds = UMLVDFWTestDataset.from_arrays(photo, fx["src512"], targets, image_size=(512, 512))
    m = parity_model
    m.set_input(next(ds.batches(3)))
    m.test()
    assert m.fake_B.shape == (3, 1, 256, 256)
    assert torch.allclose(m.fake_B[1:2], fx["pipe"]["fake_B"], atol=1e-5)
    assert torch.equal(m.mask1[1:2], fx["pipe"]["mask1"])
    assert not torch.allclose(m.fake_B[0], m.fake_B[2])


def test_auxiliaries_load_from_checkpoints_dir(fx, tmp_path, caplog):
    """Released layout under --checkpoints_dir: MODNet and the flow net are used, not stand-ins."""
    import json
    import logging

    from Module2.models.auxiliary.flownet import build_flow_net
    from Module2.models.auxiliary.modnet import MODNet
    from Module2.models.geomcgt_ifw_test_model import GeomCGTIFWTestModel
    from Module2.options.test_options import TestOptions

    torch.manual_seed(0)
    flow_opt = {"which_model": "unet_v2", "nf": 8, "max_nf": 16, "start_scale": 2, "num_scale": 4, "norm": "batch",
                "input_type1": "joint", "input_type2": "joint", "joint_nc": 68, "id": "FlowReg_id_flow_faces"}
    flow_dir = tmp_path / "FlowReg_id_flow_faces"
    flow_dir.mkdir()
    (flow_dir / "train_opt.json").write_text(json.dumps(flow_opt))
    torch.save(build_flow_net(flow_opt).state_dict(), flow_dir / "best_net_netF.pth")
    modnet = MODNet()
    torch.save({"module." + k: v for k, v in modnet.state_dict().items()}, tmp_path / "modnet_photographic_portrait_matting.ckpt")
    g = define_G(3, 1, 8, "resnet_9blocks_rcatland32_full_ifw", "instance", False, "normal", 0.02, [], div=3, disp=3)
    (tmp_path / "formal" / "drawing").mkdir(parents=True)
    torch.save(g.state_dict(), tmp_path / "formal" / "drawing" / "70_net_G_A.pth")
    opt = TestOptions().parse(
        f"--dataroot x --name formal/drawing --output_nc 1 --ngf 8 --epoch 70 --blendbg 1 --netg_resb_disp 3 "
        f"--checkpoints_dir {tmp_path}".split(),
        save=False,
    )
    with caplog.at_level(logging.WARNING):
        model = GeomCGTIFWTestModel(opt)
    notice = " ".join(r.getMessage() for r in caplog.records)
    assert "static drawing" in notice and "matting" not in notice and "intrinsic flow" not in notice
    assert model.flow_net is not None
    model.setup(opt)
    photo = fx["pipe"]["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy()
    ds = UMLVDFWTestDataset.from_arrays(photo, fx["src512"], fx["dst512"][None], image_size=(512, 512))
    model.set_input(next(ds.batches(1)))
    model.test()
    assert model.iw_flow.shape == (1, 2, 256, 256) and model.ifmask.shape == (1, 1, 256, 256)
    assert 0 <= model.ifmask.min() and model.ifmask.max() <= 1
    assert set(torch.unique(model.mask).tolist()) <= {0.0, 1.0}
    assert model.fake_B.shape == (1, 1, 256, 256) and torch.isfinite(model.fake_B).all()
