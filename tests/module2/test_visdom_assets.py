"""visdom's web assets: the pinned list matches visdom's own, tarballs are checked, files land under their names."""
from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from Module2.util import visdom_assets as va


def _tarball(path: Path, files: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def test_every_file_visdom_serves_is_covered():
    """The names the installed visdom's index.html asks for are all installed by the asset list."""
    index = (va.static_dir() / "index.html").read_text()
    import re

    wanted = {m for m in re.findall(r'static_url\(["\']([^"\']+)["\']\)', index) if not m.startswith("../")}
    provided = {rel for a in va.ASSETS for rel in a.files.values()} | {"js/main.js", "css/style.css", "css/network.css"}
    assert wanted <= provided, wanted - provided
    assert len(va.ASSETS) == 15 and all(a.integrity.startswith("sha512-") for a in va.ASSETS)


def test_checksum_mismatch_is_refused(tmp_path):
    tgz = tmp_path / "p.tgz"
    good = _tarball(tgz, {"dist/x.js": b"console.log(1)"})
    va._check_integrity(tgz, good)  # passes
    data = bytearray(tgz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    tgz.write_bytes(bytes(data))
    with pytest.raises(va.AssetError, match="checksum does not match"):
        va._check_integrity(tgz, good)


def test_extract_writes_the_named_files_only(tmp_path):
    tgz = tmp_path / "p.tgz"
    integrity = _tarball(tgz, {"dist/x.min.js": b"x", "dist/other.js": b"y", "fonts/a.svg": b"<svg/>"})
    asset = va.NpmAsset("p", "1.0.0", integrity, {"dist/x.min.js": "js/x.min.js", "fonts/a.svg": "fonts/a.svg#a"})
    static = tmp_path / "static"
    va._extract(tgz, asset, static)
    assert sorted(str(p.relative_to(static)) for p in static.rglob("*") if p.is_file()) == ["fonts/a.svg#a", "js/x.min.js"]
    assert (static / "js" / "x.min.js").read_bytes() == b"x"
    missing = va.NpmAsset("p", "1.0.0", integrity, {"dist/absent.js": "js/absent.js"})
    with pytest.raises(va.AssetError, match="has no dist/absent.js"):
        va._extract(tgz, missing, static)


def test_missing_assets_of_an_empty_folder(tmp_path):
    missing = va.missing_assets(tmp_path)
    assert "js/plotly-plotly.min.js" in missing and "version.built" in missing
    assert len(missing) == sum(len(a.files) for a in va.ASSETS) + 1
