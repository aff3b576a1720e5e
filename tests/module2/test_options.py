"""Module2 options: the original's commands parse; registries feed choices; devices resolve to CPU here."""
from __future__ import annotations

import shlex

import pytest
import torch

from Module2.models import MODELS
from Module2.options.test_options import TestOptions
from Module2.options.train_options import TrainOptions

TEST_CMD = (
    "--dataroot hermione2-speech --name formal/drawing --model geomcgt_ifw_test "
    "--netG resnet_9blocks_rcatland32_full_ifw --netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 "
    "--load_size 256 --crop_size 256 --epoch 70 --gpu_ids 0 --num_test 10000 --serial_batches "
    "--imagefolder hermione2-speech --draw_op 0 --blendbg 1"
)
DRAWING_TRAIN = (
    "--dataroot drawing --name training/drawing1 --model geomgm_ifw_fore --netG resnet_9blocks_rcatland32_full_ifw "
    "--netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 --display_env training_drawing1 --lr 0.00005 "
    "--lambda_geom 50 --lambda_geom_lipline 50 --more_weight_for_lip 2 --lambda_face 3.0 --lambda_warp_inter 10 "
    "--blendbg 1 --select_target12_thre 0.0 --niter 70 --niter_decay 0"
)
CARTOON_TRAIN = (
    "--dataroot cartoon --name training/cartoon1 --model geomgm_ifw_cartoon_fore --dataset_mode umlvd_ifw_cartoon "
    "--netG resnet_9blocks_rcatland32_full_ifw --netg_resb_div 3 --netg_resb_disp 3 --output_nc 3 "
    "--display_env training_cartoon1 --lr 0.00005 --lambda_geom 50 --lambda_geom_lipline 0 --more_weight_for_lip 2 "
    "--lambda_face 3.0 --lambda_warp_inter 10 --blendbg 1 --niter 70 --niter_decay 0"
)


def test_seed_test_command_parses(tmp_path):
    opt = TestOptions().parse(shlex.split(TEST_CMD) + ["--checkpoints_dir", str(tmp_path)])
    assert opt.model == "geomcgt_ifw_test" and opt.dataset_mode == "umlvdfw_test"
    assert (opt.netg_resb_div, opt.netg_resb_disp, opt.blendbg, opt.draw_op) == (3, 3, 1, 0)
    assert (opt.output_nc, opt.load_size, opt.crop_size, opt.epoch, opt.num_test) == (1, 256, 256, "70", 10000)
    assert opt.no_dropout is True and opt.serial_batches is True and opt.isTrain is False
    assert opt.imagefolder == "hermione2-speech" and opt.phase == "test"
    if not torch.cuda.is_available():
        assert opt.gpu_ids == [] and opt.device == torch.device("cpu")
    text = (tmp_path / "formal" / "drawing" / "test_opt.txt").read_text()
    assert "blendbg: 1" in text.replace(" ", "").replace("blendbg:1", "blendbg: 1")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("blendbg:"))
    assert "[default: 0]" in line
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("batch_size:"))
    assert "default" not in line


def test_test_defaults(tmp_path):
    opt = TestOptions().parse(["--dataroot", "x", "--checkpoints_dir", str(tmp_path)], save=False)
    assert opt.model == "geomcgt_ifw_test" and opt.load_size == opt.crop_size == 256
    assert opt.netg_resb_disp == 1 and opt.blendbg == 0 and opt.num_test == 50
    assert not (tmp_path / "experiment_name").exists()


@pytest.mark.parametrize("cmd,model,nc", [(DRAWING_TRAIN, "geomgm_ifw_fore", 1), (CARTOON_TRAIN, "geomgm_ifw_cartoon_fore", 3)])
def test_seed_training_commands_parse(tmp_path, cmd, model, nc):
    assert model in MODELS
    opt = TrainOptions().parse(shlex.split(cmd) + ["--checkpoints_dir", str(tmp_path)])
    assert opt.model == model and opt.isTrain is True
    assert (opt.niter, opt.niter_decay, opt.lr, opt.output_nc) == (70, 0, 0.00005, nc)
    assert (opt.load_size, opt.crop_size, opt.batch_size, opt.gan_mode, opt.pool_size) == (286, 256, 1, "lsgan", 50)
    assert (opt.lambda_geom, opt.lambda_face, opt.lambda_warp_inter, opt.blendbg) == (50, 3.0, 10, 1)
    assert (tmp_path / "training" / opt.name.split("/")[-1] / "train_opt.txt").is_file()


def test_modern_epoch_aliases():
    opts = TrainOptions()
    parser = opts.initialize(opts._new_parser())
    ns, _ = parser.parse_known_args(["--dataroot", "d", "--n_epochs", "3", "--n_epochs_decay", "2"])
    assert (ns.niter, ns.niter_decay) == (3, 2)
    ns, _ = parser.parse_known_args(["--dataroot", "d", "--niter", "70", "--niter_decay", "0"])
    assert (ns.niter, ns.niter_decay) == (70, 0)


def test_cpu_gpu_ids(tmp_path):
    opt = TestOptions().parse(["--dataroot", "d", "--gpu_ids", "-1", "--checkpoints_dir", str(tmp_path)], save=False)
    assert opt.gpu_ids == [] and opt.device == torch.device("cpu")


def test_unknown_model_is_one_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        TestOptions().parse(["--dataroot", "d", "--model", "nope", "--checkpoints_dir", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "nope" in err and "geomcgt_ifw_test" in err and "Traceback" not in err


def test_test_model_refuses_training(tmp_path, capsys):
    with pytest.raises(SystemExit):
        TrainOptions().parse(["--dataroot", "d", "--model", "geomcgt_ifw_test", "--checkpoints_dir", str(tmp_path)])
    assert "test-only" in capsys.readouterr().err


def test_help_lists_model_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        TestOptions().parse(["--dataroot", "d", "--help"], save=False)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--netg_resb_div" in out and "--blendbg" in out and "(default: 0)" in out


def test_gpu_ids_parsing():
    from Module2.options.base_options import parse_gpu_ids

    assert parse_gpu_ids("0,2") == [0, 2]
    assert parse_gpu_ids("-1") == []
    assert parse_gpu_ids("1,-1") == [1]


def test_unknown_netG_is_one_clean_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        TestOptions().parse(["--dataroot", "d", "--netG", "unet_9", "--checkpoints_dir", str(tmp_path)], save=False)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unet_9" in err and "resnet_9blocks_rcatland32_full_ifw" in err


def test_test_model_default_generator(tmp_path):
    opt = TestOptions().parse(["--dataroot", "d"], save=False)
    assert opt.netG == "resnet_9blocks_rcatland32_full_ifw" and opt.netD == "basic"


def test_help_without_dataroot_and_dataroot_still_required(capsys):
    with pytest.raises(SystemExit) as exc:
        TestOptions().parse(["-h"], save=False)
    assert exc.value.code == 0 and "--blendbg" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        TestOptions().parse([], save=False)
    assert exc.value.code == 2 and "--dataroot" in capsys.readouterr().err
