"""Output projection + mean cross-entropy in one autograd step, with the loss gradient made in the forward.

Why hand-written (Triton) instead of ``F.cross_entropy``: at GPT-2 scale the logits are the largest tensor
of a step (B·T x 50304 bf16 = 3.3 GB at B=32, T=1024) and the loss is pure memory traffic. Compiled
``F.cross_entropy`` passes over them three times (read for the log-sum-exp in the forward; read again and
write the gradient in the backward). Here one kernel per row reads the logits, computes the log-sum-exp and
writes ``(softmax - onehot) / N`` over them in place, so the backward has nothing left to do but the two
matmuls. The upstream gradient (a scalar: 1, or 1/grad_accum) scales the two small matmul outputs
([N, D] and [V, D]) instead of the big [N, V] gradient. Same arithmetic as ``F.cross_entropy`` on bf16
logits (the log-sum-exp in float32); only summation order differs.

Liger-Kernel ships the same idea; it is not a dependency because it is one small kernel here, and the
rest of the trainer does not need it. Used only on CUDA with Triton, when gradients are needed and the
reduction is the mean; everything else (the CPU, evaluation's per-token losses) takes the plain path.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

try:  # Triton comes with CUDA builds of torch; the CPU wheel has none and takes the plain path.
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the install
    triton = None


def plain(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Reference path: logits, then float32 cross-entropy (the CPU and evaluation use this)."""
    logits = F.linear(h, weight)
    return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)


# Block and warps of the one-program-per-row kernel. Timed on an H100 at B·T=32768, V=50304: 3.4-3.5 ms for
# every block of 1024-8192 and 4-16 warps, i.e. at HBM bandwidth for three passes over the logits (read, re-read,
# write). Persistent programs that keep fewer rows in flight (to re-read them from L2) were slower (3.5-5.6 ms).
# Holding the whole row on chip (one read, one write) does not fit: compiled for sm_90 with Triton 3.9's own
# toolchain, a 65536-wide program spills 832-848 bytes per thread at 32 warps (float32 or bf16 values),
# about 850 KB per row for a 100 KB row, so the spills would cost more than the pass they save.
# "chunk_rows": when > 0, the rows go through the matmul and kernel that many at a time, and each chunk's two
# gradient matmuls run right away, so only one chunk of logits is ever held (B=192 at T=1024 needs 18 GB of
# logits at once otherwise, and ran out of memory on the H100). Off by default: on the H200, where B=192 fits
# without it, 3 chunks per step ran as fast as none (52.2% vs 52.1% MFU); not yet timed at B=192 on an H100.
KERNEL = {"BLOCK": 4096, "num_warps": 16, "chunk_rows": 0}

if triton is not None:
    @triton.jit
    def _loss_and_grad_rows(logits_ptr, stride, targets_ptr, losses_ptr, row0, V, inv_n, BLOCK: tl.constexpr):
        # One program per row: pass 1 an online max / sum of exp, pass 2 the gradient written in place.
        # targets and losses are the whole batch's, read and written at row0 + row: a chunk passes its first
        # row instead of sliced views (a compiled graph once mis-placed a user kernel's writes into a view:
        # an illegal memory access on the H200 at B=192 with chunk_rows set).
        row = tl.program_id(0).to(tl.int64)
        base = logits_ptr + row * stride
        cols = tl.arange(0, BLOCK)
        # Running max and sum as scalars (one rescale per block, not per element): one exp per element.
        m = tl.max(tl.full([BLOCK], float("-inf"), tl.float32), 0)
        s = tl.sum(tl.zeros([BLOCK], tl.float32), 0)
        for off in range(0, V, BLOCK):
            x = tl.load(base + off + cols, mask=off + cols < V, other=float("-inf")).to(tl.float32)
            m_new = tl.maximum(m, tl.max(x, 0))
            s = s * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), 0)
            m = m_new
        lse = m + tl.log(s)
        target = tl.load(targets_ptr + row0 + row)
        x_t = tl.load(base + target).to(tl.float32)
        tl.store(losses_ptr + row0 + row, lse - x_t)
        for off in range(0, V, BLOCK):
            idx = off + cols
            x = tl.load(base + idx, mask=idx < V, other=0.0).to(tl.float32)
            g = tl.exp(x - lse) - tl.where(idx == target, 1.0, 0.0)
            tl.store(base + idx, (g * inv_n).to(logits_ptr.dtype.element_ty), mask=idx < V)


def _rows_torch(logits: torch.Tensor, targets: torch.Tensor, losses: torch.Tensor, inv_n: float) -> None:
    """The kernel's arithmetic in plain torch, for CPU tensors: training on the CPU never comes here (the
    model takes ``plain``); it lets the CPU tests check this module's autograd and chunking."""
    x = logits.float()
    lse = torch.logsumexp(x, -1)
    losses.copy_(lse - x.gather(1, targets[:, None]).squeeze(1))
    g = torch.exp(x - lse[:, None])
    g[torch.arange(len(targets)), targets] -= 1.0
    logits.copy_(g * inv_n)


def launch(logits: torch.Tensor, targets: torch.Tensor, losses: torch.Tensor, row0: int = 0) -> None:
    """``logits`` [n, V] are rows row0..row0+n of a batch whose targets and losses are ``targets`` and
    ``losses`` [N]: their per-row losses go into ``losses``, and they become (softmax - onehot) / N in place."""
    n, v = logits.shape
    inv_n = 1.0 / len(targets)
    if triton is None or not logits.is_cuda:
        _rows_torch(logits, targets[row0:row0 + n], losses[row0:row0 + n], inv_n)
        return
    _loss_and_grad_rows[(n,)](logits, logits.stride(0), targets, losses, row0, v, inv_n, BLOCK=KERNEL["BLOCK"],
                              num_warps=KERNEL["num_warps"])


class _HeadLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, targets):
        # h [N, D] and weight [V, D] arrive in the compute dtype (cast by the caller under autocast).
        n, chunk = h.shape[0], KERNEL["chunk_rows"]
        losses = torch.empty(n, device=h.device, dtype=torch.float32)
        if not 0 < chunk < n:
            logits = h @ weight.t()  # [N, V]; becomes d(loss)/d(logits) in place below
            launch(logits, targets, losses)
            ctx.save_for_backward(h, weight, logits)
            ctx.chunked = False
            return losses.mean()
        # Chunked: the gradients of h and of the weight (up to the upstream scalar) are finished here, one
        # chunk of logits at a time; the weight's is summed in float32 across chunks.
        grad_h = torch.empty_like(h)
        grad_w = torch.zeros(weight.shape, device=h.device, dtype=torch.float32)
        for a in range(0, n, chunk):
            hc = h[a:a + chunk]
            logits = hc @ weight.t()
            launch(logits, targets, losses, row0=a)
            grad_h[a:a + chunk] = logits @ weight  # (not mm(out=a view): plainer for torch.compile to trace)
            grad_w += logits.t() @ hc
        ctx.save_for_backward(grad_h, grad_w)
        ctx.chunked, ctx.w_dtype = True, weight.dtype
        return losses.mean()

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.chunked:
            grad_h, grad_w = ctx.saved_tensors
            return grad_h * grad_out.to(grad_h.dtype), (grad_w * grad_out).to(ctx.w_dtype), None
        h, weight, grad_logits = ctx.saved_tensors
        grad_h = (grad_logits @ weight) * grad_out.to(h.dtype)
        grad_w = (grad_logits.t() @ h) * grad_out.to(h.dtype)
        return grad_h, grad_w, None


def usable(h: torch.Tensor) -> bool:
    return triton is not None and h.is_cuda and torch.is_grad_enabled()


def head_loss(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``h @ weight.T`` against ``targets`` (h [B, T, D], weight [V, D], targets [B, T]).

    The fused kernel when ``usable(h)``, else the plain path. Under autocast the matmuls run in its dtype;
    gradients come back in the dtypes of ``h`` and ``weight`` (the float32 master weight gets a float32 grad)."""
    if not usable(h):
        return plain(h, weight, targets)
    dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else h.dtype
    with torch.autocast("cuda", enabled=False):
        return _HeadLoss.apply(h.reshape(-1, h.size(-1)).to(dtype), weight.to(dtype), targets.reshape(-1).contiguous())
