"""Auxiliary nets of the test path: state-dict layout vs the original classes, forwards, loaders."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from common.errors import CheckpointError
from Module2.models.auxiliary.flownet import (
    FlowUnet,
    FlowUnet_v2,
    build_flow_net,
    detect_flow_family,
    load_flow_net,
)
from Module2.models.auxiliary.modnet import MODNet, load_modnet, matte
from Module2.models.auxiliary.photo2cartoon import (
    ResnetGenerator,
    cartoonize_photo,
    load_photo2cartoon,
    photo_to_uint8,
    static_cartoon,
)

# The two runnable flow-net candidates recorded in state_dicts.json.
FLOW_OPT = {
    "unet_v2": {"which_model": "unet_v2", "nf": 32, "max_nf": 128, "start_scale": 2, "num_scale": 4, "norm": "batch",
                "input_type1": "joint", "input_type2": "joint", "joint_nc": 68, "id": "FlowReg_id_flow_faces"},
    "unet": {"which_model": "unet", "nf": 32, "max_nf": 128, "start_scale": 2, "num_scale": 4, "norm": "batch",
             "input_type1": "joint", "input_type2": "joint", "joint_nc": 68, "id": "FlowReg_id_flow_faces"},
}
REF_ENTRY = {"unet_v2": "FlowNet_candidate_unet_v2", "unet": "FlowNet_candidate_unet"}


@pytest.fixture(scope="module")
def state_dicts(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "module2" / "state_dicts.json").read_text())


def _layout(net: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in net.state_dict().items()]


def _ref_layout(entry: dict, strip: str = "") -> list[tuple[str, tuple[int, ...]]]:
    return [(k[len(strip):] if strip and k.startswith(strip) else k, tuple(shape)) for k, shape, _ in entry["state_dict"]]


def _n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-default values everywhere (incl. BN running stats) so a load that silently skips a tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                vals = torch.rand(t.shape, generator=g) * 0.5 + (0.75 if name.endswith("running_var") else -0.25)
                t.copy_(vals)
    return net


# --------------------------------------------------------------------------------------------
# MODNet
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def modnet() -> MODNet:
    torch.manual_seed(0)
    return MODNet(in_channels=3, hr_channels=32).eval()


def test_modnet_layout_matches_original(modnet, state_dicts):
    ref = state_dicts["MODNet"]
    assert _layout(modnet) == _ref_layout(ref, strip="module.")
    assert len(modnet.state_dict()) == ref["num_state_dict_entries"] == 751
    assert _n_params(modnet) == ref["total_parameters"] == 6_487_075


def test_modnet_backbone_is_shared_with_lr_branch(modnet):
    assert modnet.lr_branch.backbone is modnet.backbone
    sd = modnet.state_dict()
    assert sd["backbone.model.features.0.0.weight"].data_ptr() == sd["lr_branch.backbone.model.features.0.0.weight"].data_ptr()


def test_modnet_matte_shape_and_range(modnet):
    img = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        semantic, detail, alpha = modnet(img, True)
    assert semantic is None and detail is None
    assert alpha.shape == (1, 1, 256, 256)
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0
    assert torch.equal(matte(modnet, img), alpha)


def test_modnet_training_outputs_all_three_heads():
    net = MODNet().train()
    semantic, detail, alpha = net(torch.zeros(2, 3, 64, 64), False)
    assert semantic.shape == (2, 1, 4, 4)  # the semantic head works at 1/16
    assert detail.shape == (2, 1, 64, 64)
    assert alpha.shape == (2, 1, 64, 64)


def test_load_modnet_round_trip_with_dataparallel_prefix(tmp_path, modnet):
    src = _randomise(MODNet(), seed=3)
    path = tmp_path / "modnet_photographic_portrait_matting.ckpt"
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, path)
    loaded = load_modnet(path, "cpu")
    assert not loaded.training
    got, want = loaded.state_dict(), src.state_dict()
    assert list(got) == list(want)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_load_modnet_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_modnet(tmp_path / "absent.ckpt")


def test_matte_rejects_wrong_channels(modnet):
    with pytest.raises(ValueError, match="B, 3, H, W"):
        matte(modnet, torch.zeros(1, 1, 32, 32))


# --------------------------------------------------------------------------------------------
# Intrinsic-flow regressor
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flow_nets() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {fam: build_flow_net(opt) for fam, opt in FLOW_OPT.items()}


@pytest.mark.parametrize("family", ["unet_v2", "unet"])
def test_flow_net_layout_matches_candidate(flow_nets, state_dicts, family):
    net = flow_nets[family]
    ref = state_dicts[REF_ENTRY[family]]
    assert isinstance(net, FlowUnet_v2 if family == "unet_v2" else FlowUnet)
    assert _layout(net) == _ref_layout(ref)
    assert _n_params(net) == ref["total_parameters"]
    assert detect_flow_family(net.state_dict().keys()) == family


def test_flow_net_param_counts_are_the_known_ones(flow_nets):
    assert _n_params(flow_nets["unet_v2"]) == 4_932_747
    assert _n_params(flow_nets["unet"]) == 16_900_811


@pytest.mark.parametrize("family", ["unet_v2", "unet"])
def test_flow_net_forward_shapes(flow_nets, family):
    x = torch.zeros(1, 136, 224, 224)
    x[:, ::9, 100:110, 90:100] = 1.0
    with torch.no_grad():
        out = flow_nets[family](x)
    assert isinstance(out, tuple) and len(out) == 4
    flow_out, vis_out, flow_pyr, _feat = out
    assert flow_out.shape == (1, 2, 224, 224)
    assert vis_out.shape == (1, 3, 224, 224)
    assert len(flow_pyr) == 4
    assert flow_pyr[0].shape == (1, 2, 112, 112)  # finest level at 224 / start_scale
    assert torch.isfinite(flow_out).all() and torch.isfinite(vis_out).all()


def _write_flow_release(root: Path, opt: dict, net: torch.nn.Module) -> Path:
    """The released layout: checkpoints/FlowReg_id_flow_faces/{train_opt.json, best_net_netF.pth}."""
    directory = root / "FlowReg_id_flow_faces"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train_opt.json").write_text(json.dumps(opt))
    torch.save(net.state_dict(), root / opt["id"] / "best_net_netF.pth")
    return directory


@pytest.mark.parametrize("family", ["unet_v2", "unet"])
def test_load_flow_net_round_trip(tmp_path, family):
    torch.manual_seed(1)
    src = _randomise(build_flow_net(FLOW_OPT[family]), seed=4)
    directory = _write_flow_release(tmp_path, FLOW_OPT[family], src)
    loaded = load_flow_net(directory, "cpu")
    assert type(loaded) is type(src) and not loaded.training
    got, want = loaded.state_dict(), src.state_dict()
    assert list(got) == list(want)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_load_flow_net_weights_under_checkpoints_dir_by_id(tmp_path, flow_nets):
    opt = dict(FLOW_OPT["unet_v2"], id="other_run")
    json_dir = tmp_path / "json" / "FlowReg_id_flow_faces"
    json_dir.mkdir(parents=True)
    (json_dir / "train_opt.json").write_text(json.dumps(opt))
    (tmp_path / "ckpts" / "other_run").mkdir(parents=True)
    torch.save(flow_nets["unet_v2"].state_dict(), tmp_path / "ckpts" / "other_run" / "best_net_netF.pth")
    with pytest.raises(CheckpointError, match=r"other_run[/\\]best_net_netF\.pth"):
        load_flow_net(json_dir)  # default checkpoints_dir = json_dir.parent
    assert isinstance(load_flow_net(json_dir, checkpoints_dir=tmp_path / "ckpts"), FlowUnet_v2)


def test_load_flow_net_json_family_disagrees_with_weights(tmp_path, flow_nets):
    directory = _write_flow_release(tmp_path, FLOW_OPT["unet"], flow_nets["unet_v2"])
    with pytest.raises(CheckpointError, match=r"which_model='unet'.*'unet_v2' weights"):
        load_flow_net(directory)


def test_load_flow_net_missing_files(tmp_path, flow_nets):
    directory = tmp_path / "FlowReg_id_flow_faces"
    with pytest.raises(CheckpointError, match="train_opt.json"):
        load_flow_net(directory)
    directory.mkdir()
    (directory / "train_opt.json").write_text(json.dumps(FLOW_OPT["unet_v2"]))
    with pytest.raises(CheckpointError, match="best_net_netF.pth"):
        load_flow_net(directory)


def test_load_flow_net_bad_json(tmp_path):
    directory = tmp_path / "FlowReg_id_flow_faces"
    directory.mkdir()
    (directory / "train_opt.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_flow_net(directory)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"which_model": "resnet"}, "unknown flow network which_model='resnet'"),
        ({"joint_nc": 18}, "joint_nc must be 68"),
        ({"input_type1": "img+joint"}, "input_type1='img\\+joint' is not supported"),
        ({"num_scale": 5}, "cannot run on 224"),
        ({"norm": "group"}, "norm must be 'batch' or 'instance'"),
        ({"start_scale": 3}, "start_scale"),
    ],
)
def test_build_flow_net_rejects_bad_configuration(change, message):
    with pytest.raises(CheckpointError, match=message):
        build_flow_net({**FLOW_OPT["unet_v2"], **change})


def test_build_flow_net_missing_field_is_named():
    opt = dict(FLOW_OPT["unet_v2"])
    del opt["max_nf"]
    with pytest.raises(CheckpointError, match="'max_nf' is missing"):
        build_flow_net(opt)


def test_unet_ignores_json_max_nf_like_the_original():
    a = build_flow_net({**FLOW_OPT["unet"], "max_nf": 64})
    b = build_flow_net({**FLOW_OPT["unet"], "max_nf": 1024})
    assert _layout(a) == _layout(b)


def test_detect_flow_family_unknown_and_prefixed():
    assert detect_flow_family(["fc.weight"]) is None
    assert detect_flow_family(["module.pre_conv.0.0.weight"]) == "unet_v2"
    assert detect_flow_family(["conv_downsample.0.weight", "unet_block.down.0.weight"]) == "unet"


# --------------------------------------------------------------------------------------------
# photo2cartoon
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cartoon_net() -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator(ngf=32, img_size=256, light=True).eval()


def test_photo2cartoon_layout_matches_original(cartoon_net, state_dicts):
    ref = state_dicts["photo2cartoon_genA2B"]
    assert _layout(cartoon_net) == _ref_layout(ref)
    assert len(cartoon_net.state_dict()) == ref["num_state_dict_entries"] == 406
    assert _n_params(cartoon_net) == ref["total_parameters"] == 3_831_079


def test_photo2cartoon_forward(cartoon_net):
    photo = np.random.default_rng(0).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    out = cartoonize_photo(cartoon_net, photo)
    assert out.shape == (1, 3, 256, 256) and out.dtype == torch.float32
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0
    assert float(out.std()) > 0.0


@pytest.mark.parametrize("light", [True, False])
def test_photo2cartoon_auxiliary_outputs(light):
    net = ResnetGenerator(ngf=8, img_size=64, light=light).eval()
    with torch.no_grad():
        out, cam_logit, heatmap = net(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 3, 64, 64)
    assert cam_logit.shape == (2, 2)
    assert heatmap.shape == (2, 1, 16, 16)
    assert net.FC[0].in_features == (32 if light else 16 * 16 * 32)


class _Recorder(torch.nn.Module):
    """A stand-in generator that returns its input: shows exactly what cartoonize_photo feeds G."""

    def __init__(self) -> None:
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x, None, None


def test_cartoonize_photo_preprocessing_values():
    photo = np.zeros((256, 256, 3), np.uint8)
    photo[0, 0] = (0, 127, 255)
    photo[5, 7] = (1, 128, 254)
    fed = cartoonize_photo(_Recorder(), photo)
    assert fed.dtype == torch.float32 and fed.shape == (1, 3, 256, 256)
    expect = np.float32([-1.0, 127 / 127.5 - 1, 1.0])
    assert np.array_equal(fed[0, :, 0, 0].numpy(), expect)
    assert np.array_equal(fed[0, :, 5, 7].numpy(), np.float32([1 / 127.5 - 1, 128 / 127.5 - 1, 254 / 127.5 - 1]))


def test_photo_to_uint8_truncates():
    A = torch.full((1, 3, 2, 2), -1.0)
    A[0, 0, 0, 0] = 1.0  # 255
    A[0, 1, 0, 1] = 0.999  # 1.999 * 127.5 = 254.87 → 254 (truncation, not rounding)
    A[0, 2, 1, 0] = -0.5  # 63.75 → 63
    u8 = photo_to_uint8(A)
    assert u8.dtype == np.uint8 and u8.shape == (2, 2, 3)
    assert u8[0, 0, 0] == 255 and u8[0, 1, 1] == 254 and u8[1, 0, 2] == 63 and u8[1, 1, 0] == 0


def test_static_cartoon_is_uint8_requantised_input():
    A = torch.linspace(-1, 1, 3 * 256 * 256).view(1, 3, 256, 256)
    fed = static_cartoon(_Recorder(), A)
    expect = photo_to_uint8(A).astype(np.float64) / 127.5 - 1
    assert np.array_equal(fed[0].permute(1, 2, 0).numpy(), expect.astype(np.float32))


def test_load_photo2cartoon_round_trip(tmp_path):
    src = _randomise(ResnetGenerator(ngf=32, img_size=256, light=True), seed=5)
    path = tmp_path / "cartoon.pt"
    torch.save({"genA2B": src.state_dict(), "genB2A": {}}, path)
    loaded = load_photo2cartoon(path, "cpu")
    assert not loaded.training
    got, want = loaded.state_dict(), src.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_load_photo2cartoon_errors(tmp_path, cartoon_net):
    with pytest.raises(CheckpointError, match="not found"):
        load_photo2cartoon(tmp_path / "cartoon.pt")
    path = tmp_path / "plain.pt"
    torch.save(cartoon_net.state_dict(), path)
    with pytest.raises(CheckpointError, match="no key 'genA2B'"):
        load_photo2cartoon(path)
