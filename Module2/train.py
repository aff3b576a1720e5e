"""Train a Module2 model (CycleGAN's training loop).

The original README's commands (from ``Module2/``)::

    python train.py --dataroot drawing --name training/drawing1 --model geomgm_ifw_fore \
        --netG resnet_9blocks_rcatland32_full_ifw --netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 \
        --display_env training_drawing1 --lr 0.00005 --lambda_geom 50 --lambda_geom_lipline 50 \
        --more_weight_for_lip 2 --lambda_face 3.0 --lambda_warp_inter 10 --blendbg 1 \
        --select_target12_thre 0.0 --niter 70 --niter_decay 0
    python train.py --dataroot cartoon --name training/cartoon1 --model geomgm_ifw_cartoon_fore \
        --netG resnet_9blocks_rcatland32_full_ifw --dataset_mode umlvd_ifw_cartoon ... --output_nc 3 ...

Checkpoints: ``<checkpoints_dir>/<name>/{latest,<epoch>,iter_<n>}_net_<Net>.pth``; telemetry:
visdom (``--display_id 0`` off), ``loss_log.txt`` and ``web/index.html`` beside them. Without
the real data, ``python Module2/make_toy_data.py --out DIR`` writes a toy set
(``--list_dir DIR/lists``). Multi-GPU: ``torchrun --nproc_per_node N train.py ...`` (one process
per GPU, DistributedDataParallel). Also runs as ``python -m Module2.train``.
"""
from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script (`python train.py`): make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from common.errors import UserError  # noqa: E402
from Module2.data import create_dataset  # noqa: E402
from Module2.models import create_model  # noqa: E402
from Module2.options.train_options import TrainOptions  # noqa: E402
from Module2.util.cpu import apply_cpu_budget  # noqa: E402
from Module2.util.visualizer import Visualizer  # noqa: E402

__all__ = ["main", "train"]


def _setup_distributed(opt) -> None:
    """torchrun (WORLD_SIZE > 1): one process per GPU; rank 0 alone displays and saves."""
    opt.rank, opt.world_size = 0, 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        opt.gpu_ids, opt.device = [local], torch.device(f"cuda:{local}")
        opt.gpu_ids_p, opt.device_p = [local], opt.device
    dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    opt.rank, opt.world_size = dist.get_rank(), dist.get_world_size()


def _loader(opt):
    data = create_dataset(opt)
    if opt.world_size > 1:
        from torch.utils.data import DataLoader
        from torch.utils.data.distributed import DistributedSampler

        data.sampler = DistributedSampler(data.dataset, shuffle=not opt.serial_batches)
        data.dataloader = DataLoader(data.dataset, batch_size=opt.batch_size, sampler=data.sampler,
                                     num_workers=int(opt.num_threads))  # already capped by apply_cpu_budget
    return data


def train(argv: Sequence[str] | None = None) -> Path:
    """Parse ``argv`` and train; returns the experiment folder."""
    main_rank = int(os.environ.get("RANK", "0")) == 0  # torchrun sets RANK before the process starts
    if not main_rank:  # one voice under torchrun: the other ranks report errors only and write no option file
        logging.getLogger().setLevel(logging.ERROR)
    opt = TrainOptions().parse(argv, save=main_rank)
    _setup_distributed(opt)
    threads, opt.num_threads = apply_cpu_budget(opt.num_threads, opt.world_size)
    say = print if main_rank else (lambda *a, **k: None)
    dataset = _loader(opt)
    dataset_size = len(dataset)
    say(f"The number of training images = {dataset_size}")
    say(f"CPU: {threads} torch thread(s), {opt.num_threads} data-loader worker(s) per process")

    model = create_model(opt)
    model.setup(opt)
    visualizer = Visualizer(opt)
    # --continue_train restores the counters saved with the set (optimisers and schedulers are restored
    # by setup); an explicit --epoch_count still wins, as in CycleGAN.
    resume = model.resume_state
    total_iters = int(resume.get("total_iters", 0))
    first_epoch, skip_iters = opt.epoch_count, 0
    if resume and opt.epoch_count == 1:
        first_epoch = int(resume.get("epoch", 1)) + (1 if resume.get("epoch_done") else 0)
        skip_iters = 0 if resume.get("epoch_done") else int(resume.get("epoch_iter", 0))
    n_epochs = opt.niter + opt.niter_decay
    for epoch in range(first_epoch, n_epochs + 1):
        epoch_start_time = iter_data_time = time.time()
        epoch_iter = 0
        visualizer.reset()
        if getattr(dataset, "sampler", None) is not None:
            dataset.sampler.set_epoch(epoch)
        for data in dataset:
            if skip_iters > 0:  # resuming mid-epoch: these batches were trained before the save
                skip_iters -= opt.batch_size
                epoch_iter += opt.batch_size
                continue
            iter_start_time = time.time()
            t_data = iter_start_time - iter_data_time if total_iters % opt.print_freq == 0 else 0.0
            total_iters += opt.batch_size
            epoch_iter += opt.batch_size
            model.set_input(data)
            model.optimize_parameters()

            if main_rank and total_iters % opt.display_freq == 0:
                save_result = total_iters % opt.update_html_freq == 0
                model.compute_visuals()
                visualizer.display_current_results(model.get_current_visuals(), epoch, save_result)

            if main_rank and total_iters % opt.print_freq == 0:
                losses = model.get_current_losses()
                t_comp = (time.time() - iter_start_time) / opt.batch_size
                visualizer.print_current_losses(epoch, epoch_iter, losses, t_comp, t_data)
                visualizer.plot_current_losses(epoch, float(epoch_iter) / max(dataset_size, 1), losses)

            if main_rank and total_iters % opt.save_latest_freq == 0:
                print(f"saving the latest model (epoch {epoch}, total_iters {total_iters})")
                model.save_networks(f"iter_{total_iters}" if opt.save_by_iter else "latest",
                                    counters=dict(epoch=epoch, epoch_iter=epoch_iter, total_iters=total_iters,
                                                  epoch_done=False))
            iter_data_time = time.time()

        if main_rank and epoch % opt.save_epoch_freq == 0:
            print(f"saving the model at the end of epoch {epoch}, iters {total_iters}")
            done = dict(epoch=epoch, epoch_iter=epoch_iter, total_iters=total_iters, epoch_done=True)
            model.save_networks("latest", counters=done)
            model.save_networks(epoch, counters=done)
        say(f"End of epoch {epoch} / {n_epochs} \t Time Taken: {time.time() - epoch_start_time:.0f} sec")
        lr = model.update_learning_rate()
        say(f"learning rate = {lr:.7f}")
    if opt.world_size > 1:
        dist.destroy_process_group()
    return Path(opt.checkpoints_dir) / opt.name


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        train(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
