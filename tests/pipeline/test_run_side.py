"""pipeline.run's side jobs: made beside the main video, their errors not lost, stopped with the run."""
from __future__ import annotations

import threading

import pytest

from pipeline.run import _beside, _Stopped


def test_side_job_runs_beside_and_its_error_is_raised():
    seen = []

    def job(stop: threading.Event, value: int) -> None:
        seen.append((threading.current_thread() is not threading.main_thread(), value))
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with _beside(job, 7):
            pass
    assert seen == [(True, 7)]


def test_a_failing_run_stops_the_side_job():
    started, finished = threading.Event(), []

    def job(stop: threading.Event) -> None:
        started.set()
        for _ in range(500):  # like the preview: a frame at a time, checking the stop flag
            if stop.wait(0.01):
                finished.append("stopped")
                raise _Stopped
        finished.append("ran to the end")

    with pytest.raises(KeyboardInterrupt):
        with _beside(job):
            started.wait(5)
            raise KeyboardInterrupt
    assert finished == ["stopped"]
    assert not [t for t in threading.enumerate() if t.name == "side-job"]
