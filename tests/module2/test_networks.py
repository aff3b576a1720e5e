"""Module2 networks: released state-dict layouts (vs ref/module2/state_dicts.json), registries,
initialisation, schedulers, the dual warp, discriminator output size and strict loading."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from common.checkpoint import load_state_dict
from common.errors import CheckpointError
from Module2.models.networks import (
    NETD,
    NETG,
    ResnetBlock2,
    define_D,
    define_G,
    dual_warp,
    get_norm_layer,
    get_scheduler,
    init_weights,
    landmark_blocks,
    resize_warp_inputs,
    warp_acc_flow,
    warp_motion,
)

G_NAME = "resnet_9blocks_rcatland32_full_ifw"


@pytest.fixture(scope="module")
def state_dicts(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "module2" / "state_dicts.json").read_text())


def _layout(net: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in net.state_dict().items()]


def _ref_layout(entry: dict) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(shape), dtype) for k, shape, dtype in entry["state_dict"]]


def _n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# name in state_dicts.json → builder (the original's constructor arguments)
BUILDERS = {
    "G_A_drawing": lambda: define_G(3, 1, 64, G_NAME, div=3, disp=3),
    "G_A_cartoon": lambda: define_G(3, 3, 64, G_NAME, div=3, disp=3),
    "static_drawing_G": lambda: define_G(3, 1, 64, "resnet_style2_9blocks"),
    **{f"D_A{r}_{style}": (lambda nc=nc + extra: define_D(nc, 64, "basic", 3, "instance"))
       for style, c in (("drawing", 1), ("cartoon", 3))
       for r, nc, extra in (("", c, 0), ("_l", c, 1), ("_le", c, 1), ("_ll", c, 1), ("_coh", 2 * c, 0))},
}


@pytest.mark.needs_reference
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_state_dict_layout_matches_original(name, state_dicts):
    entry = state_dicts[name]
    net = BUILDERS[name]()
    assert _layout(net) == _ref_layout(entry)  # ordered keys, shapes, dtypes
    assert len(net.state_dict()) == entry["num_state_dict_entries"]
    assert _n_params(net) == entry["total_parameters"]
    assert not list(net.buffers())  # instance norm without running stats


def test_parameter_counts_from_spec():
    # parameter counts of the original networks, independent of the json file
    assert _n_params(define_G(3, 1, 64, G_NAME)) == 15_925_553
    assert _n_params(define_G(3, 3, 64, G_NAME)) == 15_931_827
    assert _n_params(define_D(1, 64)) == 2_762_689
    assert _n_params(define_D(6, 64)) == 2_767_809
    assert _n_params(define_G(3, 1, 16, G_NAME)) == 1_087_937  # fixtures/module2/g_drawing_ngf16
    assert _n_params(define_G(3, 1, 4, "resnet_style2_9blocks")) == 48_217  # static_drawing_ngf4.pth


def test_landmark_blocks_follow_div_disp():
    assert landmark_blocks(9, 3, 3) == [0, 3, 6]
    assert landmark_blocks(9, 3, 1) == [2, 5, 8]
    g = define_G(3, 1, 8, G_NAME, div=3, disp=1)
    kinds = [isinstance(b, ResnetBlock2) for b in g.model2]
    assert kinds == [i in (2, 5, 8) for i in range(9)]
    assert "model2.2.shortcut.0.weight" in g.state_dict() and "model2.0.shortcut.0.weight" not in g.state_dict()


def test_unknown_names_list_valid_ones():
    with pytest.raises(KeyError) as e:
        define_G(3, 1, 8, "resnet_9blocks_nope")
    assert G_NAME in str(e.value) and "resnet_style2_9blocks" in str(e.value)
    with pytest.raises(KeyError) as e:
        define_D(1, 8, "nope")
    assert "basic" in str(e.value)
    assert {G_NAME, "resnet_style2_9blocks"} <= set(NETG.names())
    assert {"basic", "n_layers", "pixel"} <= set(NETD.names())


def test_discriminator_patch_map_is_30x30():
    d = define_D(2, 8, "basic", 3, "instance")
    out = d(torch.rand(1, 2, 256, 256) * 2 - 1)
    assert out.shape == (1, 1, 30, 30)
    assert define_D(1, 8, "n_layers", 2)(torch.zeros(1, 1, 64, 64)).shape == (1, 1, 14, 14)
    assert define_D(1, 8, "pixel")(torch.zeros(1, 1, 16, 16)).shape == (1, 1, 16, 16)


def test_normal_init_statistics():
    torch.manual_seed(0)
    d = define_D(3, 64, "basic", 3, "batch", init_type="normal", init_gain=0.02)
    w = d.model[8].weight  # 512·256·16 samples
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    assert all(float(m.bias.detach().abs().max()) == 0 for m in d.modules() if isinstance(m, torch.nn.Conv2d) and m.bias is not None)
    bn = d.model[6]
    assert isinstance(bn, torch.nn.BatchNorm2d) and abs(bn.weight.mean().item() - 1) < 0.01 and float(bn.bias.detach().abs().max()) == 0
    # batch norm → no conv bias (the BN shift replaces it), as in the original
    assert d.model[5].bias is None and d.model[0].bias is not None
    g = define_G(3, 1, 8, G_NAME)
    ct = g.model3[0]
    assert isinstance(ct, torch.nn.ConvTranspose2d) and abs(ct.weight.std().item() - 0.02) < 2e-3
    assert float(ct.bias.detach().abs().max()) == 0


@pytest.mark.parametrize("init_type", ["xavier", "kaiming", "orthogonal"])
def test_other_init_types(init_type):
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Linear(256, 128))
    init_weights(lin, init_type, 0.02)
    w = lin[0].weight
    expected_std = {"xavier": 0.02 * (2 / (256 + 128)) ** 0.5, "kaiming": (2 / 256) ** 0.5}.get(init_type)
    if expected_std is not None:
        assert abs(w.std().item() - expected_std) / expected_std < 0.05
    else:  # orthogonal rows, scaled by the gain
        assert torch.allclose(w @ w.T, 0.02**2 * torch.eye(128), atol=1e-6)
    assert float(lin[0].bias.detach().abs().max()) == 0
    with pytest.raises(ValueError):
        init_weights(lin, "bogus")


def test_gpu_ids_without_cuda_stay_on_cpu():
    g = define_D(1, 8, gpu_ids=[0])
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(g.parameters()).device.type == expected
    assert not any(k.startswith("module.") for k in g.state_dict())


def test_get_norm_layer():
    assert isinstance(get_norm_layer("instance")(4), torch.nn.InstanceNorm2d)
    inorm = get_norm_layer("instance")(4)
    assert not inorm.affine and not inorm.track_running_stats
    assert isinstance(get_norm_layer("batch")(4), torch.nn.BatchNorm2d)
    x = torch.randn(1, 4, 2, 2)
    assert torch.equal(get_norm_layer("none")(4)(x), x)
    with pytest.raises(ValueError):
        get_norm_layer("group")


def _lrs(policy: str, epochs: int, **kw) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    ns = argparse.Namespace(lr_policy=policy, niter=kw.get("niter", 2), niter_decay=kw.get("niter_decay", 3),
                            epoch_count=kw.get("epoch_count", 1), lr_decay_iters=kw.get("lr_decay_iters", 2))
    sched = get_scheduler(opt, ns)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(0.0) if policy == "plateau" else sched.step()
    return out


def test_schedulers():
    # linear: 1 − max(0, e + 1 − 2)/4 for e = 0…5
    assert _lrs("linear", 6) == pytest.approx([1, 1, 0.75, 0.5, 0.25, 0.0])
    # the original's command: niter 70, niter_decay 0 → constant lr for the 70 epochs
    assert _lrs("linear", 70, niter=70, niter_decay=0) == pytest.approx([1.0] * 70)
    # resumed at epoch_count 3
    assert _lrs("linear", 2, epoch_count=3) == pytest.approx([0.75, 0.5])
    assert _lrs("step", 5) == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    assert _lrs("cosine", 3, niter=2) == pytest.approx([1, 0.5, 0.0], abs=1e-7)
    assert _lrs("plateau", 8)[:7] == pytest.approx([1.0] * 7)
    with pytest.raises(ValueError):
        _lrs("bogus", 1)


# -- the warps -------------------------------------------------------------------------------------

def test_flow_warp_zero_flow_keeps_the_align_corners_quirk():
    # grid normalised with 2g/(W−1)−1 but sampled with align_corners=False: output pixel X reads the
    # input at u = X·W/(W−1) − 0.5, so a ramp image x[X] = X gives X·W/(W−1) − 0.5 inside the image
    # and the first column/row half-blends with the zero padding.
    h = w = 8
    ramp = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(1, 1, h, w).contiguous()
    out = warp_acc_flow(ramp, torch.zeros(1, 2, h, w))
    xs = torch.arange(1, w - 1, dtype=torch.float32)
    assert torch.allclose(out[0, 0, 3, 1:-1], xs * w / (w - 1) - 0.5, atol=1e-5)
    ones = warp_acc_flow(torch.ones(1, 1, h, w), torch.zeros(1, 2, h, w))
    assert ones[0, 0, 3, 0].item() == pytest.approx(0.5) and ones[0, 0, 0, 0].item() == pytest.approx(0.25)
    assert ones[0, 0, 3, 3].item() == pytest.approx(1.0)


def test_flow_warp_shift_and_mask_fill():
    h = w = 16
    img = torch.zeros(1, 2, h, w)
    img[:, 0, 5, 9] = 1.0
    img[:, 1, 5, 9] = 2.0
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0] = 3.0  # dx: target pixel X reads source X + 3 (then the quirk's scale)
    flow[:, 1] = -2.0
    out = warp_acc_flow(img, flow)
    # a pure integer translation cannot produce mass outside a 2×2 neighbourhood of (X=6, Y=7)
    peak = out[0, 0].flatten().argmax().item()
    py, px = divmod(peak, w)
    assert abs(px - 6) <= 1 and abs(py - 7) <= 1
    assert torch.allclose(out[0, 1], 2 * out[0, 0])
    mask = torch.ones(1, 1, h, w)
    mask[..., :, :4] = 0.5  # ≤ 0.5 → filled with −1 in every channel
    mask[..., :, 4:6] = 0.2
    masked = warp_acc_flow(img, flow, mask)
    assert torch.all(masked[:, :, :, :6] == -1)
    assert torch.equal(masked[:, :, :, 6:], out[:, :, :, 6:])


def test_motion_warp_samples_with_align_corners_false():
    # an identity grid built for align_corners=True is a slight zoom when sampled with False
    n = 8
    ramp = torch.arange(n, dtype=torch.float32).view(1, 1, 1, n).expand(1, 1, n, n).contiguous()
    lin = torch.arange(n, dtype=torch.float32) / ((n - 1) / 2) - 1
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    grid = torch.stack([gx, gy], -1)[None]
    out = warp_motion(ramp, grid)
    assert torch.allclose(out[0, 0, 4, 1:-1], torch.arange(1, n - 1, dtype=torch.float32) * n / (n - 1) - 0.5, atol=1e-5)


def test_resize_warp_inputs_scales_flow_to_pixels():
    motion = torch.rand(1, 32, 32, 2) * 2 - 1
    flow = torch.full((1, 2, 32, 32), 4.0)
    mask = torch.ones(1, 1, 32, 32)
    m, f, k = resize_warp_inputs(motion, flow, mask, (8, 8))
    assert m.shape == (1, 8, 8, 2) and f.shape == (1, 2, 8, 8) and k.shape == (1, 1, 8, 8)
    assert torch.allclose(f, torch.full_like(f, 1.0))  # 4 px at 32 → 1 px at 8
    # align_corners=True keeps the corner samples
    assert torch.allclose(m[0, 0, 0], motion[0, 0, 0]) and torch.allclose(m[0, -1, -1], motion[0, -1, -1])
    same = resize_warp_inputs(motion, flow, mask, (32, 32))
    assert same[1] is flow


def test_dual_warp_doubles_channels():
    x = torch.randn(1, 3, 16, 16)
    motion = torch.zeros(1, 64, 64, 2)  # every pixel samples the centre
    out = dual_warp(x, motion, torch.zeros(1, 2, 64, 64), torch.zeros(1, 1, 64, 64))
    assert out.shape == (1, 6, 16, 16)
    centre = x[0, :, 7:9, 7:9].mean((1, 2))
    assert torch.allclose(out[0, :3], centre.view(3, 1, 1).expand(3, 16, 16), atol=1e-6)
    assert torch.all(out[0, 3:] == -1)  # mask 0 everywhere


# -- strict loading ------------------------------------------------------------------------------

def test_wrong_key_or_shape_raises_checkpoint_error(tmp_path):
    g = define_G(3, 1, 4, G_NAME)
    state = g.state_dict()
    bad_key = dict(state)
    bad_key["model2.0.shortcut.9.weight"] = bad_key.pop("model2.0.shortcut.0.weight")
    torch.save(bad_key, tmp_path / "key.pth")
    with pytest.raises(CheckpointError) as e:
        load_state_dict(tmp_path / "key.pth", define_G(3, 1, 4, G_NAME))
    assert "model2.0.shortcut.0.weight" in str(e.value) and "model2.0.shortcut.9.weight" in str(e.value)

    bad_shape = dict(state)
    bad_shape["model3.7.weight"] = torch.zeros(3, 4, 7, 7)
    torch.save(bad_shape, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError) as e:
        load_state_dict(tmp_path / "shape.pth", define_G(3, 1, 4, G_NAME))
    assert "model3.7.weight" in str(e.value)

    torch.save(state, tmp_path / "good.pth")
    g2 = load_state_dict(tmp_path / "good.pth", define_G(3, 1, 4, G_NAME))
    assert all(torch.equal(a, b) for a, b in zip(g2.state_dict().values(), state.values()))
    with pytest.raises(CheckpointError):
        load_state_dict(tmp_path / "absent.pth", g2)
