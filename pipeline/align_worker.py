"""Face alignment in a child process, started before the run's own imports so it uses the other core.

Loading dlib's models and finding the face take about 1 s on one core, and the main process spends
about as long importing, decoding the speech and recognising phones. A one-shot CLI run therefore
starts :func:`start` first and picks the result up with :meth:`EarlyAlign.result` when the photo is
needed; the result is the same :class:`pipeline.align.AlignedPhoto` that :func:`align_photo` gives in
process (same code, same input). A user error in the child (no face, unreadable photo) is raised in
the parent as the same one-line error; anything else makes the parent align the photo itself.

The child runs this file as a script (``python -P``, like :mod:`Module1.phone_worker`) and writes one
JSON header line and then, on success, an ``.npz`` of the result on stdout (loaded without pickles).
"""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

__all__ = ["EarlyAlign", "start", "start_from_argv"]

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parent.parent


class EarlyAlign:
    """A running child that aligns one photo; :meth:`result` waits for it, :meth:`close` stops it."""

    def __init__(self, proc: subprocess.Popen, photo: Path, video: bool, landmarker: str) -> None:
        self._proc: subprocess.Popen | None = proc
        self.photo, self.video, self.landmarker = photo, video, landmarker

    def matches(self, photo: Path | None, video: Path | None, landmarker: str) -> bool:
        """Whether this child aligns the photo (or the video's first frame) a run with these inputs needs."""
        want = video if video is not None else photo
        return want is not None and Path(want) == self.photo and (video is not None) == self.video \
            and landmarker == self.landmarker

    def result(self) -> Any:
        """The child's :class:`AlignedPhoto`; a user error re-raised here; ``None`` when the child failed otherwise."""
        from common import errors

        proc, self._proc = self._proc, None
        if proc is None:
            return None
        assert proc.stdout is not None
        try:
            head = proc.stdout.readline()
            body = proc.stdout.read()
        finally:
            proc.stdout.close()
            proc.wait()
        try:
            meta = json.loads(head)
        except ValueError:
            log.debug("early alignment: no result (exit status %s); aligning here", proc.returncode)
            return None
        if "error" in meta:
            cls = getattr(errors, str(meta["error"]), None)
            if isinstance(cls, type) and issubclass(cls, errors.UserError):
                raise cls(str(meta.get("message", "")))
            log.debug("early alignment failed (%s); aligning here", meta.get("message"))
            return None
        if not meta.get("ok"):
            log.debug("early alignment failed (%s); aligning here", meta.get("message"))
            return None
        from .align import load_aligned

        try:
            return load_aligned(io.BytesIO(body))
        except ValueError as exc:
            log.debug("early alignment: unusable result (%s); aligning here", exc)
            return None

    def close(self) -> None:
        """Stop the child if it is still running (the run failed or ended before it needed the photo)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> EarlyAlign:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start(photo: Path | None, video: Path | None, landmarker: str, quiet: bool) -> EarlyAlign | None:
    """Start aligning the photo (or the video's first frame) in a child process; ``None`` if it cannot start."""
    src = video if video is not None else photo
    if src is None:
        return None
    # "--opt=value": a file name that starts with "-" stays a value
    kind = "--video" if video is not None else "--photo"
    cmd = [sys.executable, "-P", str(Path(__file__).resolve()), f"{kind}={Path(src)}", f"--landmarker={landmarker}"]
    cmd += ["--quiet"] if quiet else []
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    except OSError as exc:
        log.debug("early alignment unavailable (%s)", exc)
        return None
    return EarlyAlign(proc, Path(src), video is not None, landmarker)


def start_from_argv(argv: list[str]) -> EarlyAlign | None:
    """:func:`start` on the photo that ``main_end2end_module2.py``'s arguments name, before they are parsed.

    Only exact ``--jpg``/``--video``/``--landmarker`` (``--opt VALUE`` or ``--opt=VALUE``) and ``-q``
    are read; help, batch runs and anything unclear start nothing. The CLI checks the child against
    its parsed arguments (:meth:`EarlyAlign.matches`) and stops it when they differ.
    """
    found: dict[str, str] = {}
    quiet = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("-h", "--help", "--batch"):
            return None
        if name in ("--jpg", "--video", "--landmarker"):
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            if name in found:
                return None
            found[name] = value
        elif arg in ("-q", "--quiet"):
            quiet = True
        i += 1
    photo = Path(found["--jpg"]) if "--jpg" in found else None
    video = Path(found["--video"]) if "--video" in found else None
    return start(photo, video, found.get("--landmarker", "auto"), quiet)


def _reply(out: IO[bytes], meta: dict, body: bytes = b"") -> None:
    out.write(json.dumps(meta).encode() + b"\n" + body)
    out.flush()


def main(argv: list[str] | None = None) -> int:
    """Child: align ``--photo PATH`` or ``--video PATH``'s first frame; the result goes to stdout."""
    import argparse

    ap = argparse.ArgumentParser(allow_abbrev=False)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--photo", type=Path)
    src.add_argument("--video", type=Path)
    ap.add_argument("--landmarker", default="auto")
    ap.add_argument("--quiet", action="store_true")
    ns = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if ns.quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    out = sys.stdout.buffer
    sys.path.insert(0, str(_REPO))
    from common.errors import UserError
    from common.media import extract_first_frame
    from pipeline.align import align_photo, load_photo, save_aligned

    path = ns.video if ns.video is not None else ns.photo
    try:
        image = extract_first_frame(path) if ns.video is not None else load_photo(path)
        aligned = align_photo(image, landmarker=ns.landmarker, name=path.name)
    except UserError as exc:
        _reply(out, {"error": type(exc).__name__, "message": str(exc)})
        return 0
    except Exception as exc:  # the parent aligns the photo itself and shows its own error, if any
        _reply(out, {"failed": type(exc).__name__, "message": str(exc)})
        return 1
    buf = io.BytesIO()
    save_aligned(buf, aligned)
    _reply(out, {"ok": True}, buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
