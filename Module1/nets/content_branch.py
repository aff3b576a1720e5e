"""Content branch: per-window audio → 204 landmark values (MakeItTalk ``Audio2landmark_content``)."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["Audio2landmarkContent", "FACE_ID_SIZE"]

FACE_ID_SIZE = 204  # 68 points × (x, y, z)
_LSTM_IN = 161  # width the prior MLP maps every audio frame to


class Audio2landmarkContent(nn.Module):
    """Prior MLP per frame → 3-layer LSTM → last step ⊕ face_id → MLP → 204 values.

    Constructor arguments mirror the original (``num_window_frames=18, in_size=80,
    use_prior_net=True, bidirectional=False, drop_out=0.5``); the keys/shapes equal the
    released ``ckpt_content_branch.pth['model_g_face_id']``.
    """

    def __init__(
        self,
        num_window_frames: int = 18,
        in_size: int = 80,
        use_prior_net: bool = True,
        hidden_size: int = 256,
        num_layers: int = 3,
        drop_out: float = 0.5,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.num_window_frames = num_window_frames
        self.in_size = in_size
        self.lstm_size = _LSTM_IN
        self.use_prior_net = use_prior_net
        self.fc_prior = nn.Sequential(
            nn.Linear(in_size, 256),
            nn.BatchNorm1d(256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, _LSTM_IN),
        )
        fc_in = hidden_size * (2 if bidirectional else 1) + FACE_ID_SIZE
        # registered before the LSTM so the state-dict order matches the released file
        self.fc = nn.Sequential(
            nn.Linear(fc_in, 512),
            nn.BatchNorm1d(512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.BatchNorm1d(256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, FACE_ID_SIZE),
        )
        self.bilstm = nn.LSTM(
            input_size=_LSTM_IN if use_prior_net else in_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=drop_out,
            bidirectional=bidirectional,
            batch_first=True,
        )

    def forward(self, au: torch.Tensor, face_id: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``au`` (B, 18, 80), ``face_id`` (B or 1, 204) → (prediction (B, 204), face_id (B, 204))."""
        x = au
        if self.use_prior_net:
            x = self.fc_prior(x.contiguous().view(-1, self.in_size))
            x = x.view(-1, self.num_window_frames, self.lstm_size)
        out, _ = self.bilstm(x)
        out = out[:, -1, :]
        if face_id.shape[0] == 1:
            face_id = face_id.repeat(out.shape[0], 1)
        return self.fc(torch.cat((out, face_id), dim=1)), face_id
