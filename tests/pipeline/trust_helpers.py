"""Helpers of the trust-boundary tests: in-process CLI runs, folder snapshots, a recording TCP listener."""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from pathlib import Path


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    """``pipeline.cli.main(argv)`` in-process: (exit status, non-empty stderr lines)."""
    from pipeline import cli

    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors exit from inside parse_args
        code = exc.code if isinstance(exc.code, int) else 1
    err = capsys.readouterr().err
    return code, [ln for ln in err.splitlines() if ln.strip()]


def one_error(lines: list[str]) -> str:
    """The single ``error:`` line of a failed run (and no traceback)."""
    assert not any("Traceback" in ln for ln in lines), lines
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, lines
    return errors[0]


def snapshot(root: Path, skip: Path | None = None) -> set[str]:
    """Relative paths of everything under ``root`` (except inside ``skip``)."""
    out = set()
    for p in root.rglob("*"):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        out.add(p.relative_to(root).as_posix())
    return out


def files_in(folder: Path) -> list[str]:
    """Every file (not folder) under ``folder``, relative; [] when it does not exist."""
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


@contextmanager
def listening_socket(seconds: float = 60.0):
    """A real TCP listener on 127.0.0.1 recording every connection (accept loop bounded in time)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    hits: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        for _ in range(int(seconds / 0.2)):
            if stop.is_set():
                return
            try:
                conn, addr = srv.accept()
            except OSError:
                continue
            hits.append(str(addr))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1], hits
    finally:
        stop.set()
        thread.join(2.0)
        srv.close()
