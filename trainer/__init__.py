"""The built-in trainer: a nanoGPT-sized model, a train loop over mixed token shards, held-out evaluation
with confidence intervals, checkpoints, silent-bug guards, and the statistics behind ``gristmill ablate``.

Import the parts you need (``trainer.model``, ``trainer.train``, ...): importing this package loads no torch.
"""
