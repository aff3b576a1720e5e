"""Batch jobs: many photo × speech runs from a YAML or CSV list, in parallel processes or on Dask.

    main_end2end_module2.py --batch jobs.yaml --workers 2 [--size 256 ...]

A jobs file is a list of jobs (YAML: a list of mappings, or ``{jobs: [...]}``; CSV: one job
per row, option names in the header, empty cells unset). Keys are the CLI's option names
without dashes (``jpg``, ``audio``, ``video``, ``exp``, ``seed``, ``size``, ...), plus an
optional ``name``; every job is parsed by the CLI's own parser, on top of the options given
beside ``--batch``. Relative paths in the file are relative to the file's folder.

* Each photo is aligned once and stylised once per render setting, in a worker, before the
  jobs that use it run (the prepared renderer is shipped to them); a job's frames are the
  same as when it runs alone.
* A job whose video exists, is newer than its inputs and whose recorded config matches is
  skipped (rerun after fixing the bad jobs).
* A failing job is reported and the others go on; jobs writing into the same output folder
  run one after the other.
* The run ends with a table (job, status, seconds, output or error) and exits 1 when a job
  failed.

Distributed: ``--cluster local:N`` starts a local Dask cluster of N worker processes on
127.0.0.1, ``--scheduler tcp://HOST:PORT`` uses an existing one (its workers must see the
inputs and the output folder at the same paths); both need ``requirements-distributed.txt``.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import logging
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import UserError

from .config import PipelineConfig

__all__ = ["BatchError", "Job", "JobResult", "BatchSummary", "read_jobs", "parse_jobs", "run_batch", "main_batch",
           "format_table"]

log = logging.getLogger("pipeline.batch")

# Options that steer the batch itself, never a job's.
BATCH_OPTIONS = ("batch", "workers", "cluster", "scheduler")


class BatchError(UserError):
    """The jobs file or the batch options are wrong (the batch does not start)."""


@dataclass(frozen=True)
class Job:
    """One entry of the jobs file, parsed: ``cfg`` is ``None`` when the entry is invalid (``error`` says why)."""

    index: int
    name: str
    cfg: PipelineConfig | None
    error: str | None = None

    @property
    def video(self) -> Path | None:
        """Where the job's video goes."""
        return None if self.cfg is None else self.cfg.run_dir / f"output_{self.cfg.postfix}.mp4"


@dataclass(frozen=True)
class JobResult:
    """What happened to one job: ``status`` is ``done``, ``skipped`` or ``failed``."""

    index: int
    name: str
    status: str
    seconds: float
    output: str
    message: str = ""


@dataclass
class BatchSummary:
    """All job results (in file order); how many photos were aligned and how many stylisations made."""

    results: list[JobResult] = field(default_factory=list)
    aligned: int = 0
    stylised: int = 0

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]


# ------------------------------------------------------------------------------------ jobs file
def read_jobs(path: Path) -> list[dict[str, Any]]:
    """The raw job entries of a ``.yaml``/``.yml`` or ``.csv`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchError(f"cannot read jobs file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BatchError(f"jobs file {path} is not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        entries: Any = [{k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}
                        for row in rows]
    else:
        import yaml

        try:
            entries = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise BatchError(f"jobs file {path} is not valid YAML{where}") from None
        if isinstance(entries, dict) and "jobs" in entries:
            entries = entries["jobs"]
    if not isinstance(entries, list) or not entries:
        raise BatchError(f"jobs file {path} holds no jobs (expected a list of option mappings)")
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise BatchError(f"jobs file {path}: job {i} is not a mapping of options")
    return entries


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest not in ("help", *BATCH_OPTIONS)}


def _job_argv(entry: dict[str, Any], actions: dict[str, argparse.Action], base_dir: Path) -> list[str]:
    argv: list[str] = []
    for key, value in entry.items():
        key = str(key)
        if key == "name":
            continue
        action = actions.get(key)
        if action is None:
            raise UserError(f"unknown option {key!r}")
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:  # store_true / store_false flags
            on = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            if on == isinstance(action, argparse._StoreTrueAction):
                argv.append(flag)
            continue
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if action.type is Path and text and not Path(text).is_absolute():
            text = str(base_dir / text)
        argv.append(f"{flag}={text}")
    return argv


def _parse_quietly(parser: argparse.ArgumentParser, argv: list[str], base: argparse.Namespace) -> argparse.Namespace:
    """Parse ``argv`` over ``base``; the parser's error (it exits) becomes a :class:`UserError`."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv, namespace=argparse.Namespace(**vars(base)))
    except SystemExit:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        msg = lines[-1] if lines else "bad options"
        raise UserError(msg.removeprefix("error: ").removesuffix(" (see --help)")) from None


def parse_jobs(entries: Sequence[dict[str, Any]], parser: argparse.ArgumentParser, base: argparse.Namespace,
               base_dir: Path) -> list[Job]:
    """Parse every entry with the CLI's parser and config builder on top of ``base`` (the batch's own options)."""
    from .cli import config_from_args

    actions = _actions(parser)
    jobs = []
    for i, entry in enumerate(entries, 1):
        name = str(entry.get("name") or f"job{i}")
        try:
            ns = _parse_quietly(parser, _job_argv(entry, actions, base_dir), base)
            cfg = config_from_args(ns)
        except UserError as exc:
            jobs.append(Job(i, name, None, str(exc)))
            continue
        if "name" not in entry:
            name = f"{cfg.name}/{cfg.postfix}"
        jobs.append(Job(i, name, _quiet(cfg)))
    # The same video twice would race: the later entry is an error.
    seen: dict[Path, int] = {}
    for k, job in enumerate(jobs):
        if job.video is None:
            continue
        key = job.video.resolve()
        if key in seen:
            jobs[k] = Job(job.index, job.name, None, f"writes the same video as job {seen[key]} ({job.video})")
        else:
            seen[key] = job.index
    return jobs


def _quiet(cfg: PipelineConfig) -> PipelineConfig:
    """Jobs run without progress bars (they would interleave); quiet changes nothing in the products."""
    return dataclasses.replace(cfg, quiet=True, module1=dataclasses.replace(cfg.module1, quiet=True),
                               module2=dataclasses.replace(cfg.module2, quiet=True))


# ------------------------------------------------------------------------------ finished jobs
def _plain(cfg: PipelineConfig) -> dict[str, Any]:
    """The config as ``config_<postfix>.json`` records it (paths as strings), quiet flags dropped."""
    doc = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    for d in (doc, doc.get("module1", {}), doc.get("module2", {})):
        d.pop("quiet", None)
    return doc


def is_finished(cfg: PipelineConfig) -> bool:
    """The video exists, is newer than the inputs, and its recorded config equals ``cfg`` (quiet aside)."""
    video = cfg.run_dir / f"output_{cfg.postfix}.mp4"
    record = cfg.run_dir / f"config_{cfg.postfix}.json"
    try:
        recorded = json.loads(record.read_text())
        made = video.stat().st_mtime
        inputs = [Path(p) for p in (cfg.photo, cfg.audio, cfg.video) if p is not None]
        if any(p.stat().st_mtime > made for p in inputs):
            return False
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict):
        return False
    recorded.pop("resolved", None)
    for d in (recorded, recorded.get("module1", {}), recorded.get("module2", {})):
        if isinstance(d, dict):
            d.pop("quiet", None)
    return recorded == _plain(cfg)


# ------------------------------------------------------------------------- photo preparation
def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _photo_key(cfg: PipelineConfig) -> str:
    """Content hash of the photo (or clip) + the landmarker: jobs with equal keys share one alignment."""
    src = Path(cfg.video if cfg.video is not None else cfg.photo)  # type: ignore[arg-type]
    try:
        digest = _file_digest(src)
    except OSError:
        digest = f"unreadable:{src.resolve()}"  # the preparation task reports the real error
    return f"{'clip' if cfg.video is not None else 'photo'}:{digest}:{cfg.landmarker}"


def _render_key(cfg: PipelineConfig) -> str:
    """The render options a preparation depends on; the classic renderer's stylisation ignores the seed."""
    from Module2 import resolve_renderer

    name, _ = resolve_renderer(cfg.renderer, cfg.module2)  # a file check; raises for an unusable choice
    m2 = dataclasses.replace(cfg.module2, quiet=True, seed=0 if name == "classic" else cfg.module2.seed)
    return json.dumps([name, dataclasses.asdict(m2)], default=str, sort_keys=True)


def _prepare_task(cfgs: list[tuple[str, PipelineConfig]]) -> tuple[dict[str, Any], str | None]:
    """Worker: read the photo once, align it once, prepare one renderer per render key.

    Returns ``({render_key: Prepared}, None)`` or ``({}, error message)``.
    """
    from common.media import extract_first_frame

    from .align import align_photo, load_photo
    from .run import prepare_photo

    try:
        first = cfgs[0][1]
        photo = extract_first_frame(first.video) if first.video is not None else load_photo(first.photo)  # type: ignore[arg-type]
        name = Path(first.video or first.photo).name  # type: ignore[arg-type]
        aligned = align_photo(photo, landmarker=first.landmarker, name=name)
        return {key: prepare_photo(cfg, photo, aligned=aligned) for key, cfg in cfgs}, None
    except UserError as exc:
        return {}, str(exc)
    except Exception as exc:  # a bug: keep the batch going, say where
        log.error("%s", traceback.format_exc())
        return {}, f"internal error: {type(exc).__name__}: {exc}"


def _run_task(group: list[tuple[int, str, PipelineConfig, Any]]) -> list[JobResult]:
    """Worker: run jobs that share an output folder, one after the other."""
    from .run import run, sigterm_raises

    out = []
    for index, name, cfg, prepared in group:
        t0 = time.perf_counter()
        try:
            with sigterm_raises():  # a terminated batch: this job's staging folder goes too
                result = run(cfg, prepared)
            out.append(JobResult(index, name, "done", time.perf_counter() - t0, str(result.video)))
        except UserError as exc:
            out.append(JobResult(index, name, "failed", time.perf_counter() - t0, "", str(exc)))
        except Exception as exc:  # a bug in one job must not stop the others
            log.error("%s", traceback.format_exc())
            out.append(JobResult(index, name, "failed", time.perf_counter() - t0, "",
                                 f"internal error: {type(exc).__name__}: {exc}"))
    return out


def _init_worker() -> None:
    """Worker start: warnings and errors only (no progress bars), one BLAS/torch thread per worker."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr, force=True)
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(1)


# ------------------------------------------------------------------------------- executors
@contextlib.contextmanager
def _executor(workers: int, cluster: str | None, scheduler: str | None) -> Iterator[cf.Executor]:
    """Local worker processes (spawned), or a Dask executor on a new local cluster / an existing scheduler."""
    # Each worker (spawned from this environment) gets one BLAS/OpenMP thread: the parallelism is across jobs.
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        with _open_executor(workers, cluster, scheduler) as ex:
            yield ex
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)


@contextlib.contextmanager
def _open_executor(workers: int, cluster: str | None, scheduler: str | None) -> Iterator[cf.Executor]:
    if cluster is None and scheduler is None:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as ex:
            try:
                yield ex
            except BaseException:  # Ctrl-C / SIGTERM: drop queued jobs, stop running ones (they clean up)
                ex.shutdown(wait=False, cancel_futures=True)
                for child in multiprocessing.active_children():
                    child.terminate()
                raise
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BatchError("--cluster/--scheduler need Dask: pip install -r requirements-distributed.txt") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as exc:
            raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            client.run(_init_worker)
            yield client.get_executor(pure=False)
        return
    n = _local_workers(cluster or "")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as lc, Client(lc) as client:
        client.run(_init_worker)
        yield client.get_executor(pure=False)


def _local_workers(spec: str) -> int:
    kind, _, n = spec.partition(":")
    if kind != "local" or not n.isdigit() or not 1 <= int(n) <= 256:
        raise BatchError(f"--cluster must be local:N with N in [1, 256]; got {spec!r}")
    return int(n)


# ------------------------------------------------------------------------------------ driver
def run_batch(jobs: list[Job], workers: int = 1, cluster: str | None = None, scheduler: str | None = None,
              progress: Callable[[JobResult], None] | None = None) -> BatchSummary:
    """Run ``jobs``: skip finished ones, prepare each photo once, run the rest in parallel."""
    summary = BatchSummary()
    results: dict[int, JobResult] = {}

    def record(r: JobResult) -> None:
        results[r.index] = r
        if progress is not None:
            progress(r)

    todo: list[Job] = []
    for job in jobs:
        if job.cfg is None:
            record(JobResult(job.index, job.name, "failed", 0.0, "", job.error or "invalid job"))
        elif is_finished(job.cfg):
            record(JobResult(job.index, job.name, "skipped", 0.0, str(job.video), "finished earlier"))
        else:
            todo.append(job)

    if todo:
        # Preparation units: one per photo (content + landmarker), each with its render keys.
        units: dict[str, dict[str, PipelineConfig]] = {}
        job_keys: dict[int, tuple[str, str] | None] = {}
        groups: dict[Path, list[Job]] = {}  # jobs writing into one folder run in one task, in file order
        for job in todo:
            assert job.cfg is not None
            groups.setdefault(job.cfg.run_dir.resolve(), []).append(job)
            if any(not Path(p).is_file() for p in (job.cfg.photo, job.cfg.audio, job.cfg.video) if p is not None):
                job_keys[job.index] = None  # nothing to prepare: the run reports the missing file at once
                continue
            try:
                pk, rk = _photo_key(job.cfg), _render_key(job.cfg)
            except UserError as exc:
                record(JobResult(job.index, job.name, "failed", 0.0, "", str(exc)))
                groups[job.cfg.run_dir.resolve()].remove(job)
                continue
            units.setdefault(pk, {}).setdefault(rk, job.cfg)
            job_keys[job.index] = (pk, rk)

        with _executor(workers, cluster, scheduler) as ex:
            pending: dict[cf.Future, tuple[str, Any]] = {
                ex.submit(_prepare_task, list(rks.items())): ("prepare", pk) for pk, rks in units.items()
            }
            summary.aligned, summary.stylised = len(units), sum(len(rks) for rks in units.values())
            ready: dict[str, tuple[dict[str, Any], str | None]] = {}
            waiting = list(groups.values())
            waiting = _submit_ready(ex, waiting, job_keys, ready, pending, record)
            while pending:
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    kind, what = pending.pop(fut)
                    if kind == "prepare":
                        try:
                            ready[what] = fut.result()
                        except Exception as exc:  # the worker died (e.g. killed): its jobs fail
                            ready[what] = ({}, f"worker failed: {type(exc).__name__}: {exc}")
                        continue
                    try:
                        for r in fut.result():
                            record(r)
                    except Exception as exc:
                        for job in what:
                            record(JobResult(job.index, job.name, "failed", 0.0, "",
                                             f"worker failed: {type(exc).__name__}: {exc}"))
                waiting = _submit_ready(ex, waiting, job_keys, ready, pending, record)

    summary.results = [results[j.index] for j in jobs]
    return summary


def _submit_ready(ex: cf.Executor, waiting: list[list[Job]], job_keys: dict[int, tuple[str, str] | None],
                  ready: dict[str, tuple[dict[str, Any], str | None]], pending: dict[cf.Future, tuple[str, Any]],
                  record: Callable[[JobResult], None]) -> list[list[Job]]:
    """Submit every waiting group whose photos are prepared; returns the groups still waiting."""
    still = []
    for group in waiting:
        keys = [job_keys[j.index] for j in group]
        if not all(k is None or k[0] in ready for k in keys):
            still.append(group)
            continue
        runnable = []
        for job, key in zip(group, keys, strict=True):
            prepared: Any = None
            if key is not None:
                found, error = ready[key[0]]
                if error is not None:
                    record(JobResult(job.index, job.name, "failed", 0.0, "", error))
                    continue
                prepared = found[key[1]]
            if job.cfg is not None:
                runnable.append((job.index, job.name, job.cfg, prepared))
        if runnable:
            pending[ex.submit(_run_task, runnable)] = ("run", [j for j in group if j.index in
                                                                {r[0] for r in runnable}])
    return still


def format_table(results: Sequence[JobResult]) -> str:
    """The closing table: job, status, seconds, output (or the error of a failed job)."""
    rows = [("job", "status", "seconds", "output")]
    for r in results:
        out = r.output if r.status != "failed" else f"error: {r.message}"
        rows.append((f"{r.index}:{r.name}", r.status, f"{r.seconds:.1f}", out))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows]
    return "\n".join(lines)


def main_batch(ns: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``--batch FILE``: parse the jobs, run them, print the table; 0 when every job is done or skipped."""
    path = Path(ns.batch)
    try:
        entries = read_jobs(path)
        jobs = parse_jobs(entries, parser, ns, path.resolve().parent)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    quiet = bool(ns.quiet)

    def progress(r: JobResult) -> None:
        if not quiet or r.status == "failed":
            tail = r.output if r.status != "failed" else r.message
            print(f"[{r.index}/{len(jobs)}] {r.name}: {r.status} ({r.seconds:.1f} s) {tail}", file=sys.stderr)

    from .run import run_guarded

    code, summary = run_guarded(lambda: run_batch(jobs, ns.workers, ns.cluster, ns.scheduler, progress),
                                "running jobs stopped, their partial files removed")
    if code or summary is None:
        return code
    print(format_table(summary.results))
    n_failed = len(summary.failed)
    counts = {s: sum(r.status == s for r in summary.results) for s in ("done", "skipped", "failed")}
    print(f"{counts['done']} done, {counts['skipped']} skipped, {n_failed} failed "
          f"({summary.aligned} photo(s) aligned, {summary.stylised} stylisation(s))")
    return 1 if n_failed else 0
