"""The train loop: mixed batches in, a model, held-out losses with CIs, and checkpoints out.

Batches come from a sampler (``shards.mix.MixSampler`` over memory-mapped shards) through a background
thread that pins them, so host-to-device copies are asynchronous and the GPU never waits on Python.
The loss is read back only every ``log_every`` steps (one sync), where the guards check every step's
loss. A checkpoint is written only after the guards have passed every step before it, so the latest
checkpoint is always the last good one.

Step lines are greppable ``key:value`` pairs (``step:120/2000 loss:4.1234 lr:6.0e-04 tok_s:512345
mfu:0.512 eta_s:93``); a tqdm bar shows the same on stderr. MFU = (6N + 12·L·D·T) x tokens/s / peak,
with N the parameter count and the peak the device's dense bf16 rate (``PEAK_FLOPS``).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import queue
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from trainer import checkpoint as ckpt
from trainer.evaluate import EvalSource, evaluate
from trainer.guards import GuardError, LossWatch, check_causal, check_first_loss, check_shift
from trainer.model import GPT, GPTConfig

# Dense bf16 tensor-core peak, FLOP/s, by a substring of torch.cuda.get_device_name(). From the vendors'
# datasheets (without sparsity). H200 is the H100's chip with more memory: same arithmetic peak.
PEAK_FLOPS = [("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12),
              ("A100", 312e12), ("L40S", 362e12), ("A10G", 70e12), ("L4", 121e12)]


class Sampler(Protocol):
    def batch(self, batch_size: int) -> np.ndarray: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class TrainConfig:
    tokens: int  # training tokens in all; steps = tokens // (batch_size * grad_accum * seq_len)
    batch_size: int = 32  # sequences per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # final learning rate as a fraction of lr
    warmup_frac: float = 0.05  # fraction of steps with a linear warmup from 0
    schedule: str = "cosine"  # "cosine" decay after warmup, or "wsd" (warmup, stable, linear decay at the end)
    decay_frac: float = 0.2  # wsd only: final fraction of steps spent decaying
    weight_decay: float = 0.1  # AdamW decoupled weight decay on matrices and embeddings
    beta1: float = 0.9  # AdamW first-moment decay
    beta2: float = 0.95  # AdamW second-moment decay
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = off)
    eval_every: int = 0  # steps between held-out evaluations (0 = only at the end)
    eval_tokens: int = 1 << 18  # held-out tokens per group per evaluation (the same windows every time)
    eval_batch_size: int = 0  # sequences per evaluation batch (0 = batch_size)
    ckpt_every: int = 0  # steps between checkpoints (0 = at evaluations and at the end)
    log_every: int = 10  # steps between step lines (the only host-device syncs of the loss)
    seed: int = 0  # seeds the init and the sampler
    device: str = "auto"  # "auto" (cuda if present), "cpu", "cuda", "cuda:1", ...
    compile: bool | None = None  # torch.compile the model; None = on for cuda, off on the CPU
    compile_mode: str = "default"  # torch.compile mode, e.g. "max-autotune-no-cudagraphs" (slow to compile)
    compile_tune: bool = False  # inductor coordinate-descent tuning of its generated (non-matmul) kernels;
    # a longer first compile, cached on disk after
    bf16: bool | None = None  # bf16 autocast; None = on for cuda, off on the CPU
    first_loss_tolerance: float = 0.25  # guard: first loss must be within this fraction of ln(vocab)
    spike_ratio: float = 1.8  # guard: stop when a loss exceeds this multiple of its smoothed value
    spike_warmup: int = 50  # guard: steps before the spike check starts
    peak_flops: float = 0.0  # device peak FLOP/s for MFU (0 = look the device up in PEAK_FLOPS)
    attention: str = "auto"  # SDPA kernel on cuda: "auto" (torch's choice), "cudnn" or "flash" preferred
    stop_after: int = 0  # stop (like a kill) after this many steps in this process; tests resume with it
    progress: bool = True  # tqdm bar on stderr
    cpu_threads: int = 1  # torch intra-op threads on the CPU (0 = torch's default); small models gain nothing
    # from more, and on shared cores spinning threads made a tiny step 18x slower (measured here)

    def __post_init__(self) -> None:
        for name in ("tokens", "batch_size", "grad_accum", "log_every", "eval_tokens"):
            if getattr(self, name) <= 0:
                raise ValueError(f"'{name}' must be > 0 (got {getattr(self, name)})")
        if self.lr <= 0:
            raise ValueError(f"'lr' must be > 0 (got {self.lr})")
        if self.attention not in ("auto", "cudnn", "flash"):
            raise ValueError(f"'attention' must be 'auto', 'cudnn' or 'flash' (got {self.attention!r})")
        if self.schedule not in ("cosine", "wsd"):
            raise ValueError(f"'schedule' must be 'cosine' or 'wsd' (got {self.schedule!r})")
        for name in ("min_lr_ratio", "warmup_frac", "decay_frac"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"'{name}' must be in [0, 1] (got {getattr(self, name)})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of ``total``."""
    warm = int(cfg.warmup_frac * total)
    floor = cfg.lr * cfg.min_lr_ratio
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "cosine":
        frac = (step - warm) / max(1, total - warm)
        return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    decay_start = total - int(cfg.decay_frac * total)
    if step < decay_start:
        return cfg.lr
    frac = (step - decay_start) / max(1, total - decay_start)
    return cfg.lr + (floor - cfg.lr) * min(1.0, frac)


def split_batch(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T+1] tokens -> inputs [B, T] and next-token targets [B, T]."""
    return batch[:, :-1], batch[:, 1:]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"'device' is {name!r} but torch sees no CUDA device; use --device cpu")
    return dev


def peak_flops(device: torch.device, override: float = 0.0) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peak in PEAK_FLOPS:
        if key in name:
            return peak
    return None


def device_info(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    else:
        info["cpu_threads"] = torch.get_num_threads()
    return info


class Loader:
    """Draws batches on a background thread, ``depth`` ahead, pinned for asynchronous copies.

    Each item carries the sampler's state right after it was drawn: a checkpoint after consuming it
    stores that state, so a resumed run continues with the very next batch."""

    def __init__(self, sampler: Sampler, batch_size: int, pin: bool, depth: int = 4):
        self.sampler, self.batch_size, self.pin = sampler, batch_size, pin
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gristmill-loader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                arr = self.sampler.batch(self.batch_size)  # [B, T+1] int64
                t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64))
                if self.pin:
                    t = t.pin_memory()  # the caching host allocator keeps it alive until the async copy is done
                item = (t, self.sampler.state_dict())
                while not self.stop.is_set():
                    try:
                        self.q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except Exception as e:  # handed to the consumer, which re-raises it with the traceback
            self.q.put(e)

    def get(self) -> tuple[torch.Tensor, dict]:
        item = self.q.get()
        if isinstance(item, Exception):
            raise RuntimeError(f"the batch loader failed: {item!r}") from item
        return item

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def _append_jsonl(path: Path | None, rec: dict) -> None:
    if path is not None:
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")


def train(model_cfg: GPTConfig, cfg: TrainConfig, sampler: Sampler, eval_sources: dict[str, EvalSource],
          out_dir: str | os.PathLike | None, *, mix: dict | None = None, tokenizer_hash: str | None = None,
          byte_lengths: np.ndarray | None = None, resume: bool = False, data_vocab: int | None = None,
          log: Callable[[str], None] | None = None) -> dict:
    """Train, evaluate, checkpoint. Returns the result dict also written to ``out_dir/result.json``.

    ``data_vocab`` is the tokenizer's vocabulary (ids below it occur); the first-loss guard uses the
    model's vocab, which the output layer spreads probability over. Raises ``GuardError`` when a guard
    fires, after writing ``out_dir/guard.json`` naming the last good checkpoint."""
    t_start = time.time()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    bar_out = sys.stderr
    device = resolve_device(cfg.device)
    use_compile = cfg.compile if cfg.compile is not None else device.type == "cuda"
    use_bf16 = cfg.bf16 if cfg.bf16 is not None else device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_bf16 else None
    if device.type == "cpu" and cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    T = model_cfg.seq_len
    tokens_per_step = cfg.batch_size * cfg.grad_accum * T
    total_steps = cfg.tokens // tokens_per_step
    if total_steps < 1:
        raise ValueError(f"'tokens' ({cfg.tokens}) is less than one step of {tokens_per_step} tokens "
                         f"(batch_size x grad_accum x seq_len); raise --tokens or lower --batch-size")
    eval_bs = cfg.eval_batch_size or cfg.batch_size

    torch.manual_seed(cfg.seed)
    model = GPT(model_cfg).to(device)
    fused = device.type == "cuda"
    opt = torch.optim.AdamW(model.param_groups(cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                            eps=1e-8, fused=fused)
    watch = LossWatch(cfg.spike_ratio, cfg.spike_warmup)
    history: list[dict] = []  # one record per logged step
    evals: list[dict] = []  # one record per evaluation
    start_step = 0
    latest = out / ckpt.LATEST if out is not None else None
    metrics_path = out / "metrics.jsonl" if out is not None else None
    train_seconds = 0.0  # wall time in the train loop, excluding evaluation and checkpointing, over all segments

    if resume and latest is not None and latest.exists():
        state = ckpt.load(latest)
        ckpt.check_compatible(state, model_cfg.to_dict(), tokenizer_hash, mix)
        if state["train_config"]["tokens"] != cfg.tokens or state["train_config"]["batch_size"] != cfg.batch_size:
            raise ValueError("--resume: 'tokens' and 'batch_size' must match the checkpoint's "
                             f"({state['train_config']['tokens']}, {state['train_config']['batch_size']}); "
                             "the schedule depends on them")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sampler.load_state_dict(json.loads(state["sampler"]))
        ckpt.set_rng_state(state["rng"])
        watch.load_state_dict(state["watch"])
        history, evals = json.loads(state["history"]), json.loads(state["evals"])
        start_step = state["step"]
        train_seconds = state.get("train_seconds", 0.0)
        if metrics_path is not None and metrics_path.exists():  # drop lines logged after that checkpoint
            kept = [l for l in metrics_path.read_text().splitlines() if l and json.loads(l).get("step", 0) < start_step]
            metrics_path.write_text("".join(l + "\n" for l in kept))

    n_params = model.num_params()
    fpt = model.flops_per_token()
    peak = peak_flops(device, cfg.peak_flops)
    header = {"event": "start", "params": n_params, "flops_per_token": fpt, "peak_flops": peak,
              "steps": total_steps, "start_step": start_step, "tokens_per_step": tokens_per_step,
              "compile": use_compile, "bf16": use_bf16, **device_info(device),
              "model": model_cfg.to_dict(), "train": cfg.to_dict(), "mix": mix, "tokenizer_hash": tokenizer_hash,
              "code_version": ckpt.code_version()}

    def emit(line: str) -> None:
        (log or (lambda s: print(s, flush=True)))(line)

    emit(" ".join(f"{k}:{header[k]}" for k in ("params", "steps", "start_step", "tokens_per_step", "device",
                                                "compile", "bf16", "torch")) + f" gpu:{header.get('gpu', '-')}")
    _append_jsonl(metrics_path, header)

    check_causal(model, model_cfg.vocab_size, T, device)
    fwd = torch.compile(model, mode=cfg.compile_mode) if use_compile else model
    loader = Loader(sampler, cfg.batch_size, pin=device.type == "cuda")

    def save_checkpoint(step: int, sampler_state: dict) -> None:
        if out is None:
            return
        ckpt.save(latest, step=step, model=model.state_dict(), optimizer=opt.state_dict(),
                  schedule={"name": cfg.schedule, "step": step, "total": total_steps},
                  sampler=json.dumps(sampler_state), rng=ckpt.rng_state(), watch=watch.state_dict(),
                  history=json.dumps(history), evals=json.dumps(evals), train_seconds=train_seconds,
                  model_config=model_cfg.to_dict(), train_config=cfg.to_dict(), mix=mix,
                  tokenizer_hash=tokenizer_hash, code_version=header["code_version"])

    def run_eval(step: int) -> dict:
        res = evaluate(model, eval_sources, T, cfg.eval_tokens, eval_bs, device, amp_dtype, byte_lengths)
        rec = {"step": step, "tokens": step * tokens_per_step, "train_seconds": round(train_seconds, 3),
               "groups": {g: r.to_dict() for g, r in res.items()}}
        evals.append(rec)
        emit(f"eval step:{step} " + " ".join(
            f"{g}_loss:{r.loss:.4f} {g}_ci95:{r.ci95:.4f}" + (f" {g}_bpb:{r.bits_per_byte:.4f}" if r.bits_per_byte else "")
            for g, r in res.items()))
        _append_jsonl(metrics_path, {"event": "eval", **{k: v for k, v in rec.items() if k != "groups"},
                                     "groups": {g: {k: v for k, v in d.items() if k != "seq_losses"}
                                                for g, d in rec["groups"].items()}})
        return rec

    pending: list[tuple[int, torch.Tensor, torch.Tensor, float]] = []  # (step, loss, grad norm, lr) not yet synced
    sampler_state: dict = sampler.state_dict()
    window_t0, window_tokens = time.time(), 0
    rates: list[tuple[float, float]] = []  # (tokens/s, seconds) of each log window after the first
    steps_this_run = 0
    bar = None
    stack = contextlib.ExitStack()
    try:
        from tqdm import tqdm

        if device.type == "cuda" and cfg.attention != "auto":
            from torch.nn.attention import SDPBackend, sdpa_kernel

            first = SDPBackend.CUDNN_ATTENTION if cfg.attention == "cudnn" else SDPBackend.FLASH_ATTENTION
            rest = [b for b in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION,
                                SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH) if b != first]
            stack.enter_context(sdpa_kernel([first, *rest], set_priority=True))

        if use_compile and cfg.compile_tune:
            import torch._inductor.config as inductor_config

            # compilation is lazy (first forward, first backward), so the setting must hold during the loop
            stack.enter_context(inductor_config.patch(coordinate_descent_tuning=True))
        # CUDA-graph modes replay static buffers: mark each step so outputs of the last one may be reused
        graphs = use_compile and cfg.compile_mode in ("reduce-overhead", "max-autotune")

        bar = tqdm(total=total_steps, initial=start_step, disable=not cfg.progress, file=bar_out,
                   unit="step", dynamic_ncols=True, leave=False)

        def flush(step: int) -> None:
            """Sync pending losses (one transfer), run the loss guards on each, log the last."""
            nonlocal window_t0, window_tokens, train_seconds
            if not pending:
                return
            vals = torch.stack([torch.stack([l.float(), n.float()]) for _, l, n, _ in pending]).tolist()
            now = time.time()
            dt = now - window_t0
            train_seconds += dt
            for (s, _, _, lr), (loss, gnorm) in zip(pending, vals):
                watch(s, loss)
                history.append({"step": s, "loss": loss, "grad_norm": gnorm, "lr": lr})
            tok_s = window_tokens / dt if dt > 0 else 0.0
            first_window = len(rates) == 0 and not (resume and start_step)
            rates.append((tok_s, dt) if not first_window else (float("nan"), dt))  # first window holds compile time
            mfu = fpt * tok_s / peak if peak else None
            remaining = (total_steps - step - 1) * tokens_per_step / tok_s if tok_s else float("nan")
            loss = vals[-1][0]
            rec = {"event": "step", "step": step + 1, "loss": round(loss, 5), "lr": pending[-1][3],
                   "grad_norm": round(vals[-1][1], 4), "tok_s": round(tok_s), "mfu": None if mfu is None else round(mfu, 4),
                   "eta_s": None if math.isnan(remaining) else round(remaining)}
            _append_jsonl(metrics_path, rec)
            line = (f"step:{step + 1}/{total_steps} loss:{loss:.4f} lr:{rec['lr']:.2e} gnorm:{vals[-1][1]:.3f} "
                    f"tok_s:{tok_s:.0f} mfu:{'-' if mfu is None else f'{mfu:.3f}'} eta_s:{rec['eta_s']}")
            if bar is not None and not bar.disable:
                bar.set_postfix_str(f"loss {loss:.3f} tok/s {tok_s:,.0f} mfu {'-' if mfu is None else f'{mfu:.1%}'}",
                                    refresh=False)
                bar.update(len(pending))
                bar.write(line, file=sys.stdout)
            else:
                emit(line)
            pending.clear()
            window_t0, window_tokens = time.time(), 0

        for step in range(start_step, total_steps):
            lr = lr_at(step, total_steps, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            loss_acc = torch.zeros((), device=device)
            for micro in range(cfg.grad_accum):
                cpu_batch, sampler_state = loader.get()
                batch = cpu_batch.to(device, non_blocking=True)  # [B, T+1]
                x, y = split_batch(batch)
                if step == start_step and micro == 0:
                    check_shift(batch, x, y)
                if graphs:
                    torch.compiler.cudagraph_mark_step_begin()
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    loss = fwd(x, y)
                if step == 0 and micro == 0:
                    check_first_loss(float(loss.detach()), model_cfg.vocab_size, cfg.first_loss_tolerance)
                (loss / cfg.grad_accum).backward()
                loss_acc += loss.detach()
            gnorm = (torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip) if cfg.grad_clip > 0
                     else torch.zeros((), device=device))
            opt.step()
            opt.zero_grad(set_to_none=True)
            pending.append((step, loss_acc / cfg.grad_accum, gnorm, lr))
            window_tokens += tokens_per_step
            steps_this_run += 1
            done = step + 1
            is_last = done == total_steps
            do_eval = is_last or (cfg.eval_every and done % cfg.eval_every == 0)
            do_ckpt = do_eval or (cfg.ckpt_every and done % cfg.ckpt_every == 0)
            stopping = bool(cfg.stop_after) and steps_this_run >= cfg.stop_after
            if done % cfg.log_every == 0 or do_eval or do_ckpt or stopping:
                flush(step)
            if do_eval:
                run_eval(done)
            if do_ckpt or stopping:
                save_checkpoint(done, sampler_state)
                window_t0 = time.time()  # eval and checkpoint time is not training throughput
            if stopping and not is_last:
                emit(f"stopped step:{done} (stop_after={cfg.stop_after}); resume with --resume")
                return {"stopped_at": done, "history": history, "evals": evals}
    except GuardError as e:
        good = ckpt.load(latest)["step"] if latest is not None and latest.exists() else None
        msg = (f"{e} -- run stopped; last good checkpoint: "
               + (f"{latest} (step {good})" if good is not None else "none (it failed before the first checkpoint)"))
        if out is not None:
            _write_json(out / "guard.json", {"guard": e.guard, "step": e.step, "message": str(e),
                                             "last_good_checkpoint": str(latest) if good is not None else None,
                                             "last_good_step": good})
        emit(msg)
        e.args = (msg,)
        raise
    finally:
        stack.close()
        loader.close()
        if bar is not None:
            bar.close()

    steady = [(r, d) for r, d in rates if not math.isnan(r)]
    tok_s = (sum(r * d for r, d in steady) / sum(d for _, d in steady)) if steady else (
        (total_steps - start_step) * tokens_per_step / train_seconds if train_seconds else 0.0)
    final = evals[-1]
    result = {
        "model": model_cfg.to_dict(), "train": cfg.to_dict(), "mix": mix, "tokenizer_hash": tokenizer_hash,
        "data_vocab": data_vocab, "params": n_params, "flops_per_token": fpt, "steps": total_steps,
        "tokens": total_steps * tokens_per_step, "train_seconds": round(train_seconds, 3),
        "wall_seconds": round(time.time() - t_start, 3), "tok_s": round(tok_s),
        "mfu": round(fpt * tok_s / peak, 4) if peak else None, "peak_flops": peak, **device_info(device),
        "code_version": header["code_version"], "final_eval": final["groups"], "evals": evals,
        "train_curve": history, "epochs": sampler.epochs() if hasattr(sampler, "epochs") else None,
    }
    if out is not None:
        _write_json(out / "result.json", result)
    return result


def check_determinism(model_cfg: GPTConfig, cfg: TrainConfig, make_sampler: Callable[[], Sampler],
                      steps: int = 5, rtol: float = 1e-4) -> list[float]:
    """Two identical short runs must give the same losses (to ``rtol``): else data order, init or a kernel
    is not seeded, and seed-to-seed spreads in an ablation are not what they claim. Returns the losses."""
    short = TrainConfig.from_dict({**cfg.to_dict(), "tokens": steps * cfg.batch_size * cfg.grad_accum * model_cfg.seq_len,
                                   "log_every": 1, "eval_tokens": model_cfg.seq_len + 1, "progress": False,
                                   "stop_after": 0, "eval_every": 0, "ckpt_every": 0})
    runs = []
    for _ in range(2):
        res = train(model_cfg, short, make_sampler(), {}, None, log=lambda s: None)
        runs.append([h["loss"] for h in res["train_curve"]])
    a, b = np.array(runs[0]), np.array(runs[1])
    if not np.allclose(a, b, rtol=rtol, atol=0):
        worst = int(np.argmax(np.abs(a - b) / np.abs(a)))
        raise GuardError("determinism", f"two identical {steps}-step runs differ: step {worst} loss {a[worst]:.6f} vs "
                                        f"{b[worst]:.6f} (rtol {rtol}); check seeding of the sampler and init, or "
                                        "non-deterministic kernels")
    return runs[0]
