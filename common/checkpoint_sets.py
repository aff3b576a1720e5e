"""Checkpoint *sets*: several files saved together (every network of a model plus its training state),
all-or-nothing.

A set with tag ``T`` (``latest``, ``7``, ``iter_500``) in a folder is the files ``T_<key>.pth`` and
its manifest ``T_checkpoint.json``. Saving writes every file under a temporary name first, then
the manifest, which lists the renames still to do (the commit point), then renames, then rewrites
the manifest without them. A save killed before the manifest leaves the previous set untouched
(its temporary files are removed by the next save or load); one killed after it is rolled forward
by :func:`recover_sets`. So a folder never holds a mixed set, and loading a set checks it.

Folders of the original (files without a manifest, e.g. the released ``70_net_G_A.pth``) still load.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .fs import atomic_path, make_public

__all__ = ["save_set", "recover_sets", "set_status", "complete_sets", "newest_complete_set", "manifest_path"]

log = logging.getLogger(__name__)

_MANIFEST = "_checkpoint.json"
# Temporary files of this module and of common.fs.atomic_path: ".<stem>.<random>.tmp.pth".
_TEMP_RE = re.compile(r"^\..+\.tmp\.pth$")


def manifest_path(folder: str | os.PathLike, tag: str) -> Path:
    """``<folder>/<tag>_checkpoint.json``."""
    return Path(folder) / f"{tag}{_MANIFEST}"


def _write_manifest(folder: Path, tag: str, doc: Mapping[str, Any]) -> None:
    with atomic_path(manifest_path(folder, tag)) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("files"), dict) else None


def _finish(folder: Path, tag: str, doc: dict[str, Any]) -> None:
    """Do the renames a committed manifest still lists, then drop the list."""
    for tmp, final in doc.get("pending", []):
        src = folder / tmp
        if src.exists():
            os.replace(src, folder / final)
    doc = {k: v for k, v in doc.items() if k != "pending"}
    _write_manifest(folder, tag, doc)


def recover_sets(folder: str | os.PathLike) -> None:
    """Roll committed-but-unfinished saves forward and remove temporary files of saves that never committed."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    pending: set[str] = set()
    for path in sorted(folder.glob(f"*{_MANIFEST}")):
        doc = _read_manifest(path)
        if doc and doc.get("pending"):
            _finish(folder, path.name[: -len(_MANIFEST)], doc)
            pending.update(tmp for tmp, _ in doc["pending"])
    stale = [p for p in folder.iterdir() if _TEMP_RE.match(p.name) and p.name not in pending and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temporary checkpoint file(s) of an interrupted save in %s", len(stale), folder)


def save_set(folder: str | os.PathLike, tag: str, items: Mapping[str, Any],
             counters: Mapping[str, Any] | None = None) -> list[Path]:
    """Save ``items`` (key → object for ``torch.save``) as the set ``tag``: all of them, or none.

    Returns the final paths ``<folder>/<tag>_<key>.pth``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover_sets(folder)
    temps: list[tuple[Path, Path]] = []
    try:
        files = {}
        for key, obj in items.items():
            final = folder / f"{tag}_{key}.pth"
            fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".tmp.pth", dir=folder)
            os.close(fd)
            tmp = Path(name)
            temps.append((tmp, final))
            torch.save(obj, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            make_public(tmp)
            files[key] = {"file": final.name, "size": tmp.stat().st_size}
        doc: dict[str, Any] = {
            "tag": tag,
            "files": files,
            "counters": dict(counters or {}),
            "saved": time.time(),
            "pending": [[t.name, f.name] for t, f in temps],
        }
        _write_manifest(folder, tag, doc)  # the commit point
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    _finish(folder, tag, doc)
    return [f for _, f in temps]


def set_status(folder: str | os.PathLike, tag: str, keys: Iterable[str]) -> tuple[bool, str, dict[str, Any]]:
    """``(complete, why not, manifest)`` of the set ``tag``; a folder without a manifest (the original's)
    is complete when every ``<tag>_<key>.pth`` exists."""
    folder = Path(folder)
    keys = list(keys)
    mpath = manifest_path(folder, tag)
    if not mpath.exists():
        missing = [f"{tag}_{k}.pth" for k in keys if not (folder / f"{tag}_{k}.pth").is_file()]
        return (not missing, f"missing {', '.join(missing)}" if missing else "", {})
    doc = _read_manifest(mpath)
    if doc is None:
        return False, f"unreadable manifest {mpath.name}", {}
    if doc.get("pending"):
        return False, "its save did not finish", doc
    for key in keys:
        entry = doc["files"].get(key)
        if entry is None:
            return False, f"the manifest lists no {key}", doc
        path = folder / entry["file"]
        if not path.is_file() or path.stat().st_size != entry.get("size"):
            return False, f"{entry['file']} is missing or not the one saved with the set", doc
    return True, "", doc


def complete_sets(folder: str | os.PathLike, keys: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every complete set with a manifest in ``folder``, oldest first (by iteration count, then save time)."""
    folder = Path(folder)
    keys = list(keys)
    found = []
    for path in folder.glob(f"*{_MANIFEST}"):
        tag = path.name[: -len(_MANIFEST)]
        ok, _, doc = set_status(folder, tag, keys)
        if ok:
            found.append((tag, doc))
    found.sort(key=lambda td: (int(td[1].get("counters", {}).get("total_iters", 0)), float(td[1].get("saved", 0.0))))
    return found


def newest_complete_set(folder: str | os.PathLike, keys: Iterable[str]) -> str:
    """The tag to resume from: the newest complete set with a manifest, else a complete original-style
    ``latest`` set. Raises :class:`CheckpointError` when there is none."""
    keys = list(keys)
    sets = complete_sets(folder, keys)
    if sets:
        return sets[-1][0]
    ok, why, _ = set_status(folder, "latest", keys)
    if ok:
        return "latest"
    raise CheckpointError(f"no complete checkpoint set to continue from in {folder} (latest: {why})")
