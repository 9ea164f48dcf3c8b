"""The model: shapes, causality, init near ln(vocab), sizes of the presets, the FLOP formula, config errors."""
import math

import pytest
import torch

from trainer.guards import check_causal
from trainer.model import GPT, GPTConfig, Attention, pad_vocab, preset


def tiny(**kw):
    return preset("tiny", vocab_size=256, **kw)


@pytest.mark.parametrize("mlp", ["swiglu", "gelu"])
def test_forward_shapes_and_per_token_loss(mlp):
    torch.manual_seed(0)
    m = GPT(tiny(mlp=mlp))
    x = torch.randint(0, 256, (3, 40))
    assert m(x).shape == (3, 40, 256)
    per_tok = m(x, x, reduction="none")
    assert per_tok.shape == (3, 40)
    assert torch.allclose(per_tok.mean(), m(x, x), atol=1e-6)


def test_initial_loss_is_near_ln_vocab():
    torch.manual_seed(0)
    m = GPT(preset("tiny", vocab_size=512))
    x = torch.randint(0, 512, (4, 64))
    y = torch.randint(0, 512, (4, 64))
    assert abs(m(x, y).item() - math.log(512)) < 0.1


def test_attention_is_causal_and_a_leak_is_caught(monkeypatch):
    torch.manual_seed(0)
    m = GPT(tiny())
    check_causal(m, 256, 64, torch.device("cpu"))  # the real model passes
    monkeypatch.setattr(Attention, "causal", False)
    with pytest.raises(RuntimeError, match="attention sees the future"):
        check_causal(m, 256, 64, torch.device("cpu"))


def test_preset_sizes_and_flop_formula():
    with torch.device("meta"):
        m124 = GPT(preset("124m", vocab_size=50304))
        m350 = GPT(preset("350m", vocab_size=50304))
        gelu = GPT(preset("124m", vocab_size=50304, mlp="gelu"))
    assert 120e6 < m124.num_params() < 128e6  # GPT-2 small: 124M with tied embeddings
    assert 340e6 < m350.num_params() < 360e6
    assert abs(gelu.num_params() - m124.num_params()) / m124.num_params() < 0.01  # SwiGLU width keeps the size
    c = m124.cfg
    assert m124.flops_per_token() == 6 * m124.num_params() + 12 * c.n_layer * c.d_model * c.seq_len


def test_tied_embedding_counted_once():
    a = GPT(tiny(tie_embeddings=True))
    b = GPT(tiny(tie_embeddings=False))
    assert b.num_params() - a.num_params() == 256 * 64
    assert a.head.weight is a.embed.weight


def test_config_errors_name_field_and_value():
    with pytest.raises(ValueError, match=r"'d_model' must be a multiple of 'n_head' \(got d_model=65, n_head=4\)"):
        GPTConfig(d_model=65, n_head=4)
    with pytest.raises(ValueError, match=r"'mlp' must be 'swiglu' or 'gelu' \(got 'relu'\)"):
        GPTConfig(mlp="relu")
    with pytest.raises(ValueError, match="'preset' must be one of"):
        preset("7b")
    with pytest.raises(ValueError, match="exceeds the model's seq_len 64"):
        GPT(tiny())(torch.zeros(1, 65, dtype=torch.long))
    assert pad_vocab(50257) == 50304 and pad_vocab(512) == 512


def test_residual_stream_dtype_follows_residual_bf16_under_autocast():
    dtypes, losses = {}, {}
    x = torch.randint(0, 256, (4, 65), generator=torch.Generator().manual_seed(1))
    for flag in (False, True):
        torch.manual_seed(0)
        m = GPT(preset("tiny", vocab_size=256, residual_bf16=flag))
        seen = []
        m.blocks[0].register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            losses[flag] = m(x[:, :-1], x[:, 1:])
        losses[flag].backward()
        dtypes[flag] = seen[0]
        assert m.embed.weight.grad.dtype == torch.float32  # master weights and their grads stay float32
    assert dtypes == {False: torch.float32, True: torch.bfloat16}
    assert abs(losses[True].item() - losses[False].item()) < 0.02 * losses[False].item()
    # Without autocast the flag changes nothing: float32 everywhere, bitwise the same loss.
    torch.manual_seed(0)
    a = GPT(preset("tiny", vocab_size=256, residual_bf16=True))(x[:, :-1], x[:, 1:])
    torch.manual_seed(0)
    b = GPT(preset("tiny", vocab_size=256, residual_bf16=False))(x[:, :-1], x[:, 1:])
    assert torch.equal(a, b)
