"""Options of stage 1 (audio → landmarks), built once by the entry point."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Module1Config", "CHECKPOINT_DIR"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


@dataclass(frozen=True)
class Module1Config:
    """Everything a landmark predictor needs; paths default to ``Module1/checkpoints``.

    ``module1_constants`` is the folder with STD_FACE_LANDMARKS.txt,
    MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt, ANCHOR_T_SHAPE_9.txt and obama_emb.txt
    (default: the checkpoints folder).
    """

    load_AUTOVC_name: Path = CHECKPOINT_DIR / "ckpt_autovc.pth"
    load_a2l_G_name: Path = CHECKPOINT_DIR / "ckpt_speaker_branch.pth"
    load_a2l_C_name: Path = CHECKPOINT_DIR / "ckpt_content_branch.pth"
    module1_constants: Path | None = None
    #: "autovc" (AutoVC content features, the released branches) or "mel" (branches trained on the plain mel)
    feature: str = "autovc"
    amp_lip_x: float = 2.0
    amp_lip_y: float = 2.0
    amp_pos: float = 0.5
    emb_coef: float = 3.0
    head_motion: float = 1.0
    transcript: str | None = None  # words spoken (text, or a .txt path): the procedural predictor aligns them
    device: str = "cpu"
    seed: int = 0
    quiet: bool = False

    @property
    def constants_dir(self) -> Path:
        """Folder holding the original constant files."""
        return Path(self.module1_constants) if self.module1_constants else Path(self.load_a2l_C_name).parent
