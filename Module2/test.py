"""Run a trained Module2 model over a test dataset and save the visuals with an HTML index.

The command the original's driver runs, from ``Module2/``::

    python test.py --dataroot <db> --name formal/drawing --model geomcgt_ifw_test \
        --netG resnet_9blocks_rcatland32_full_ifw --netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 \
        --load_size 256 --crop_size 256 --epoch 70 --gpu_ids 0 --num_test 10000 --serial_batches \
        --imagefolder <db> --draw_op 0 --blendbg 1

Writes ``<results_dir>/<name>/test_<epoch>/<imagefolder>/<item>_<visual>.png`` and
``<results_dir>/<name>/test_<epoch>/index<imagefolder>.html``. Also ``python -m Module2.test``.
"""
from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script (`python test.py`): make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logging  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from tqdm import tqdm  # noqa: E402

from common.errors import UserError  # noqa: E402
from Module2.data import create_dataset  # noqa: E402
from Module2.models import create_model  # noqa: E402
from Module2.models.base_model import BaseModel  # noqa: E402
from Module2.models.geomcgt_ifw_test_model import GeomCGTIFWTestModel, TestModelConfig  # noqa: E402
from Module2.options.test_options import TestOptions  # noqa: E402
from Module2.util.html import HTML, save_images  # noqa: E402

__all__ = ["main", "run"]


def run(argv: Sequence[str] | None = None) -> Path:
    """Parse ``argv``, run the model over the dataset, return the HTML index path."""
    opt = TestOptions().parse(argv)
    # hard-coded test settings (as the original): one item per batch, in order, no flips, no visdom
    opt.num_threads = 0
    opt.batch_size = 1
    opt.serial_batches = True
    opt.no_flip = True
    opt.display_id = -1
    dataset = create_dataset(opt)
    if opt.model == "geomcgt_ifw_test":  # the test model takes its typed config, parsed from the flags
        cfg = TestModelConfig.from_options(opt)
        model: BaseModel = GeomCGTIFWTestModel(cfg)
        model.setup(cfg)  # type: ignore[arg-type]  # setup reads epoch/load_iter/verbose, which the config has
    else:
        model = create_model(opt)
        model.setup(opt)
    suffix = f"iter{opt.load_iter}" if opt.load_iter > 0 else opt.epoch
    web_dir = Path(opt.results_dir) / opt.name / f"{opt.phase}_{suffix}"
    webpage = HTML(
        web_dir,
        f"Experiment = {opt.name}, Phase = {opt.phase}, Epoch = {opt.epoch}",
        image_subdir=opt.imagefolder,
        index_name=f"index{opt.imagefolder}.html",
    )
    if opt.eval:
        model.eval()
    total = int(min(len(dataset), opt.num_test))
    for i, data in enumerate(tqdm(dataset, total=total, desc="Module2 test", unit="frame")):
        if i >= opt.num_test:
            break
        model.set_input(data)
        model.test()
        save_images(webpage, model.get_current_visuals(), model.get_image_paths(),
                    aspect_ratio=opt.aspect_ratio, width=opt.display_winsize)
    return webpage.save()


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: user errors become one line on stderr and exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        index = run(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"results: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
