"""Filesystem helpers: atomic writes, staging folders that outlive no owner, containment checks."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "cache_dir",
    "make_public",
    "make_staging_dir",
    "reap_stale_staging",
    "process_start",
    "ensure_inside",
    "STAGING_PREFIX",
]

log = logging.getLogger(__name__)

STAGING_PREFIX = ".partial-"
# .partial-<host hash>-<owner pid>-<owner start time>-<random>: who owns a staging folder is in its
# name, so it is recorded at the very moment the folder appears (no window without an owner).
_STAGING_RE = re.compile(r"^\.partial-([0-9a-f]{8})-(\d+)-(\d+|x)-")
# Staging folders of older versions carry no owner: removed once this old (no run lasts that long idle).
_LEGACY_STAGING_AGE = 6 * 3600.0


def make_public(path: str | os.PathLike) -> None:
    """Give a temp file the mode a plainly created file would have (mkstemp makes it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A crash or exception inside the block leaves ``path`` untouched (its previous
    content, if any, survives) and removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sfx = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{sfx}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        make_public(tmp_path)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


CACHE_OFF = ("off", "none", "0")


def cache_dir() -> Path | None:
    """Where files the project can always rebuild are kept between runs (nothing there is needed).

    ``$ANIMATE_PORTRAIT_CACHE`` when set (``off`` turns caching off: ``None``), else
    ``$XDG_CACHE_HOME/animate-portrait``, else ``~/.cache/animate-portrait``. Not created here.
    """
    own = os.environ.get("ANIMATE_PORTRAIT_CACHE", "").strip()
    if own.lower() in CACHE_OFF:
        return None
    if own:
        return Path(own).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "animate-portrait"


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def process_start(pid: int) -> str | None:
    """An identity of the running process ``pid`` that changes when the PID is reused, or ``None`` if it is gone.

    Linux: its start time in clock ticks since boot (``/proc/<pid>/stat`` field 22). Elsewhere ``"x"``
    when a process with that PID exists.
    """
    stat = Path(f"/proc/{pid}/stat")
    try:
        text = stat.read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
    except OSError:
        return None
    else:
        fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
        return fields[19] if len(fields) > 19 else "x"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass  # it exists but belongs to someone else
    return "x"


def reap_stale_staging(parent: str | os.PathLike) -> list[Path]:
    """Remove staging folders in ``parent`` whose owner process is gone (a run killed by SIGKILL).

    Folders of live runs (this process's included) and of other machines are left alone.
    Returns the removed folders.
    """
    parent = Path(parent)
    removed: list[Path] = []
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX)]
    except OSError:
        return removed
    host = _host_tag()
    for path in candidates:
        if path.is_symlink() or not path.is_dir():
            continue
        m = _STAGING_RE.match(path.name)
        if m:
            if m.group(1) != host:
                continue
            start = process_start(int(m.group(2)))
            if start is not None and (m.group(3) == "x" or start == m.group(3)):
                continue  # its owner still runs
        else:
            try:
                if time.time() - path.stat().st_mtime < _LEGACY_STAGING_AGE:
                    continue
            except OSError:
                continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("removed %d staging folder(s) left by killed runs in %s", len(removed), parent)
    return removed


def make_staging_dir(parent: str | os.PathLike) -> Path:
    """A new hidden staging folder in ``parent`` named after this process; stale ones are removed first."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    reap_stale_staging(parent)
    pid = os.getpid()
    prefix = f"{STAGING_PREFIX}{_host_tag()}-{pid}-{process_start(pid) or 'x'}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def ensure_inside(path: str | os.PathLike, root: str | os.PathLike, what: str = "output") -> Path:
    """``path`` if it lies inside ``root`` (compared lexically: no ``..`` escape, symlinks are the user's own).

    Raises :class:`common.errors.OutputError` otherwise.
    """
    from .errors import OutputError

    base = os.path.normpath(os.path.abspath(root))
    full = os.path.normpath(os.path.abspath(path))
    if full != base and not full.startswith(base.rstrip(os.sep) + os.sep):
        raise OutputError(f"refusing to write {what} {path}: it is outside {root}")
    return Path(path)
