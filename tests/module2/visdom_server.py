"""A real visdom server on 127.0.0.1 for the Module2 training tests (helper, not a test module).

Started through the project's offline launcher ``Module2.util.visdom_server`` (never downloads, no
autoreload): ``[python, -m, Module2.util.visdom_server, -port, P, --hostname, 127.0.0.1, -env_path, DIR]``.
``test_visdom_browser`` also checks visdom's own ``python -m visdom.server`` once the assets are installed.
"""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def visdom_server(env_path: Path, timeout: float = 60.0, port: int | None = None) -> Iterator[int]:
    """Start a server (on ``port`` or a free one), wait until it answers, yield the port, kill it."""
    port = free_port() if port is None else port
    log = open(Path(env_path) / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "Module2.util.visdom_server", "-port", str(port), "--hostname", "127.0.0.1", "-env_path", str(env_path)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        t0 = time.time()
        while not port_open(port):
            if proc.poll() is not None:
                raise RuntimeError(f"visdom server exited: {(Path(env_path) / 'server.log').read_text()[-2000:]}")
            if time.time() - t0 > timeout:
                raise RuntimeError("visdom server did not answer in time")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def window_data(port: int, env: str) -> dict:
    """``{window id: window dict}`` of ``env`` as the server holds it."""
    import visdom

    vis = visdom.Visdom(server="http://127.0.0.1", port=port, env=env, use_incoming_socket=False, raise_exceptions=True)
    return json.loads(vis.get_window_data(env=env))
