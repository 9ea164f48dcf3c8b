import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
SAMPLE = REPO / "examples" / "sample_crawl"
# Every Beam job is tested the way it runs at scale: separate worker processes, more than one.
MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared/data not found at {SHARED}: tests need the shared data kit beside the repo")
    return SHARED


def pytest_configure(config):
    # Worker processes Beam starts must import the repo's packages even without an editable install.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
