"""train.py / test.py options are checked at parse time: one ``error:`` line naming the flag, exit 2,
and nothing written (the option file is only written after a successful parse)."""
from __future__ import annotations

import pytest

from Module2.options.test_options import TestOptions
from Module2.options.train_options import TrainOptions

BAD_TRAIN = [
    ("--gpu_ids", "abc"), ("--gpu_ids_p", "0,x"), ("--lambda_geom", "nan"), ("--lambda_face", "inf"),
    ("--lr", "-1"), ("--lr", "nan"), ("--beta1", "1"), ("--batch_size", "0"), ("--niter", "-1"),
    ("--save_latest_freq", "0"), ("--display_port", "70000"), ("--epoch", "../x"), ("--epoch", "a/b"),
    ("--name", "/tmp/x"), ("--name", "a/../../b"), ("--phase", "x/y"), ("--max_dataset_size", "nan"),
    ("--load_iter", "-2"), ("--ngf", "0"), ("--init_gain", "nan"), ("--suffix", "/../../{model}"),
    ("--batch", "2"),  # no abbreviation of --batch_size
]


def _parse_fails(options, argv, capsys, tmp_path) -> str:
    with pytest.raises(SystemExit) as exc:
        options.parse(["--dataroot", "x", "--checkpoints_dir", str(tmp_path), *argv])
    assert exc.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in lines[0], lines
    assert list(tmp_path.iterdir()) == []
    return lines[0]


@pytest.mark.parametrize("flag, value", BAD_TRAIN)
def test_bad_train_option(flag, value, capsys, tmp_path):
    line = _parse_fails(TrainOptions(), [flag, value], capsys, tmp_path)
    assert flag in line


@pytest.mark.parametrize("flag, value", [("--imagefolder", "../up"), ("--aspect_ratio", "0"), ("--num_test", "-1"),
                                         ("--ntest", "nan"), ("--results_di", "r")])
def test_bad_test_option(flag, value, capsys, tmp_path):
    line = _parse_fails(TestOptions(), [flag, value], capsys, tmp_path)
    assert flag in line


def test_good_values_still_parse(tmp_path):
    opt = TrainOptions().parse(["--dataroot", "x", "--checkpoints_dir", str(tmp_path), "--name", "training/drawing1",
                                "--gpu_ids", "-1", "--max_dataset_size", "inf", "--epoch", "iter_500",
                                "--suffix", "{netD}"], save=False)
    assert opt.name == "training/drawing1_basic" and opt.max_dataset_size == float("inf") and opt.gpu_ids == []
