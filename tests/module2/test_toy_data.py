"""The synthetic toy training set (Module2/make_toy_data.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from Module2.make_toy_data import SEGMENTS, make_toy_data, template_landmarks

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    lists = make_toy_data(root, n=2, frames=3, clips=2, size=256, seed=1)
    return root, lists


def _lm(path: Path) -> np.ndarray:
    return np.loadtxt(path)


def test_template_is_a_plausible_face():
    p = template_landmarks(512)
    assert p.shape == (68, 2)
    assert (p[:, 0] > 0.15 * 512).all() and (p[:, 0] < 0.85 * 512).all()
    assert (p[:, 1] > 0.2 * 512).all() and (p[:, 1] < 0.9 * 512).all()
    assert p[8, 1] == p[:17, 1].max()  # chin lowest jaw point
    assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0]  # eye corners left to right
    assert p[48, 0] < p[54, 0] and p[51, 1] < p[57, 1]  # mouth corners, upper above lower lip
    assert len(SEGMENTS) == 64


def test_layout_and_lists(toy):
    root, lists = toy
    data = root / "Data"
    a = (lists / "trainA" / "drawing.txt").read_text().split()
    b = (lists / "trainB" / "drawing.txt").read_text().split()
    c = (lists / "trainB" / "cartoon.txt").read_text().split()
    assert len(a) == len(b) == len(c) == 2
    assert (lists / "trainA" / "cartoon.txt").read_text().split() == a
    for p in a:
        assert "/Photo/" in p and Path(p).is_file()
        for sub in ("/Alm/MTCNN/", "/Amask/nose/", "/Amask/eyes/", "/Amask/lips/", "/fakeB_static/", "/fakeB5_static/"):
            assert Path(p.replace("/Photo/", sub)).is_file(), sub
        assert Path(p.replace("/Photo/", "/Alm_txt/MTCNN/")).with_suffix(".txt").is_file()
    for p, folder in [(q, "/Drawing/") for q in b] + [(q, "/Cartoon/") for q in c]:
        assert folder in p and Path(p).is_file()
        for sub in ("/Blm/MTCNN/", "/Bmask/lips/"):
            assert Path(p.replace(folder, sub)).is_file()
    # the clips sit beside the still drawings' folder, as the dataset expects
    clip_root = Path(b[0]).parent.parent
    clips = sorted(clip_root.glob("scanner_frag_*_MTCNN"))
    assert [d.name for d in clips] == ["scanner_frag_0_MTCNN", "scanner_frag_1_MTCNN"]
    assert sorted(f.name for f in clips[0].iterdir()) == ["00000.png", "00001.png", "00002.png"]
    win = np.loadtxt(data / "Blm_txt" / "MTCNN" / "scanner_frag_0_MTCNN" / "00001_win.txt")
    assert win.shape == (4,) and win[0] < win[1] and win[2] < win[3]
    assert _lm(data / "Blm_txt" / "MTCNN" / "scanner_frag_0_MTCNN" / "00001.txt").shape == (68, 2)
    img = cv2.imread(a[0])
    assert img.shape == (256, 256, 3)
    assert cv2.imread(b[0], cv2.IMREAD_UNCHANGED).ndim == 2  # drawings are grey


def test_images_follow_the_landmarks(toy):
    root, lists = toy
    a = (lists / "trainA" / "drawing.txt").read_text().split()[0]
    lm = _lm(Path(a.replace("/Photo/", "/Alm_txt/MTCNN/")).with_suffix(".txt"))
    dots = cv2.imread(a.replace("/Photo/", "/Alm/MTCNN/"), cv2.IMREAD_GRAYSCALE)
    r = np.round(lm).astype(int)
    assert (dots[r[:, 1], r[:, 0]] == 255).all()
    assert dots.mean() < 60  # black background, small discs
    lips = cv2.imread(a.replace("/Photo/", "/Amask/lips/"), cv2.IMREAD_GRAYSCALE)
    assert (lips[r[48:68, 1], r[48:68, 0]] == 255).all()
    assert lips[r[30, 1], r[30, 0]] == 0 and lips[r[8, 1] - 2, r[8, 0]] == 0  # nose tip, chin outside
    nose = cv2.imread(a.replace("/Photo/", "/Amask/nose/"), cv2.IMREAD_GRAYSCALE)
    assert (nose[r[27:36, 1], r[27:36, 0]] == 255).all()
    static = cv2.imread(a.replace("/Photo/", "/fakeB_static/"), cv2.IMREAD_GRAYSCALE)
    for i, j in ((0, 1), (8, 9), (48, 49)):  # contour midpoints are drawn dark
        mx, my = np.round((lm[i] + lm[j]) / 2).astype(int)
        assert static[my - 1 : my + 2, mx - 1 : mx + 2].min() < 100
    assert static[5, 5] == 255


@pytest.mark.slow  # two interpreter start-ups with torch: ~7 s of CPU
def test_cli(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "Module2" / "make_toy_data.py"), "--out", str(tmp_path / "t"),
                           "--n", "1", "--frames", "2", "--clips", "1", "--size", "128"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "t" / "lists" / "trainB" / "cartoon.txt").is_file()
    assert cv2.imread(str(tmp_path / "t" / "Data" / "Photo" / "train" / "0000.png")).shape == (128, 128, 3)
    bad = subprocess.run([sys.executable, str(REPO / "Module2" / "make_toy_data.py"), "--out", str(tmp_path / "u"),
                          "--frames", "1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--frames" in bad.stderr


@pytest.mark.parametrize("flip", [False, True])
def test_training_dataset_on_toy_data(toy, flip, monkeypatch):
    import argparse
    import random

    import torch

    from Module2.data import DATASETS

    root, lists = toy
    opt = argparse.Namespace(dataroot="drawing", list_dir=str(lists), phase="train", max_dataset_size=float("inf"),
                             load_size=286, crop_size=256, preprocess="resize_and_crop", no_flip=not flip, output_nc=1,
                             serial_batches=True, max_offset=3, select_target12_thre=0.0, select_noniden_thre=0.9)
    ds = DATASETS.get("umlvd_ifw")(opt)
    random.seed(3)
    np.random.seed(3)
    if flip:  # force every flip draw to mirror
        monkeypatch.setattr(random, "random", lambda: 0.99)  # (also picks the photo's own landmarks as target)
    item = ds[0]
    assert len(ds) == 2
    lm = item["A_lm_68"].numpy()
    # landmark dot image and the 68 points went through the same geometry
    vals = [float(item["A_lm"][0, int(round(y)), int(round(x))]) for x, y in lm]
    assert min(vals) > 0.0
    # mirror permutation keeps the iBUG semantics: point 36 is the image-left eye corner, 45 the right
    assert lm[36, 0] < lm[45, 0] and lm[0, 0] < lm[16, 0] and lm[48, 0] < lm[54, 0]
    x1, x2, y1, y2 = item["winA"].tolist()
    assert x2 - x1 == y2 - y1 == round(0.7 * 286)
    # the Delaunay grid maps every target landmark back onto the photo's landmark
    t = item["tB_lm_68"].numpy()
    grid = item["warp_motion"].numpy()
    for i in (8, 30, 36, 54):
        gx, gy = grid[int(round(t[i, 1])), int(round(t[i, 0]))]
        assert abs((gx + 1) * 127.5 - lm[i, 0]) < 2.5 and abs((gy + 1) * 127.5 - lm[i, 1]) < 2.5
    off = (item["tB2_lm_68"] - item["tB_lm_68"]).numpy()
    assert (off >= 0).all() and (off < 3).all() and np.allclose(off[48:], off[48])
    assert item["B1"].shape == item["B3"].shape == (1, 256, 256)
    assert item["fakeB_static"].shape == (1, 256, 256) and item["A"].shape == (3, 256, 256)
    assert item["A_mask"].min() >= 0 and item["A_mask"].max() == 1
    assert torch.is_tensor(item["winB2"]) and item["winB2"].dtype == torch.int32


def test_video_pair_targets(toy):
    import argparse

    from Module2.data import DATASETS

    root, lists = toy
    opt = argparse.Namespace(dataroot="drawing", list_dir=str(lists), phase="train", max_dataset_size=float("inf"),
                             load_size=286, crop_size=256, preprocess="resize_and_crop", no_flip=True, output_nc=1,
                             serial_batches=False, max_offset=3, select_target12_thre=1.0, select_noniden_thre=0.9)
    item = DATASETS.get("umlvd_ifw")(opt)[1]
    assert np.array_equal(item["tB_lm_68"].numpy(), item["B1_lm_68"].numpy())
    assert np.array_equal(item["tB2_lm_68"].numpy(), item["B2_lm_68"].numpy())
    assert item["winB"].tolist() == item["winBr1"].tolist() and item["winB2"].tolist() == item["winBr2"].tolist()
    assert "scanner_frag_" in item["B1_path"]
    f1, f2 = int(Path(item["B1_path"]).stem), int(Path(item["B2_path"]).stem)
    assert Path(item["B1_path"]).parent == Path(item["B2_path"]).parent and f2 == f1 + 1
    # both frames share one crop: the window side is the scaled clip window side
    wtxt = Path(item["B1_path"].replace("/Drawing/", "/Blm_txt/MTCNN/")).with_suffix("")
    x1, x2, _, _ = np.loadtxt(str(wtxt) + "_win.txt")
    assert int(item["winBr1"][1] - item["winBr1"][0]) == round((x2 - x1) * 286 / 256)


def test_test_lists_in_the_original_layout(toy):
    root, lists = toy
    a = (lists / "testA" / "toy.txt").read_text().split()
    b = (lists / "testB" / "toy.txt").read_text().split()
    assert len(a) == len(b) == 3 and len(set(a)) == 1  # one photo line per frame (frames=3 in the fixture)
    assert a[0].endswith("/Data/Photo/toy_MTCNN/ori.png") and Path(a[0]).is_file()
    assert [Path(p).name for p in b] == ["00000.png", "00001.png", "00002.png"]
    src = _lm(root / "Data" / "Alm_txt" / "MTCNN" / "toy_MTCNN" / "ori.txt")
    first = _lm(root / "Data" / "Alm_txt" / "MTCNN" / "toy_MTCNN" / "00000.txt")
    mid = _lm(root / "Data" / "Alm_txt" / "MTCNN" / "toy_MTCNN" / "00001.txt")
    assert np.allclose(first, src)  # the sequence starts closed-mouthed as the photo
    assert mid[57, 1] - src[57, 1] > 5 and np.allclose(mid[:48], src[:48])  # then only the lower lip moves
    dots = cv2.imread(b[1], cv2.IMREAD_GRAYSCALE)
    r = np.round(mid).astype(int)
    assert (dots[r[:, 1], r[:, 0]] == 255).all()


@pytest.mark.slow
def test_readme_test_line_runs_on_toy_data(toy, tmp_path):
    """``cd Module2 && python test.py --dataroot toy --list_dir <toy>/lists ...`` with a generator in the released layout."""
    import torch
    from PIL import Image

    from Module2.models.networks import define_G

    root, lists = toy
    ck = tmp_path / "checkpoints"
    torch.manual_seed(0)
    net = define_G(3, 1, 8, "resnet_9blocks_rcatland32_full_ifw", "instance", False, "normal", 0.02, [], div=3, disp=3)
    (ck / "training" / "drawing1").mkdir(parents=True)
    torch.save(net.state_dict(), ck / "training" / "drawing1" / "1_net_G_A.pth")
    cmd = [sys.executable, "test.py", "--dataroot", "toy", "--list_dir", str(lists), "--name", "training/drawing1",
           "--model", "geomcgt_ifw_test", "--netG", "resnet_9blocks_rcatland32_full_ifw", "--netg_resb_div", "3",
           "--netg_resb_disp", "3", "--output_nc", "1", "--ngf", "8", "--epoch", "1", "--serial_batches",
           "--imagefolder", "toy", "--blendbg", "1", "--checkpoints_dir", str(ck), "--results_dir", str(tmp_path / "r")]
    proc = subprocess.run(cmd, cwd=REPO / "Module2", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "r" / "training" / "drawing1" / "test_1"
    frames = sorted((out / "toy").glob("ori->*_fake_B.png"))
    assert [p.name for p in frames] == [f"ori->{k:05d}_fake_B.png" for k in range(3)]
    assert np.asarray(Image.open(frames[0])).shape == (256, 256, 3)
    assert (out / "indextoy.html").read_text().count("<h3>") == 3
