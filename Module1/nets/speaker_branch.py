"""Speaker-aware branch (MakeItTalk ``Audio2landmark_pos``) and its small transformer.

The transformer follows the original's layer names (``embed.embed``, ``pe.pe``, ``norm_*.alpha``,
``attn.{q,k,v}_linear``, ``ff.linear_{1,2}``) so released checkpoints load strictly. Only the encoder
is used in ``forward``; the decoder exists because the released file holds its weights.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Audio2landmarkPos", "SPEAKER_DROP_PREFIXES", "Encoder", "Decoder", "positional_table"]

#: first key components of released speaker checkpoints that the class has no slot for
SPEAKER_DROP_PREFIXES: tuple[str, ...] = ("comb_mlp",)


def positional_table(d_model: int, max_len: int = 512) -> torch.Tensor:
    """The original's sinusoid table (1, max_len, d_model).

    Even column i: ``sin(pos / 10000**(2i/d))``; odd column i+1: ``cos(pos / 10000**(2(i+1)/d))``
    (the exponent counts the column index twice, as the original does).
    """
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    i = torch.arange(0, d_model, 2, dtype=torch.float64)[None, :]
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos / 10000 ** (2 * i / d_model))
    pe[:, 1::2] = torch.cos(pos / 10000 ** (2 * (i + 1) / d_model))
    return pe.float().unsqueeze(0)


class Norm(nn.Module):
    """Layer norm with the unbiased std and eps added to the std (not the variance)."""

    def __init__(self, d_model: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        return self.alpha * (x - mean) / (x.std(dim=-1, keepdim=True) + self.eps) + self.bias


class MultiHeadAttention(nn.Module):
    def __init__(self, heads: int, d_model: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.d_model = d_model
        self.d_k = d_model // heads
        self.h = heads
        self.q_linear = nn.Linear(d_model, d_model)
        self.v_linear = nn.Linear(d_model, d_model)
        self.k_linear = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        bs = q.size(0)
        k = self.k_linear(k).view(bs, -1, self.h, self.d_k).transpose(1, 2)
        q = self.q_linear(q).view(bs, -1, self.h, self.d_k).transpose(1, 2)
        v = self.v_linear(v).view(bs, -1, self.h, self.d_k).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            scores = scores.masked_fill(mask.unsqueeze(1) == 0, -1e9)
        scores = self.dropout(F.softmax(scores, dim=-1))
        out = torch.matmul(scores, v).transpose(1, 2).contiguous().view(bs, -1, self.d_model)
        return self.out(out)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int = 2048, dropout: float = 0.1) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)
        self.linear_2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.dropout(F.relu(self.linear_1(x))))


class Embedder(nn.Module):
    def __init__(self, in_size: int, d_model: int) -> None:
        super().__init__()
        self.embed = nn.Linear(in_size, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)


class PositionalEncoder(nn.Module):
    """Scales by sqrt(d_model) then adds the stored table (a buffer: it is in the checkpoint)."""

    def __init__(self, d_model: int, max_seq_len: int = 512) -> None:
        super().__init__()
        self.d_model = d_model
        self.pe: torch.Tensor
        self.register_buffer("pe", positional_table(d_model, max_seq_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * math.sqrt(self.d_model)
        return x + self.pe[:, : x.size(1)]


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.norm_1 = Norm(d_model)
        self.norm_2 = Norm(d_model)
        self.attn = MultiHeadAttention(heads, d_model, dropout)
        self.ff = FeedForward(d_model, dropout=dropout)
        self.dropout_1 = nn.Dropout(dropout)
        self.dropout_2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x2 = self.norm_1(x)
        x = x + self.dropout_1(self.attn(x2, x2, x2, mask))
        x2 = self.norm_2(x)
        return x + self.dropout_2(self.ff(x2))


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.norm_1 = Norm(d_model)
        self.norm_2 = Norm(d_model)
        self.norm_3 = Norm(d_model)
        self.dropout_1 = nn.Dropout(dropout)
        self.dropout_2 = nn.Dropout(dropout)
        self.dropout_3 = nn.Dropout(dropout)
        self.attn_1 = MultiHeadAttention(heads, d_model, dropout)
        self.attn_2 = MultiHeadAttention(heads, d_model, dropout)
        self.ff = FeedForward(d_model, dropout=dropout)

    def forward(self, x: torch.Tensor, e_outputs: torch.Tensor, src_mask=None, trg_mask=None) -> torch.Tensor:
        x2 = self.norm_1(x)
        x = x + self.dropout_1(self.attn_1(x2, x2, x2, trg_mask))
        x2 = self.norm_2(x)
        x = x + self.dropout_2(self.attn_2(x2, e_outputs, e_outputs, src_mask))
        x2 = self.norm_3(x)
        return x + self.dropout_3(self.ff(x2))


class Encoder(nn.Module):
    """(1, L, in_size) → (1, L, d_model): embed, positional encoding, N pre-norm layers, norm."""

    def __init__(self, d_model: int, N: int, heads: int, in_size: int) -> None:
        super().__init__()
        self.N = N
        self.embed = Embedder(in_size, d_model)
        self.pe = PositionalEncoder(d_model)
        self.layers = nn.ModuleList([copy.deepcopy(EncoderLayer(d_model, heads)) for _ in range(N)])
        self.norm = Norm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.pe(self.embed(x))
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


class Decoder(nn.Module):
    """Present for checkpoint compatibility; not called by :class:`Audio2landmarkPos`."""

    def __init__(self, d_model: int, N: int, heads: int, in_size: int) -> None:
        super().__init__()
        self.N = N
        self.embed = Embedder(in_size, d_model)
        self.pe = PositionalEncoder(d_model)
        self.layers = nn.ModuleList([copy.deepcopy(DecoderLayer(d_model, heads)) for _ in range(N)])
        self.norm = Norm(d_model)

    def forward(self, trg: torch.Tensor, e_outputs: torch.Tensor, src_mask=None, trg_mask=None) -> torch.Tensor:
        x = self.pe(self.embed(trg))
        for layer in self.layers:
            x = layer(x, e_outputs, src_mask, trg_mask)
        return self.norm(x)


class Audio2landmarkPos(nn.Module):
    """Speaker-aware branch: audio LSTM ⊕ speaker MLP ⊕ z → transformer over the windows → 204.

    The B windows of a segment are ONE sequence for the transformer (batch of 1, length B ≤ 512).
    """

    def __init__(
        self,
        audio_feat_size: int = 80,
        c_enc_hidden_size: int = 256,
        num_layers: int = 3,
        drop_out: float = 0.5,
        spk_feat_size: int = 256,
        spk_emb_enc_size: int = 128,
        transformer_d_model: int = 32,
        N: int = 2,
        heads: int = 2,
        z_size: int = 128,
        audio_dim: int = 256,
    ) -> None:
        super().__init__()
        self.audio_content_encoder = nn.LSTM(
            input_size=audio_feat_size,
            hidden_size=c_enc_hidden_size,
            num_layers=num_layers,
            dropout=drop_out,
            bidirectional=False,
            batch_first=True,
        )
        self.use_audio_projection = audio_dim != c_enc_hidden_size
        if self.use_audio_projection:
            self.audio_projection = nn.Sequential(
                nn.Linear(c_enc_hidden_size, 256),
                nn.LeakyReLU(0.02),
                nn.Linear(256, 128),
                nn.LeakyReLU(0.02),
                nn.Linear(128, audio_dim),
            )
        self.spk_emb_encoder = nn.Sequential(
            nn.Linear(spk_feat_size, 256),
            nn.LeakyReLU(0.02),
            nn.Linear(256, 128),
            nn.LeakyReLU(0.02),
            nn.Linear(128, spk_emb_enc_size),
        )
        d_model = transformer_d_model * heads
        self.encoder = Encoder(d_model, N, heads, in_size=audio_dim + spk_emb_enc_size + z_size)
        self.decoder = Decoder(d_model, N, heads, in_size=204)
        self.out = nn.Sequential(
            nn.Linear(d_model + z_size, 512),
            nn.LeakyReLU(0.02),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.02),
            nn.Linear(256, 204),
        )

    def encode(
        self, au: torch.Tensor, emb: torch.Tensor, z: torch.Tensor, add_z_spk: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(transformer output (B, d_model), speaker code (B, spk_emb_enc_size)) of one segment.

        ``add_z_spk`` adds N(0, 0.01²) noise to the speaker code, as MakeItTalk's trainer does.
        """
        audio_encode, _ = self.audio_content_encoder(au)
        audio_encode = audio_encode[:, -1, :]
        if self.use_audio_projection:
            audio_encode = self.audio_projection(audio_encode)
        spk_encode = self.spk_emb_encoder(emb)
        if add_z_spk:
            spk_encode = spk_encode + 0.01 * torch.randn_like(spk_encode)
        comb = torch.cat((audio_encode, spk_encode, z), dim=1).unsqueeze(0)
        return self.encoder(comb)[0], spk_encode

    def forward(
        self,
        au: torch.Tensor,
        emb: torch.Tensor,
        face_id: torch.Tensor,
        fls: torch.Tensor,
        z: torch.Tensor,
        add_z_spk: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``au`` (B,18,80), ``emb`` (B,256), ``face_id`` (B,204), ``fls`` (B,204, unused), ``z`` (B,128)
        → (displacements (B,204), face_id[0:1], speaker code (B,128))."""
        e_out, spk_encode = self.encode(au, emb, z, add_z_spk)
        fl_pred = self.out(torch.cat((e_out, z), dim=1))
        return fl_pred, face_id[0:1, :], spk_encode
