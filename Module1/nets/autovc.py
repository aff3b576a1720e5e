"""AutoVC voice conversion with an F0 one-hot input (the MakeItTalk "retrain" variant).

Encoder: three 5-tap conv + GroupNorm(32) blocks on (mel ⊕ source embedding), a 2-layer bidirectional
LSTM of width ``dim_neck``, codes down-sampled by ``freq``. Decoder: one 3-layer LSTM on (codes ⊕ target
embedding ⊕ 257-bin F0 one-hot) and a linear projection to 80 mel bins. Post-net: five 5-tap conv +
GroupNorm blocks (32 groups; 5 groups on the last, 80-channel one; tanh between). GroupNorm, not
BatchNorm: the released file has no running statistics. Keys/shapes equal the released ``ckpt_autovc.pth['model']``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Generator", "F0_BINS", "N_MELS"]

F0_BINS = 257
N_MELS = 80


class LinearNorm(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, w_init_gain: str = "linear") -> None:
        super().__init__()
        self.linear_layer = nn.Linear(in_dim, out_dim, bias=bias)
        nn.init.xavier_uniform_(self.linear_layer.weight, gain=nn.init.calculate_gain(w_init_gain))  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_layer(x)


class ConvNorm(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 5, w_init_gain: str = "linear") -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, stride=1, padding=(kernel_size - 1) // 2, bias=True)
        nn.init.xavier_uniform_(self.conv.weight, gain=nn.init.calculate_gain(w_init_gain))  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _block(in_ch: int, out_ch: int, gain: str, groups: int = 32) -> nn.Sequential:
    return nn.Sequential(ConvNorm(in_ch, out_ch, 5, w_init_gain=gain), nn.GroupNorm(groups, out_ch))


class Encoder(nn.Module):
    def __init__(self, dim_neck: int, dim_emb: int, freq: int) -> None:
        super().__init__()
        self.dim_neck = dim_neck
        self.freq = freq
        self.convolutions = nn.ModuleList(
            [_block(N_MELS + dim_emb if i == 0 else 512, 512, "relu") for i in range(3)]
        )
        self.lstm = nn.LSTM(512, dim_neck, 2, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, c_org: torch.Tensor) -> list[torch.Tensor]:
        """``x`` (B, T, 80), ``c_org`` (B, 256) → T/freq codes of (B, 2·dim_neck)."""
        x = x.transpose(2, 1)
        c = c_org.unsqueeze(-1).expand(-1, -1, x.size(-1))
        x = torch.cat((x, c), dim=1)
        for conv in self.convolutions:
            x = F.relu(conv(x))
        out, _ = self.lstm(x.transpose(1, 2))
        fwd = out[:, :, : self.dim_neck]
        bwd = out[:, :, self.dim_neck :]
        return [
            torch.cat((fwd[:, i + self.freq - 1, :], bwd[:, i, :]), dim=-1)
            for i in range(0, out.size(1), self.freq)
        ]


class Decoder(nn.Module):
    def __init__(self, dim_neck: int, dim_emb: int, dim_pre: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim_neck * 2 + dim_emb + F0_BINS, dim_pre, 3, batch_first=True)
        self.linear_projection = LinearNorm(dim_pre, N_MELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.linear_projection(out)


class Postnet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.convolutions = nn.ModuleList(
            [_block(N_MELS, 512, "tanh")]
            + [_block(512, 512, "tanh") for _ in range(3)]
            + [_block(512, N_MELS, "linear", groups=5)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convolutions[:-1]:
            x = torch.tanh(conv(x))
        return self.convolutions[-1](x)


class Generator(nn.Module):
    """``Generator(dim_neck=16, dim_emb=256, dim_pre=512, freq=16)`` as released (14,320,960 parameters)."""

    def __init__(self, dim_neck: int = 16, dim_emb: int = 256, dim_pre: int = 512, freq: int = 16) -> None:
        super().__init__()
        self.encoder = Encoder(dim_neck, dim_emb, freq)
        self.decoder = Decoder(dim_neck, dim_emb, dim_pre)
        self.postnet = Postnet()

    def forward(
        self,
        x: torch.Tensor,
        c_org: torch.Tensor,
        f0_org: torch.Tensor | None = None,
        c_trg: torch.Tensor | None = None,
        f0_trg: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | torch.Tensor:
        """Convert ``x`` (B, T, 80), T a multiple of ``freq``, to speaker ``c_trg`` (B, 256).

        ``f0_trg`` (B, T, 257) is the F0 one-hot the decoder is conditioned on. Returns
        (mel before post-net (B, T, 80), mel after post-net (B, T, 80), codes); without ``c_trg``
        only the concatenated codes.
        """
        if x.dim() == 4:
            x = x.squeeze(1)
        codes = self.encoder(x, c_org)
        if c_trg is None:
            return torch.cat(codes, dim=-1)
        step = x.size(1) // len(codes)
        code_exp = torch.cat([c.unsqueeze(1).expand(-1, step, -1) for c in codes], dim=1)
        if f0_trg is None:
            raise ValueError("f0_trg (B, T, 257) is required to decode")
        dec_in = torch.cat((code_exp, c_trg.unsqueeze(1).expand(-1, x.size(1), -1), f0_trg), dim=-1)
        mel = self.decoder(dec_in)
        mel_post = mel + self.postnet(mel.transpose(2, 1)).transpose(2, 1)
        return mel, mel_post, torch.cat(codes, dim=-1)
