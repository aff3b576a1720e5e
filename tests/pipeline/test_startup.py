"""Fast start: the CLI and the stage registries import no heavy back-end until one is used."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "scipy", "librosa", "pocketsphinx", "dlib", "av", "dask", "distributed")


def _loaded_after(code: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    prog = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    out = subprocess.run([sys.executable, "-c", prog], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_help_imports_no_torch_nor_back_end():
    loaded = _loaded_after("""
        import contextlib, io
        from pipeline.cli import build_parser
        with contextlib.redirect_stdout(io.StringIO()) as buf, contextlib.suppress(SystemExit):
            build_parser().parse_args(["--help"])
        assert "--renderer" in buf.getvalue() and "makeittalk" in buf.getvalue()
    """)
    assert "torch" not in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_public_names_stay_importable_and_lazy():
    loaded = _loaded_after("""
        from Module1 import PREDICTORS, Module1Config, resolve_predictor
        from Module2 import RENDERERS, RenderConfig, resolve_renderer
        import Module1.predictors.base as base
        assert PREDICTORS.names() == ["procedural", "makeittalk"], PREDICTORS.names()
        assert RENDERERS.names() == ["classic", "gan"], RENDERERS.names()
        assert base.PREDICTORS is PREDICTORS
        # 'auto' decides from the files alone: no checkpoints here → the weight-free back-ends
        cfg1 = Module1Config(load_a2l_C_name="/nonexistent/c.pth")
        assert resolve_predictor("auto", cfg1)[0] == "procedural"
        assert resolve_renderer("auto", RenderConfig(checkpoints_dir="/nonexistent"))[0] == "classic"
    """)
    assert "torch" not in loaded and "scipy" not in loaded


def test_get_imports_the_back_end_on_use():
    loaded = _loaded_after("""
        import Module1.predictors.base as base
        from Module1 import Module1Config
        cls = base.PREDICTORS.get("makeittalk")
        assert cls.__name__ == "MakeItTalkPredictor" and cls.name == "makeittalk"
        assert base.PREDICTORS.get("makeittalk") is cls
        assert "not found" in cls.unavailable_reason(Module1Config(load_AUTOVC_name="/nonexistent/a.pth"))
        from Module2 import RENDERERS
        assert RENDERERS.get("classic").__name__ == "ClassicRenderer"
    """)
    assert "torch" in loaded  # makeittalk is the torch back-end: resolving it imports it


def test_lazy_registry_semantics():
    from common.registry import Registry

    reg: Registry = Registry("thing")
    reg.register_lazy("path", "pathlib:PurePosixPath", unavailable=lambda cfg: None if cfg else "off")
    reg.register_lazy("frac", "fractions:Fraction")
    assert reg.names() == ["path", "frac"] and "frac" in reg and len(reg) == 2
    assert reg.unavailable_reason("path", False) == "off"  # answered without importing
    from fractions import Fraction
    from pathlib import PurePosixPath

    assert reg.get("path") is PurePosixPath and reg.get("frac") is Fraction
    with pytest.raises(ValueError):
        reg.register_lazy("path", "pathlib:Path")
    with pytest.raises(ValueError, match="module:attr"):
        reg.register_lazy("bad", "pathlib.Path")
    with pytest.raises(KeyError, match="choose one of: path, frac"):
        reg.get("nope")


def test_lazy_name_is_filled_by_its_modules_decorator():
    from common.registry import Registry

    reg: Registry = Registry("thing")
    reg.register_lazy("x", "somewhere:X")

    @reg.register("x")
    class X: ...

    assert reg.get("x") is X
    with pytest.raises(ValueError, match="already registered"):
        reg.register("x")(object)
