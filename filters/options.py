"""Reading a stage's config dict: defaults, types and ranges, with errors that name the key and the fix."""
from __future__ import annotations

from typing import Any


def number(config: dict, key: str, default: float, lo: float | None = None, hi: float | None = None,
           integer: bool = False, stage: str | None = None) -> Any:
    """``config[key]`` (or ``default``) checked to be a number in [lo, hi]; ValueError otherwise.

    ``stage`` prefixes the key in messages (``'llm.threshold'``) where several stages share key names."""
    value = config.get(key, default)
    key = f"{stage}.{key}" if stage else key
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ValueError(f"{key!r} must be {kind} (got {value!r})")
    if lo is not None and value < lo:
        raise ValueError(f"{key!r} must be >= {lo} (got {value!r})")
    if hi is not None and value > hi:
        raise ValueError(f"{key!r} must be <= {hi} (got {value!r})")
    return value


def flag(config: dict, key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key!r} must be true or false (got {value!r})")
    return value


def string_list(config: dict, key: str, default: list[str]) -> list[str]:
    value = config.get(key, default)
    if isinstance(value, str):  # "en,fr" from a command line
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key!r} must be a list of non-empty strings (got {value!r})")
    return list(value)


def no_unknown(config: dict, known: set[str], stage: str) -> None:
    """A misspelt key would silently leave a default in place: refuse it."""
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"{stage}: unknown config key(s) {unknown}; allowed: {sorted(known)}")
