"""Module2/test.py end to end, run as the original's driver runs it (cd Module2; python test.py ...)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from common import read_landmark_file
from common.checkpoint import safe_load
from Module2.models.networks import define_G

MODULE2 = Path(__file__).resolve().parents[2] / "Module2"
VISUALS = ["real_A", "real_A_lm", "target_B_lm", "fake_B", "fake_B_vis", "fg_mask", "fakeB_static", "fake_B_fore", "fg_mask1"]


def _tiny_dataset(root: Path, db: str, reference_dir: Path) -> Path:
    fx = reference_dir / "fixtures" / "module2" / "pipeline_drawing"
    pipe = safe_load(fx / "pipeline.pt")
    photo = np.repeat(np.repeat(pipe["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy(), 2, 0), 2, 1)
    src = read_landmark_file(fx / "Data_Alm_txt" / "ori.txt")
    dst = read_landmark_file(fx / "Data_Alm_txt" / "00000.txt")
    photo_dir = root / "Data" / "Photo" / f"{db}_MTCNN"
    txt_dir = root / "Data" / "Alm_txt" / "MTCNN" / f"{db}_MTCNN"
    alm_dir = root / "Data" / "Alm" / "MTCNN" / f"{db}_MTCNN"
    for d in (photo_dir, txt_dir, alm_dir):
        d.mkdir(parents=True)
    Image.fromarray(photo).save(photo_dir / "ori.png")
    np.savetxt(txt_dir / "ori.txt", src)
    for k, pts in enumerate([dst, src]):
        np.savetxt(txt_dir / f"{k:05d}.txt", pts)
    lists = root / "list"
    for sub, lines in (("testA", [photo_dir / "ori.png"] * 2), ("testB", [alm_dir / f"{k:05d}.png" for k in range(2)])):
        (lists / sub).mkdir(parents=True)
        (lists / sub / f"{db}.txt").write_text("".join(f"{p}\n" for p in lines))
    return lists


def test_test_script_writes_pngs_and_html(tmp_path, reference_dir):
    db = "photo-speech"
    lists = _tiny_dataset(tmp_path, db, reference_dir)
    ck = tmp_path / "checkpoints"
    net = define_G(3, 1, 8, "resnet_9blocks_rcatland32_full_ifw", "instance", False, "normal", 0.02, [], div=3, disp=3)
    (ck / "formal" / "drawing").mkdir(parents=True)
    torch.save(net.state_dict(), ck / "formal" / "drawing" / "70_net_G_A.pth")
    results = tmp_path / "results"
    cmd = [
        sys.executable, "test.py", "--dataroot", db, "--name", "formal/drawing", "--model", "geomcgt_ifw_test",
        "--netG", "resnet_9blocks_rcatland32_full_ifw", "--netg_resb_div", "3", "--netg_resb_disp", "3",
        "--output_nc", "1", "--load_size", "256", "--crop_size", "256", "--epoch", "70", "--gpu_ids", "0",
        "--num_test", "10000", "--serial_batches", "--imagefolder", db, "--draw_op", "0", "--blendbg", "1",
        "--ngf", "8", "--checkpoints_dir", str(ck), "--list_dir", str(lists), "--results_dir", str(results),
    ]
    proc = subprocess.run(cmd, cwd=MODULE2, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    web = results / "formal" / "drawing" / "test_70"
    for k in range(2):
        for v in VISUALS:
            png = web / db / f"ori->{k:05d}_{v}.png"
            assert png.is_file(), png
    img = np.asarray(Image.open(web / db / "ori->00000_fake_B.png"))
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    assert np.array_equal(img[..., 0], img[..., 2])  # grey frame tiled to RGB
    html = (web / f"index{db}.html").read_text()
    assert f'src="{db}/ori-&gt;00001_fake_B.png"' in html or f'src="{db}/ori->00001_fake_B.png"' in html
    assert html.count("<h3>") == 2
    assert (ck / "formal" / "drawing" / "test_opt.txt").is_file()


def test_missing_dataset_is_one_line_error(tmp_path, capsys):
    from Module2.test import main

    code = main(["--dataroot", "nothing", "--list_dir", str(tmp_path), "--checkpoints_dir", str(tmp_path),
                 "--results_dir", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset list not found" in err[0]
