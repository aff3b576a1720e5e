"""The end-to-end run's options: one frozen object built from the command line."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from Module1 import Module1Config
from Module2 import RenderConfig

__all__ = ["PipelineConfig", "style_of", "SILENCE_DBFS"]

# Speech quieter than this over the whole file is treated as silence (the user gave the wrong file).
SILENCE_DBFS = -60.0


def style_of(exp: str) -> str:
    """The rendering style of an experiment name, as the original decides it (``cartoon`` in the name)."""
    return "cartoon" if "cartoon" in exp else "drawing"


@dataclass(frozen=True)
class PipelineConfig:
    """Inputs, outputs and back-end choices of one photo + speech → video run.

    Either ``video`` or (``photo`` and ``audio``) is given; with ``video`` the first frame is
    the photo and its audio track the speech, unless ``audio`` is given too. ``dump_data``: also
    write the run's photo and landmarks in the original's test layout there (``Module2/test.py``).
    """

    photo: Path | None
    audio: Path | None
    video: Path | None = None
    exp: str = "formal/drawing"
    epoch: str = "70"
    output_dir: Path = Path("output")
    fps: float = 25.0
    predictor: str = "auto"
    renderer: str = "auto"
    landmarker: str = "auto"
    max_seconds: float = 600.0
    quiet: bool = False
    dump_data: Path | None = None
    module1: Module1Config = field(default_factory=Module1Config)
    module2: RenderConfig = field(default_factory=RenderConfig)

    @property
    def size(self) -> int:
        """Output frame side in pixels (held by ``module2``, which renders at it)."""
        return self.module2.size

    @property
    def seed(self) -> int:
        """Random seed of the landmarks (held by ``module1``, which draws blinks and head motion with it)."""
        return self.module1.seed

    @property
    def name(self) -> str:
        """``<photo stem>-<audio stem>``: the output sub-folder, as in the original."""
        if self.video is not None:  # the clip gives the photo, and the speech unless --audio is given
            return f"{self.video.stem}-{(self.audio or self.video).stem}"
        assert self.photo is not None and self.audio is not None
        return f"{self.photo.stem}-{self.audio.stem}"

    @property
    def run_dir(self) -> Path:
        """``<output_dir>/<photo>-<audio>/``."""
        return Path(self.output_dir) / self.name

    @property
    def postfix(self) -> str:
        """``<last exp component>--ep<epoch>``, e.g. ``drawing--ep70`` (the original's naming)."""
        return f"{PurePosixPath(self.exp).name or 'drawing'}--ep{self.epoch}"
