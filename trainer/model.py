"""A decoder-only transformer about the size of nanoGPT's, with modern defaults.

RoPE positions, RMSNorm, a SwiGLU (or GELU) MLP, no biases, causal attention through
``scaled_dot_product_attention`` (flash / cuDNN kernels on the GPU), optionally tied input and output
embeddings. Mixed precision and ``torch.compile`` are applied by the train loop, not here, so the same
module runs on the CPU in tests and on the GPU in ablations.

Shapes: B batch, T sequence length, D model width, H heads, K head width (D // H), V vocabulary.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from trainer import head_loss


@dataclass
class GPTConfig:
    vocab_size: int = 50304  # embedding rows; >= the tokenizer's vocabulary, padded to a multiple of 128 for fast matmuls
    seq_len: int = 1024  # context length T; RoPE tables are built for this length
    n_layer: int = 12  # transformer blocks
    n_head: int = 12  # attention heads; d_model must divide evenly
    d_model: int = 768  # residual stream width D
    mlp: str = "swiglu"  # "swiglu" (gated, 3 matrices) or "gelu" (2 matrices, GPT-2 style)
    mlp_hidden: int = 0  # MLP inner width; 0 = 4*D for gelu, 8/3*D rounded up to 128 for swiglu (same parameter count)
    rope_base: float = 10000.0  # RoPE frequency base
    tie_embeddings: bool = True  # share the input embedding with the output projection (GPT-2 does)
    norm_eps: float = 1e-6  # RMSNorm epsilon
    init_std: float = 0.02  # std of the normal init; residual output projections get std / sqrt(2 * n_layer)
    fused_loss: bool = True  # on CUDA with Triton, the training loss uses trainer/head_loss.py (output matmul +
    # cross-entropy with the gradient made in the forward: one pass over the logits fewer); same arithmetic
    residual_bf16: bool = True  # under autocast, carry the residual stream in the autocast dtype (bf16), not
    # float32: the norm/add kernels move half the bytes. Norm statistics are still computed in float32.

    def __post_init__(self) -> None:
        for name in ("vocab_size", "seq_len", "n_layer", "n_head", "d_model"):
            if getattr(self, name) <= 0:
                raise ValueError(f"'{name}' must be > 0 (got {getattr(self, name)})")
        if self.d_model % self.n_head:
            raise ValueError(f"'d_model' must be a multiple of 'n_head' (got d_model={self.d_model}, n_head={self.n_head})")
        if (self.d_model // self.n_head) % 2:
            raise ValueError(f"head width d_model/n_head must be even for RoPE (got {self.d_model // self.n_head})")
        if self.mlp not in ("swiglu", "gelu"):
            raise ValueError(f"'mlp' must be 'swiglu' or 'gelu' (got {self.mlp!r})")
        if self.init_std <= 0:
            raise ValueError(f"'init_std' must be > 0 (got {self.init_std})")

    @property
    def hidden(self) -> int:
        if self.mlp_hidden:
            return self.mlp_hidden
        if self.mlp == "gelu":
            return 4 * self.d_model
        return 128 * math.ceil(8 * self.d_model / 3 / 128)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


# Sizes. vocab_size is filled from the shards (padded to 128) unless given; seq_len may be overridden.
PRESETS: dict[str, dict] = {
    "tiny": dict(seq_len=64, n_layer=2, n_head=4, d_model=64),  # CPU tests: ~0.1M params + embeddings
    "20m": dict(seq_len=512, n_layer=6, n_head=6, d_model=384),  # ~11M non-embedding params; ablations on one GPU
    # GPT-2 small's size (same parameters and FLOPs per token) in the shape that measured fastest on an H100:
    # 6 heads of 128 (attention kernels run better at head width 128) and GPT-2's GELU MLP (benchmarks/RESULTS.md)
    "124m": dict(seq_len=1024, n_layer=12, n_head=6, d_model=768, mlp="gelu"),
    "350m": dict(seq_len=1024, n_layer=24, n_head=16, d_model=1024),  # GPT-2 medium
}


def preset(name: str, **overrides) -> GPTConfig:
    if name not in PRESETS:
        raise ValueError(f"'preset' must be one of {sorted(PRESETS)} (got {name!r})")
    return GPTConfig(**{**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}})


def pad_vocab(n: int, multiple: int = 128) -> int:
    return multiple * math.ceil(n / multiple)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in float32: bf16 sums of squares lose precision over wide rows.
        xf = x.float()
        # The gain is cast to x's dtype so a bf16 residual stays bf16 (a float32 gain would promote it back).
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight.type_as(x)


def rope_tables(seq_len: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))  # [K/2]
    ang = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv)  # [T, K/2]
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: [..., K] with cos/sin broadcastable to [..., K/2]; rotate pairs (first half, second half) of each
    # head's channels.
    x1, x2 = x.float().chunk(2, dim=-1)  # [..., K/2] each
    out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.type_as(x)


class Attention(nn.Module):
    causal = True  # class attribute so a test can plant a non-causal bug and watch the guard fire

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.proj.residual_out = True

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, D // self.n_head).unbind(2)  # 3 x [B, T, H, K]
        # RoPE in the [B, T, H, K] layout, so q and k are written token-major and SDPA's output (which follows
        # q's memory layout) is [B, T, H, K] in memory too: the reshape back to [B, T, D] below is then a free
        # view instead of a copy forward and another in the backward (same arithmetic, fewer bytes moved).
        cos, sin = cos[:, None], sin[:, None]  # [T, 1, K/2]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                           is_causal=self.causal)  # [B, H, T, K]
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.gated = cfg.mlp == "swiglu"
        self.up = nn.Linear(cfg.d_model, (2 if self.gated else 1) * cfg.hidden, bias=False)
        self.down = nn.Linear(cfg.hidden, cfg.d_model, bias=False)
        self.down.residual_out = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.up(x)  # [B, T, 2*hidden] gated, [B, T, hidden] plain
        if self.gated:
            gate, val = h.chunk(2, dim=-1)
            h = F.silu(gate) * val
        else:
            h = F.gelu(h, approximate="tanh")
        return self.down(h)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.norm1 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.norm2 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.embed.weight
        cos, sin = rope_tables(cfg.seq_len, cfg.d_model // cfg.n_head, cfg.rope_base)
        # Not parameters and not saved: rebuilt from the config, so checkpoints stay small.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = self.cfg.init_std
        for m in self.modules():
            if isinstance(m, nn.Linear):
                scale = 1 / math.sqrt(2 * self.cfg.n_layer) if getattr(m, "residual_out", False) else 1.0
                nn.init.normal_(m.weight, mean=0.0, std=std * scale)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, mean=0.0, std=std)
            elif isinstance(m, RMSNorm):
                nn.init.ones_(m.weight)

    def num_params(self) -> int:
        """Parameters counted once (a tied embedding is one matrix). This is N in 6N + 12·L·D·T."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6N for the matmuls' forward+backward, 12·L·D·T for attention scores
        and values (the PaLM appendix B formula, which nanoGPT uses too)."""
        c = self.cfg
        return 6 * self.num_params() + 12 * c.n_layer * c.d_model * c.seq_len

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                reduction: str = "mean") -> torch.Tensor:
        """idx [B, T] int64 -> logits [B, T, V], or the cross-entropy against targets [B, T].

        reduction='none' gives per-token losses [B, T] (evaluation needs per-sequence sums)."""
        B, T = idx.shape
        if T > self.cfg.seq_len:
            raise ValueError(f"sequence length {T} exceeds the model's seq_len {self.cfg.seq_len}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # [T, K/2]
        x = self.embed(idx)  # [B, T, D]
        if self.cfg.residual_bf16 and torch.is_autocast_enabled(x.device.type):
            x = x.to(torch.get_autocast_dtype(x.device.type))
        for block in self.blocks:
            x = block(x, cos, sin)
        h = self.norm(x)
        if targets is None:
            return self.head(h)  # [B, T, V]
        if reduction == "mean" and self.cfg.fused_loss and head_loss.usable(h):
            return head_loss.head_loss(h, self.head.weight, targets)
        loss = head_loss.plain(h, self.head.weight, targets, reduction)
        return loss.view(B, T) if reduction == "none" else loss

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Decay matrices and embeddings; never norms' gains (decaying them toward 0 only hurts)."""
        decay, no_decay = [], []
        for p in self.parameters():  # parameters() yields a tied matrix once
            (decay if p.dim() >= 2 else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
