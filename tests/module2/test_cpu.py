"""CPU budget of training: torch threads and loader workers from the cores the process may use."""
from __future__ import annotations

import os
import subprocess
import sys

from Module2.util.cpu import available_cores, loader_workers, torch_threads


def test_available_cores_is_the_affinity_mask():
    assert available_cores() == len(os.sched_getaffinity(0))


def test_budget_splits_cores_between_torch_and_workers():
    # the original's 4 workers on 2 cores: one worker, one torch thread
    assert (loader_workers(4, cores=2), torch_threads(loader_workers(4, cores=2), cores=2)) == (1, 1)
    assert loader_workers(4, cores=1) == 0 and torch_threads(0, cores=1) == 1
    assert loader_workers(4, cores=16) == 4 and torch_threads(4, cores=16) == 12
    assert loader_workers(0, cores=16) == 0 and torch_threads(0, cores=16) == 16
    # two DDP ranks on 4 cores: each rank gets 2
    assert loader_workers(4, world_size=2, cores=4) == 1 and torch_threads(1, world_size=2, cores=4) == 1


def test_training_process_respects_a_one_core_affinity(tmp_path):
    """Under ``taskset`` to one core the loader gets no worker processes and torch one thread."""
    code = ("import os, torch; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from Module2.util.cpu import apply_cpu_budget; print(apply_cpu_budget(4), torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert out.stdout.split("\n")[0] == "(1, 0) 1"
