"""Start a visdom server without its first-run download of web scripts (for offline machines).

    python -m Module2.util.visdom_server -port 8097 --hostname 127.0.0.1

``python -m visdom.server`` fetches its JavaScript from CDNs before serving and fails
without internet; this runs the same server and flags (``-port``, ``--hostname``,
``-env_path``, ...) but skips that step. Data sent by training is received and
stored either way; the browser view needs the scripts, so with internet prefer
``python -m visdom.server``.
"""
from __future__ import annotations

import sys


def main() -> None:
    """Parse visdom's own server flags from ``sys.argv`` and serve."""
    from visdom.server.run_server import main as serve

    sys.argv[0] = "visdom.server"
    serve()


if __name__ == "__main__":
    main()
