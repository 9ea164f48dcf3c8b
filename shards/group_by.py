"""Which shard group a document goes to: a small, safe grouping language (never eval()).

Forms of ``--group-by``:

- ``COLUMN``                    the column's value is the group (``lang`` -> ``en``, ``fr``, ...);
- ``const:NAME``                every document of the input goes to group NAME;
- ``COL>=0.5:high,COL>=0.2:mid,low``  numeric rules tried in order, the first that holds wins, the
  bare last name is the default (operators ``>= > <= < == !=``; a null value matches no rule).

Group names are folder names: letters, digits, ``_ . -``, not starting with ``_`` or ``.``, at most 100
characters, and not ``val`` (the held-out subfolder). Column values are made into names by replacing
other characters with ``_``; a null or empty value drops the document with reason ``tokenize.null_group``.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_COLUMN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_RULE_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|==|!=|>|<)\s*"
                      r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*:\s*(\S+)\s*$")
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
        "!=": operator.ne}
RESERVED = ("val",)


def check_name(name: str, where: str = "group") -> str:
    if not NAME_RE.match(name) or name in RESERVED:
        raise ValueError(f"{where} {name!r} is not a valid group name: use letters, digits, '_', '.', '-', "
                         f"start with a letter or digit, at most 100 characters, not {RESERVED}")
    return name


def value_to_name(value: Any) -> str | None:
    """A column value as a group name, or None when there is none (null or nothing left)."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = re.sub(r"[^A-Za-z0-9_.-]", "_", str(value)).lstrip("_.-")[:100]
    if not text:
        return None
    return text if text not in RESERVED else text + "_"


@dataclass(frozen=True)
class GroupBy:
    spec: str
    const: str | None = None
    column: str | None = None
    rules: tuple[tuple[str, str, float, str], ...] = ()
    default: str | None = None

    @property
    def columns(self) -> list[str]:
        """Input columns the grouping reads."""
        if self.column:
            return [self.column]
        return sorted({r[0] for r in self.rules})

    def assign(self, rows: dict[str, list]) -> list[str | None]:
        """Group per row from column lists (``rows[col][i]``); None where a row has no group."""
        if self.const is not None:
            n = len(next(iter(rows.values()))) if rows else 0
            return [self.const] * n
        if self.column is not None:
            return [value_to_name(v) for v in rows[self.column]]
        n = len(rows[self.rules[0][0]])
        out: list[str | None] = []
        for i in range(n):
            for col, op, threshold, name in self.rules:
                v = rows[col][i]
                if v is not None and not isinstance(v, (str, bytes)) and _OPS[op](v, threshold):
                    out.append(name)
                    break
            else:
                out.append(self.default)
        return out


def parse(spec: str) -> GroupBy:
    """Parse a ``--group-by`` expression; errors say what was wrong and show the accepted forms."""
    s = spec.strip()
    forms = "use COLUMN, const:NAME, or rules like 'quality_score>=0.5:high,low'"
    if s.startswith("const:"):
        return GroupBy(spec, const=check_name(s[len("const:"):].strip(), "--group-by const:"))
    if _COLUMN_RE.match(s):
        return GroupBy(spec, column=s)
    parts = [p.strip() for p in s.split(",")]
    if len(parts) < 2:
        raise ValueError(f"--group-by {spec!r} is not understood; {forms}")
    rules = []
    for p in parts[:-1]:
        m = _RULE_RE.match(p)
        if not m:
            raise ValueError(f"--group-by rule {p!r} in {spec!r} is not 'COLUMN OP NUMBER:GROUP' "
                             f"(OP one of {list(_OPS)}); {forms}")
        col, op, num, name = m.groups()
        rules.append((col, op, float(num), check_name(name, f"--group-by rule {p!r}: group")))
    default = check_name(parts[-1], f"--group-by {spec!r}: default group (the last item)")
    return GroupBy(spec, rules=tuple(rules), default=default)
