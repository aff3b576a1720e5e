"""Networks of Module1, state-dict compatible with the released MakeItTalk/AutoVC checkpoints.

* :class:`Generator` — AutoVC voice conversion (``ckpt_autovc.pth['model']``).
* :class:`Audio2landmarkContent` — content branch (``ckpt_content_branch.pth['model_g_face_id']``).
* :class:`Audio2landmarkPos` — speaker-aware branch (``ckpt_speaker_branch.pth['G']``; ``comb_mlp.*``
  keys of released files are dropped on load, see :data:`SPEAKER_DROP_PREFIXES`).
"""
from .autovc import Generator
from .content_branch import Audio2landmarkContent
from .speaker_branch import SPEAKER_DROP_PREFIXES, Audio2landmarkPos

__all__ = ["Generator", "Audio2landmarkContent", "Audio2landmarkPos", "SPEAKER_DROP_PREFIXES"]
