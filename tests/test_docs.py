"""The README stays true: every reason code is documented, the Quick start is what CI runs, every
command it names exists."""
import importlib
import re

from pipelines.cli import COMMANDS
from pipelines.reasons import all_reasons
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_reason_code_is_in_the_readme():
    missing = [code for code in all_reasons() if f"`{code}`" not in README]
    assert not missing, f"reason codes missing from README (run python -m pipelines.reasons): {missing}"


def test_quick_start_is_two_lines_and_ci_runs_its_test_command():
    block = re.search(r"^## Quick start\n+```bash\n(.*?)^```", README, re.S | re.M).group(1)
    lines = [l for l in block.splitlines() if l.strip() and not l.strip().startswith("#")]
    assert len(lines) == 2 and "gristmill run" in lines[0]
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == lines[1].strip()


def test_every_command_has_a_main():
    for name, (module, func, _) in COMMANDS.items():
        assert callable(getattr(importlib.import_module(module), func)), name
        assert f"gristmill {name}" in README, f"command {name!r} is not documented in the README"
