"""The fused output-matmul + cross-entropy (trainer/head_loss.py) against the plain path.

The kernel is Triton, so the equality tests need a GPU (they ran on the lent H100; see benchmarks/RESULTS.md);
on the CPU the model must take the plain path and stay bitwise what it was."""
import pytest
import torch
import torch.nn.functional as F

from trainer import head_loss
from trainer.model import GPT, preset

cuda = pytest.mark.skipif(not torch.cuda.is_available() or head_loss.triton is None, reason="needs CUDA + Triton")


def test_cpu_takes_the_plain_path_and_matches_cross_entropy():
    torch.manual_seed(0)
    m = GPT(preset("tiny", vocab_size=320))
    x = torch.randint(0, 320, (3, 65))
    assert not head_loss.usable(torch.zeros(1, requires_grad=True))
    loss = m(x[:, :-1], x[:, 1:])
    logits = m(x[:, :-1])
    assert torch.equal(loss, F.cross_entropy(logits.float().view(-1, 320), x[:, 1:].reshape(-1)))
    assert torch.equal(head_loss.head_loss(m.norm(m.embed(x[:, :-1])), m.head.weight, x[:, 1:]),
                       head_loss.plain(m.norm(m.embed(x[:, :-1])), m.head.weight, x[:, 1:]))


@pytest.mark.parametrize("chunk_rows", [0, 3, 4])  # 3: an uneven last chunk; 4 does not divide 10 either
def test_autograd_and_chunking_match_plain_on_the_cpu(chunk_rows, monkeypatch):
    # The kernel's arithmetic in torch (head_loss._rows_torch) under the same autograd function: checks the
    # in-place gradient, the upstream scale and the chunked accumulation without a GPU.
    monkeypatch.setitem(head_loss.KERNEL, "chunk_rows", chunk_rows)
    torch.manual_seed(0)
    h0, w0, t = torch.randn(10, 16) * 2, torch.randn(300, 16) * 0.5, torch.randint(0, 300, (10,))
    h, w = h0.clone().requires_grad_(), w0.clone().requires_grad_()
    fused = head_loss._HeadLoss.apply(h, w, t)
    (fused * 0.5).backward()
    hr, wr = h0.clone().requires_grad_(), w0.clone().requires_grad_()
    ref = head_loss.plain(hr, wr, t)
    (ref * 0.5).backward()
    assert abs(fused.item() - ref.item()) < 1e-5
    assert torch.allclose(h.grad, hr.grad, atol=1e-6) and torch.allclose(w.grad, wr.grad, atol=1e-6)


@cuda
@pytest.mark.parametrize("chunk_rows", [0, 300])  # 300: an uneven last chunk
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_loss_and_grads_match_plain(dtype, chunk_rows, monkeypatch):
    monkeypatch.setitem(head_loss.KERNEL, "chunk_rows", chunk_rows)
    torch.manual_seed(0)
    n, d, v = 1000, 64, 50304  # V not a multiple of the kernel's block: the masked tail is exercised
    h = (torch.randn(n, d, device="cuda") * 2).requires_grad_()
    w = (torch.randn(v, d, device="cuda") * 0.5).requires_grad_()
    t = torch.randint(0, v, (n,), device="cuda")
    t[0], t[1] = 0, v - 1  # first and last column as targets
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        fused = head_loss.head_loss(h, w, t)
        (fused * 0.5).backward()  # a non-unit upstream gradient, as grad_accum gives
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        ref = head_loss.plain(h, w, t)
        (ref * 0.5).backward()
    tol = 1e-4 if dtype == torch.float32 else 2e-2
    assert abs(fused.item() - ref.item()) < tol * max(1.0, ref.item())
    assert gh.dtype == h.dtype and gw.dtype == w.dtype
    assert torch.allclose(gh, h.grad, rtol=tol, atol=tol * h.grad.abs().max().item())
    assert torch.allclose(gw, w.grad, rtol=tol, atol=tol * w.grad.abs().max().item())


@cuda
@pytest.mark.parametrize("chunk_rows", [0, 100])  # 100: compiled chunks of a 512-row batch, the last uneven
def test_compiled_model_with_fused_loss_trains_like_plain(chunk_rows, monkeypatch):
    monkeypatch.setitem(head_loss.KERNEL, "chunk_rows", chunk_rows)
    losses = {}
    for fused in (True, False):
        torch.manual_seed(0)
        torch._dynamo.reset()
        m = GPT(preset("tiny", vocab_size=1024, fused_loss=fused)).cuda()
        opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
        fwd = torch.compile(m)
        g = torch.Generator(device="cuda").manual_seed(0)
        data = torch.randint(0, 1024, (8, 65), device="cuda", generator=g)
        out = []
        for _ in range(30):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = fwd(data[:, :-1], data[:, 1:])
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            out.append(loss.item())
        losses[fused] = out
    assert losses[True][-1] < losses[True][0] - 1.0, losses  # it learns the fixed batch
    assert all(abs(a - b) < 0.05 * b for a, b in zip(losses[True], losses[False])), losses
