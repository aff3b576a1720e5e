"""Install visdom's web assets (JavaScript, CSS, fonts, MathJax) from the npm registry, once.

    python -m Module2.util.visdom_assets            # install into the installed visdom package
    python -m Module2.util.visdom_assets --check    # exit 1 and list what is missing

visdom 0.2.4 ships only its own ``main.js``; its server fetches the libraries it builds on
from several CDNs on first start (``visdom.server.build.download_scripts``) and the page stays
blank without them. This step takes the same files, at the versions visdom's list names, from
the npm registry tarballs (``npm pack``, or a plain HTTPS download of the same tarball when npm is
not installed), checks each tarball against its pinned sha512 integrity, and writes the files
where visdom serves them (``<visdom>/static/{js,css,fonts}``) together with the ``version.built``
marker. After that ``python -m visdom.server`` and the offline launcher
``python -m Module2.util.visdom_server`` both serve a working page with nothing fetched at run
time. The README's set-up runs it.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError

__all__ = ["NpmAsset", "ASSETS", "AssetError", "static_dir", "missing_assets", "install_assets", "main"]

REGISTRY = "https://registry.npmjs.org"
_MJ = "js/mathjax/2.7.5/"


class AssetError(UserError):
    """An asset could not be fetched or did not match its pinned checksum."""


@dataclass(frozen=True)
class NpmAsset:
    """One npm package and the files visdom needs from it: ``{member in the tarball: path under static/}``."""

    name: str
    version: str
    integrity: str
    files: dict[str, str]

    @property
    def tarball_url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


# Versions and target names as in visdom 0.2.4's ``download_scripts`` (plotly's CDN file is the
# plotly.js-dist-min package of the same version; d3js.org's d3.v3 is d3 3.5.17, the last 3.x).
ASSETS: tuple[NpmAsset, ...] = (
    NpmAsset("jquery", "3.1.1",
             "sha512-zuiWRmx65Kd1oFGdWLvAjbsumdOBFvs3r1vuqCyKFF79R7exBHNbiNEJ8LR+xkzgfxqBznMD/4Cv6PHXS6mvEw==",
             {"dist/jquery.min.js": "js/jquery.min.js"}),
    NpmAsset("bootstrap", "3.3.7",
             "sha512-qcFaisBrcBhTFkz1IUnGDYnX6ZWfFzH8zOixUDtHW9Ip+r+7MfMFav2rzy7cIHc7rgIg7xjhWBoo1mS/U26j4g==",
             {"dist/js/bootstrap.min.js": "js/bootstrap.min.js",
              "dist/css/bootstrap.min.css": "css/bootstrap.min.css",
              **{f"dist/fonts/glyphicons-halflings-regular.{ext}": f"fonts/glyphicons-halflings-regular.{ext}"
                 for ext in ("eot", "woff2", "woff", "ttf")},
              "dist/fonts/glyphicons-halflings-regular.svg":
                  "fonts/glyphicons-halflings-regular.svg#glyphicons_halflingsregular"}),
    NpmAsset("react", "16.2.0",
             "sha512-ZmIomM7EE1DvPEnSFAHZn9Vs9zJl5A9H7el0EGTE6ZbW9FKe/14IYAlPbC8iH25YarEQxZL+E8VW7Mi7kfQrDQ==",
             {"umd/react.production.min.js": "js/react-react.min.js"}),
    NpmAsset("react-dom", "16.2.0",
             "sha512-zpGAdwHVn9K0091d+hr+R0qrjoJ84cIBFL2uU60KvWBPfZ7LPSrfqviTxGHWN0sjPZb2hxWzMexwrvJdKePvjg==",
             {"umd/react-dom.production.min.js": "js/react-dom.min.js"}),
    NpmAsset("react-modal", "3.1.10",
             "sha512-7b77AGWCkdg0YOf/qcYIGCpuwbxRwOA8P3UrUovk4grUNv+idOmHovJAx/Dcd3fuwHtgixxVjpcjVG60985MSA==",
             {"dist/react-modal.min.js": "js/react-modal.min.js"}),
    NpmAsset("plotly.js-dist-min", "2.11.1",
             "sha512-F9WWNht0D3yBLZGHbLoJNfvplXvy+GUPSsA/lCbMuYd/UwzSu6Vmyprxlps9Einw1LDS1hYBrJeioK0lE3ieXA==",
             {"plotly.min.js": "js/plotly-plotly.min.js"}),
    NpmAsset("sjcl", "1.0.7",
             "sha512-xQbiwKfiAj6vyk44ANJ5RRymALRdRZOuRoKNYkWUU404p/RFXmMaay1Z5vRn30GJjkD+psox4Jd38jZojSuNYA==",
             {"sjcl.js": "js/sjcl.js"}),
    NpmAsset("layout-bin-packer", "1.4.0",
             "sha512-dQOZnajbOBGIcS9YlzKrkRtMCGa2oEpyf1zGRn93suphSvPclJe54Sbgtb053GJ21DUk84IBzaeQvjn+Gb10fA==",
             {"dist/layout-bin-packer.js": "js/layout_bin_packer.js",
              "dist/layout-bin-packer.js.map": "js/layout-bin-packer.js.map"}),
    NpmAsset("d3", "3.5.17",
             "sha512-yFk/2idb8OHPKkbAL8QaOaqENNoMhIaSHZerk3oQsECwkObkCpJyjYwCe+OHiq6UEdhe1m8ZGARRRO3ljFjlKg==",
             {"d3.min.js": "js/d3.v3.min.js"}),
    NpmAsset("d3-selection-multi", "1.0.1",
             "sha512-mEnRkJ6A+Otd1LuRPV3az+s/RLDmIEhuz/MnT21O2nPcWNH7wZotdIlRjMA4Wpr+n7AESQ5fD8v1J3nL2Mnw9g==",
             {"build/d3-selection-multi.js": "js/d3-selection-multi.v1.js"}),
    NpmAsset("save-svg-as-png", "1.4.17",
             "sha512-7QDaqJsVhdFPwviCxkgHiGm9omeaMBe1VKbHySWU6oFB2LtnGCcYS13eVoslUgq6VZC6Tjq/HddBd1K6p2PGpA==",
             {"lib/saveSvgAsPng.js": "js/saveSvgAsPng.js"}),
    NpmAsset("react-resizable", "1.4.6",
             "sha512-4zLORO51u0/mlDsrVCAA4p266d+3mb2ZMNdiWOotAh/PdnfrRzZhgePmKE08PSQatXVIfMjmyD+Sapay8tmxdQ==",
             {"css/styles.css": "css/react-resizable-styles.css"}),
    NpmAsset("react-grid-layout", "0.16.3",
             "sha512-ytP92EqUjqcFhGzvdeKrK610dQ04GdFwRCWtD6PoeL5wR3liETcFISO7k8RBqnosV86JtXf/DwIfrL0COLs0gg==",
             {"css/styles.css": "css/react-grid-layout-styles.css"}),
    NpmAsset("classnames", "2.2.5",
             "sha512-DTt3GhOUDKhh4ONwIJW4lmhyotQmV2LjNlGK/J2hkwUcqcbKkCLAdJPtxQnxnlc7SR3f1CEXCyMmc7WLUsWbNA==",
             {"index.js": "fonts/classnames"}),
    NpmAsset("mathjax", "2.7.5",
             "sha512-OzsJNitEHAJB3y4IIlPCAvS0yoXwYjlo2Y4kmm9KQzyIBZt2d8yKRalby3uTRNN4fZQiGL2iMXjpdP1u2Rq2DQ==",
             {p: _MJ + p for p in ("MathJax.js", "config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js", "extensions/Safe.js",
                                   "jax/output/SVG/fonts/TeX/fontdata.js", "jax/output/SVG/jax.js",
                                   "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js", "jax/output/SVG/config.js")}),
)


def static_dir() -> Path:
    """The ``static/`` folder of the installed visdom package (where its server serves from)."""
    spec = importlib.util.find_spec("visdom")
    if spec is None or spec.origin is None:
        raise AssetError("visdom is not installed (pip install -r requirements.txt)")
    return Path(spec.origin).parent / "static"


def _visdom_version() -> str:
    import visdom

    return str(visdom.__version__)  # type: ignore[attr-defined]  # set from its VERSION file; the stub omits it


def missing_assets(static: Path | None = None) -> list[str]:
    """Paths under ``static/`` that visdom's page needs and are absent (``version.built`` included)."""
    static = static_dir() if static is None else Path(static)
    out = [rel for a in ASSETS for rel in a.files.values() if not (static / rel).is_file()]
    built = static / "version.built"
    if not built.is_file() or built.read_text().strip() != _visdom_version():
        out.append("version.built")
    return out


def _check_integrity(path: Path, integrity: str) -> None:
    algo, _, want = integrity.partition("-")
    got = base64.b64encode(hashlib.new(algo, path.read_bytes()).digest()).decode()
    if got != want:
        raise AssetError(f"{path.name}: {algo} checksum does not match the pinned one (got {got[:16]}…); not installed")


def _fetch(asset: NpmAsset, dest: Path) -> Path:
    """The package tarball in ``dest``: ``npm pack`` when npm is installed, else a direct download."""
    npm = shutil.which("npm")
    if npm:
        proc = subprocess.run([npm, "pack", f"{asset.name}@{asset.version}", "--pack-destination", str(dest),
                               "--silent", "--ignore-scripts"], capture_output=True, text=True, timeout=600)
        tgz = sorted(dest.glob("*.tgz"))
        if proc.returncode == 0 and len(tgz) == 1:
            return tgz[0]
        for p in tgz:
            p.unlink()
    path = dest / f"{asset.name}-{asset.version}.tgz"
    try:
        with urllib.request.urlopen(asset.tarball_url, timeout=120) as resp, open(path, "wb") as f:
            shutil.copyfileobj(resp, f)
    except OSError as exc:
        raise AssetError(f"cannot download {asset.name}@{asset.version} from the npm registry: {exc}") from None
    return path


def _extract(tgz: Path, asset: NpmAsset, static: Path) -> None:
    with tarfile.open(tgz, "r:gz") as tar:
        names = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if m.isfile() and "/" in m.name}
        for member, rel in asset.files.items():
            if member not in names:
                raise AssetError(f"{asset.name}@{asset.version} has no {member}")
            src = tar.extractfile(names[member])
            assert src is not None
            target = static / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            with src, open(tmp, "wb") as f:
                shutil.copyfileobj(src, f)
            os.replace(tmp, target)  # a half-written asset never sits under its real name


def install_assets(static: Path | None = None, force: bool = False, quiet: bool = False) -> list[str]:
    """Fetch, verify and install every asset still missing; returns the paths written under ``static/``."""
    static = static_dir() if static is None else Path(static)
    built = static / "version.built"
    missing = set(missing_assets(static))
    if not force and not missing:
        return []
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="visdom-assets-") as tmp:
        for asset in ASSETS:
            if not force and not missing & set(asset.files.values()):
                continue
            work = Path(tmp) / asset.name
            work.mkdir()
            if not quiet:
                print(f"visdom assets: {asset.name}@{asset.version}", file=sys.stderr)
            tgz = _fetch(asset, work)
            _check_integrity(tgz, asset.integrity)
            _extract(tgz, asset, static)
            written += list(asset.files.values())
    # visdom's own start-up check: with this marker (and the files present) it downloads nothing
    built.write_text(_visdom_version())
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m Module2.util.visdom_assets", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report missing assets (exit 1 if any)")
    ap.add_argument("--force", action="store_true", help="fetch and reinstall every asset")
    ap.add_argument("--static_dir", type=Path, default=None, help="install here instead of visdom's static/ folder")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    try:
        if a.check:
            missing = missing_assets(a.static_dir)
            for rel in missing:
                print(f"missing: {rel}")
            return 1 if missing else 0
        written = install_assets(a.static_dir, force=a.force, quiet=a.quiet)
        if not a.quiet:
            where = a.static_dir or static_dir()
            print(f"visdom assets: {len(written)} files installed in {where}" if written
                  else f"visdom assets: all present in {where}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
