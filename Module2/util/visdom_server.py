"""Start the visdom server offline: no first-run download, no restart when a source file changes.

    python -m Module2.util.visdom_server -port 8097 --hostname 127.0.0.1

Takes visdom's own server flags (``-port``, ``--hostname``, ``-env_path``, ...). Unlike
``python -m visdom.server`` it never tries the CDNs: the page's scripts come from
``python -m Module2.util.visdom_assets`` (the README's set-up runs it; without them the server
still stores what training sends, but the page stays blank, and this says so once). visdom runs
Tornado in debug mode, whose autoreload restarts the server, dropping every unsaved env, whenever
any imported Python file changes; this launcher turns the autoreload off.
"""
from __future__ import annotations

import sys


def main() -> None:
    """Parse visdom's own server flags from ``sys.argv`` and serve."""
    from visdom.server import app
    from visdom.server.run_server import main as serve

    from .visdom_assets import missing_assets

    missing = missing_assets()
    if missing:
        print(f"NOTICE: {len(missing)} visdom web assets are missing (e.g. {missing[0]}): the page will stay blank. "
              "Install them once with `python -m Module2.util.visdom_assets`.", file=sys.stderr)
    # Tornado keeps an explicit setting; visdom only forces debug=True, which would imply autoreload.
    app.tornado_settings["autoreload"] = False
    sys.argv[0] = "visdom.server"
    serve()


if __name__ == "__main__":
    main()
