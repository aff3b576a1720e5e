"""The one device policy (this machine has no CUDA: every request ends on the CPU)."""
from __future__ import annotations

import argparse
import logging

import pytest
import torch

from common.device import cuda_ids, device_name, parse_gpu_ids, select_device

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")


def test_parse_gpu_ids_forms():
    assert parse_gpu_ids("0,2") == [0, 2] and parse_gpu_ids("-1") == [] and parse_gpu_ids("1,-1") == [1]
    assert parse_gpu_ids([3, -1]) == [3] and parse_gpu_ids(2) == [2] and parse_gpu_ids(None) == [] and parse_gpu_ids("") == []
    with pytest.raises(argparse.ArgumentTypeError, match="integers"):
        parse_gpu_ids("gpu0")


def test_cuda_requests_fall_back_to_cpu_with_one_notice(caplog):
    with caplog.at_level(logging.WARNING, logger="common.device"):
        assert cuda_ids("0,1", who="--gpu_ids") == []
        assert select_device("cuda:1", who="--device") == torch.device("cpu")
        assert select_device("0") == torch.device("cpu")  # no asker named: no notice
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 2 and "--gpu_ids" in notices[0] and "--device" in notices[1]


def test_names_and_cpu_specs():
    assert device_name("-1") == device_name([]) == device_name(None) == device_name("cpu") == "cpu"
    assert select_device(torch.device("cpu")) == torch.device("cpu")
