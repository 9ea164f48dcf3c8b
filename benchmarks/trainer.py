"""Trainer throughput on one GPU (issue 8 #8): GPT-2-124M at T=1024, in ONE run, side by side:

1. ``reference``: a plain nanoGPT-style GPT-2 written here (LayerNorm with bias, learned positions, GELU
   MLP, tied embeddings, SDPA causal attention, bf16 autocast, torch.compile, fused AdamW), fed random
   tokens already on the GPU (no loader at all: its best case). The anchor.
2. ``gristmill-synthetic``: gristmill's model and train loop (``trainer.train.train``) fed random tokens
   through its background loader: the loop's own speed.
3. ``gristmill-real``: the same, reading real mixed Arrow shards through ``shards.mix.MixSampler``
   (memory-mapped, three groups): loader overhead = real / synthetic (target >= 0.97).

MFU = (6N + 12·L·D·T) x tokens/s / 989e12 (H100 SXM and H200 dense bf16), N = parameters (the reference's
learned position table excluded, as nanoGPT does). Target: gristmill >= 50% MFU.

    PYTHONPATH=. python benchmarks/trainer.py --shards .device/abl/shards --out $OUT

``--explore ROWS`` runs MFU variants instead, each a fresh compile, side by side with the reference: rows
like ``ref,syn,syn+bf16res+heads6+2x,real+plainloss`` (see ``EXPLORE_MODS``); a ``profile...`` row writes
``$OUT/<row>.json``, the device time of one step by kernel kind (matmul, attention, fused kernels, ...).
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

PEAK = 989e12


class RefBlock(nn.Module):
    def __init__(self, d: int, h: int):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.fc_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.attn(self.ln1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, self.h, D // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(B, T, D)
        x = x + self.attn_proj(y)
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class RefGPT(nn.Module):
    """nanoGPT's GPT-2 (124M): the anchor of the comparison."""

    def __init__(self, vocab=50304, T=1024, L=12, H=12, D=768):
        super().__init__()
        self.wte = nn.Embedding(vocab, D)
        self.wpe = nn.Embedding(T, D)
        self.blocks = nn.ModuleList(RefBlock(D, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, vocab, bias=False)
        self.head.weight = self.wte.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        self.L, self.D, self.T = L, D, T

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))

    def flops_per_token(self):
        n = sum(p.numel() for p in self.parameters()) - self.wpe.weight.numel()
        return 6 * n + 12 * self.L * self.D * self.T, n


def bench_reference(B: int, T: int, steps: int, warmup: int) -> dict:
    torch.manual_seed(0)
    model = RefGPT(T=T).cuda()
    fpt, n = model.flops_per_token()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), fused=True)
    cmodel = torch.compile(model)
    g = torch.Generator(device="cuda").manual_seed(0)

    def step():
        x = torch.randint(0, 50257, (B, T + 1), device="cuda", generator=g)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = cmodel(x[:, :-1], x[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    t0 = time.time()
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    compile_s = time.time() - t0
    t0 = time.time()
    for _ in range(steps):
        loss = step()
    loss.item()
    dt = time.time() - t0
    tok_s = steps * B * T / dt
    del model, cmodel, opt
    torch.cuda.empty_cache()
    return {"name": f"reference B={B}", "params": n, "flops_per_token": fpt, "tok_s": tok_s, "mfu": fpt * tok_s / PEAK,
            "warmup_s": compile_s}


class SyntheticSampler:
    """Uniform random tokens with the sampler interface: the loop's speed without real data."""

    def __init__(self, vocab: int, seq_len: int, seed: int = 0):
        self.vocab, self.seq_len, self.seed, self.i = vocab, seq_len, seed, 0

    def batch(self, b):
        rng = np.random.default_rng([self.seed, self.i])
        self.i += 1
        return rng.integers(0, self.vocab, size=(b, self.seq_len + 1), dtype=np.int64)

    def state_dict(self):
        return {"i": self.i}

    def load_state_dict(self, s):
        self.i = s["i"]


def old_attention_forward(self, x, cos, sin):
    """The attention of gristmill before the layout change (RoPE on [B, H, T, K], so SDPA's output needs a
    copy to go back to [B, T, D]): patched in by ``--explore`` to measure the change in the same run."""
    from trainer.model import apply_rope

    B, T, D = x.shape
    q, k, v = self.qkv(x).view(B, T, 3, self.n_head, D // self.n_head).permute(2, 0, 3, 1, 4)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
    return self.proj(y.transpose(1, 2).reshape(B, T, D))


def bench_gristmill(name: str, sampler, B: int, T: int, steps: int, attention: str, mode: str = "default",
                    old_layout: bool = False, model: dict | None = None, kernel: dict | None = None, **extra) -> dict:
    from trainer import head_loss
    from trainer import model as model_mod
    from trainer.model import preset
    from trainer.train import TrainConfig, train

    torch._dynamo.reset()  # a fresh compile per row: no automatic dynamic shapes carried over from the last
    mcfg = preset("124m", vocab_size=50304, seq_len=T, **(model or {}))
    cfg = TrainConfig(tokens=(steps + 10) * B * T, batch_size=B, lr=6e-4, log_every=10, progress=False,
                      eval_tokens=T, attention=attention, spike_warmup=10 ** 9, compile_mode=mode, **extra)
    new_forward, kernel_before = model_mod.Attention.forward, dict(head_loss.KERNEL)
    if old_layout:
        model_mod.Attention.forward = old_attention_forward
    head_loss.KERNEL.update(kernel or {})
    try:
        res = train(mcfg, cfg, sampler, {}, None, log=lambda s: print("  " + s, flush=True))
    finally:
        model_mod.Attention.forward = new_forward
        head_loss.KERNEL.clear()
        head_loss.KERNEL.update(kernel_before)
    torch.cuda.empty_cache()
    label = f"{name} B={B} attn={attention}" + (f" mode={mode}" if mode != "default" else "")
    label += "".join(f" {k}={v}" for k, v in {**extra, **(model or {}), **(kernel or {})}.items())
    label += " old-layout" if old_layout else ""
    return {"name": label, "params": res["params"], "flops_per_token": res["flops_per_token"],
            "tok_s": res["tok_s"], "mfu": res["mfu"], "warmup_s": res["wall_seconds"] - res["train_seconds"],
            "final_loss": res["train_curve"][-1]["loss"],
            # mean train loss of the last 50 steps: compares precision variants on the same real batches
            "last50_loss": float(np.mean([h["loss"] for h in res["train_curve"][-50:]]))}


KERNEL_KINDS = [  # (category, substrings of a kernel name), first match wins
    ("attention", ("flash", "fmha", "attention", "cudnn")),
    ("matmul", ("gemm", "nvjet", "cutlass", "xmma", "sm90", "matmul", "_mm_")),
    ("optimizer", ("adam",)),
    ("grad-norm/clip", ("norm", "foreach", "multi_tensor")),
    ("inductor reduction", ("triton_red", "triton_per")),
    ("inductor pointwise", ("triton_poi",)),
    ("embedding", ("embedding", "index", "scatter", "sort", "radix")),
    ("copy/fill", ("memcpy", "memset", "copy", "fill", "elementwise")),
]


def kernel_kind(name: str) -> str:
    low = name.lower()
    for kind, keys in KERNEL_KINDS:
        if any(k in low for k in keys):
            return kind
    return "other"


def profile_gristmill(B: int, T: int, steps: int, device: str = "cuda", preset_name: str = "124m",
                      vocab: int = 50304, model_kw: dict | None = None) -> dict:
    """Where one training step's device time goes: gristmill's step (compiled model, bf16 autocast, backward,
    clip, fused AdamW) under torch.profiler, kernels grouped by kind, in ms per step."""
    from torch.profiler import ProfilerActivity, profile

    from trainer.model import GPT, preset

    torch._dynamo.reset()
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    torch.manual_seed(0)
    model = GPT(preset(preset_name, vocab_size=vocab, seq_len=T, **(model_kw or {}))).to(dev)
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=6e-4, betas=(0.9, 0.95), fused=cuda)
    fwd = torch.compile(model) if cuda else model
    g = torch.Generator(device=dev).manual_seed(0)

    def step():
        x = torch.randint(0, vocab, (B, T + 1), device=dev, generator=g)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            loss = fwd(x[:, :-1], x[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):  # compile and warm up outside the profile
        step()
    if cuda:
        torch.cuda.synchronize()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    t0 = time.time()
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    wall_ms = (time.time() - t0) * 1000 / steps
    from torch.autograd import DeviceType

    kernels: dict[str, float] = {}
    for e in prof.key_averages():
        # On cuda only device events (kernels, copies): CPU ops that launched them carry the same device time,
        # and inductor's launcher records a CPU op named like its kernel, so counting both doubles it.
        # GPU-side user annotations (e.g. "Optimizer.step#AdamW.step") span kernels already counted.
        if cuda and (e.device_type != DeviceType.CUDA or getattr(e, "is_user_annotation", False)
                     or e.key.startswith("Optimizer.")):
            continue
        t = getattr(e, "self_device_time_total", 0) if cuda else e.self_cpu_time_total
        if cuda and not t:
            continue
        if not cuda and e.key.startswith("ProfilerStep"):
            continue
        kernels[e.key] = kernels.get(e.key, 0.0) + t / 1000 / steps  # us -> ms per step
    kinds: dict[str, float] = {}
    for name, ms in kernels.items():
        kinds[kernel_kind(name)] = kinds.get(kernel_kind(name), 0.0) + ms
    del model, fwd, opt
    if cuda:
        torch.cuda.empty_cache()
    top = sorted(kernels.items(), key=lambda kv: -kv[1])[:25]
    return {"B": B, "T": T, "steps": steps, "wall_ms_per_step_profiled": wall_ms,
            "device_ms_per_step": sum(kernels.values()), "kinds_ms": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
            "top_kernels_ms": top}


def print_profile(p: dict) -> None:
    total = p["device_ms_per_step"]
    print(f"\nprofile B={p['B']}: {total:.1f} ms of kernels per step "
          f"(wall under the profiler {p['wall_ms_per_step_profiled']:.1f} ms)")
    for kind, ms in p["kinds_ms"].items():
        print(f"  {kind:<20} {ms:8.2f} ms  {ms / total:6.1%}")
    print("  top kernels:")
    for name, ms in p["top_kernels_ms"]:
        print(f"  {ms:8.3f} ms  {kernel_kind(name):<18} {name[:110]}")


# --explore rows: a base ("ref", "syn", "real" or "profile") and "+"-joined modifiers, e.g. "syn+bf16res+heads6+2x".
EXPLORE_MODS: dict = {  # modifier -> (batch multiple, bench_gristmill keywords, model config overrides)
    "2x": (2, {}, {}), "old-layout": (1, {"old_layout": True}, {}), "graphs": (1, {"mode": "reduce-overhead"}, {}),
    "tune": (1, {"compile_tune": True}, {}), "autotune": (1, {"mode": "max-autotune-no-cudagraphs"}, {}),
    "flash": (1, {"attention": "flash"}, {}), "bf16res": (1, {}, {"residual_bf16": True}),
    "heads6": (1, {}, {"n_head": 6}), "plainloss": (1, {}, {"fused_loss": False}), "gelu": (1, {}, {"mlp": "gelu"}),
    "chunked": (1, {"kernel": {"chunk_rows": 32768}}, {}),  # one 32K-row chunk of logits at a time (fits B=192)
    "3x": (3, {}, {}),
}
EXPLORE_DEFAULT = ["ref", "syn+plainloss", "syn", "syn+bf16res", "syn+bf16res+heads6", "profile+bf16res+heads6"]


def explore_row(row: str) -> tuple[str, int, dict, dict]:
    base, *mods = row.split("+")
    if base not in ("ref", "syn", "real", "profile") or any(m not in EXPLORE_MODS for m in mods):
        raise ValueError(f"--explore: bad row {row!r}; a base ref|syn|real|profile and '+'-joined modifiers from "
                         f"{sorted(EXPLORE_MODS)}")
    mult, kw, model = 1, {}, {}
    for m in mods:
        mult, kw, model = mult * EXPLORE_MODS[m][0], {**kw, **EXPLORE_MODS[m][1]}, {**model, **EXPLORE_MODS[m][2]}
    return base, mult, kw, model


def print_table(rows: list[dict]) -> None:
    ref = rows[0]
    print("\n| run | tokens/s | MFU | vs reference |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['tok_s']:,.0f} | {r['mfu']:.1%} | {r['tok_s'] / ref['tok_s']:.2f}x |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", required=True)
    p.add_argument("--mix", default='{"name": "bench", "groups": {"web": 0.4, "reference": 0.3, "rejected": 0.3}}')
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--out", default=os.environ.get("OUT", "."))
    p.add_argument("--extra", action="store_true", help="also try cuDNN attention and B=64")
    p.add_argument("--explore", nargs="?", const=",".join(EXPLORE_DEFAULT), metavar="ROWS",
                   help="MFU variants side by side with the reference; a comma list of rows, each a base "
                        "(ref, syn, real, profile) with '+'-joined modifiers from "
                        f"{sorted(EXPLORE_MODS)} (default {','.join(EXPLORE_DEFAULT)})")
    p.add_argument("--autotune-only", action="store_true",
                   help="only gristmill-synthetic with compile mode max-autotune-no-cudagraphs (B=32 and 64)")
    args = p.parse_args(argv)
    try:
        explore = [(row, *explore_row(row)) for row in args.explore.split(",")] if args.explore else []
    except ValueError as e:
        p.error(str(e))
    from shards.mix import MixSampler, load_mix

    T, B = 1024, args.batch_size
    info = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "date": time.strftime("%Y-%m-%d %H:%M"), "T": T, "steps": args.steps}
    print(json.dumps(info), flush=True)
    rows = []
    log = open(os.path.join(args.out, "trainer_bench.jsonl"), "a")

    def record(r):
        r = {**info, **r}
        rows.append(r)
        log.write(json.dumps(r) + "\n")
        log.flush()
        print(f"{r['name']:<44} tok/s {r['tok_s']:>10,.0f}  MFU {r['mfu']:.3f}  warmup {r['warmup_s']:.0f}s", flush=True)

    mix = load_mix(json.loads(args.mix))
    real = MixSampler(args.shards, mix, T, seed=0)
    if args.explore:
        syn = lambda: SyntheticSampler(real.vocab_size, T)  # noqa: E731
        for row, base, mult, kw, model in explore:
            if base == "ref":
                record(bench_reference(mult * B, T, args.steps, warmup=15))
            elif base == "profile":
                prof = profile_gristmill(mult * B, T, steps=5, model_kw=model)
                with open(os.path.join(args.out, f"{row}.json"), "w") as f:
                    json.dump({**info, **prof}, f, indent=1)
                print_profile(prof)
            else:  # real: a fresh sampler with the same seed each time, so variants see the same batches
                sampler = MixSampler(args.shards, mix, T, seed=0) if base == "real" else syn()
                attention = kw.pop("attention", "auto")
                record(bench_gristmill(f"gristmill-{'real' if base == 'real' else 'synthetic'}", sampler, mult * B, T,
                                       args.steps, attention, model=model, **kw))
        if rows:
            print_table(rows)
        return 0
    if args.autotune_only:
        for b in (B, 2 * B):
            record(bench_gristmill("gristmill-synthetic", SyntheticSampler(real.vocab_size, T), b, T, args.steps, "auto",
                                   "max-autotune-no-cudagraphs"))
        return 0
    record(bench_reference(B, T, args.steps, warmup=15))
    record(bench_gristmill("gristmill-synthetic", SyntheticSampler(real.vocab_size, T), B, T, args.steps, "auto"))
    record(bench_gristmill("gristmill-real", real, B, T, args.steps, "auto"))
    if args.extra:
        record(bench_gristmill("gristmill-synthetic", SyntheticSampler(real.vocab_size, T), B, T, args.steps, "cudnn"))
        record(bench_gristmill("gristmill-real", MixSampler(args.shards, mix, T, seed=0), B, T, args.steps, "cudnn"))
        record(bench_gristmill("gristmill-synthetic", SyntheticSampler(real.vocab_size, T), 2 * B, T, args.steps, "auto"))
    print_table(rows)
    syn = {r["name"].split(" ", 1)[1]: r for r in rows if r["name"].startswith("gristmill-synthetic")}
    for r in rows:
        if r["name"].startswith("gristmill-real") and r["name"].split(" ", 1)[1] in syn:
            print(f"loader ratio real/synthetic ({r['name'].split(' ', 1)[1]}): "
                  f"{r['tok_s'] / syn[r['name'].split(' ', 1)[1]]['tok_s']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
