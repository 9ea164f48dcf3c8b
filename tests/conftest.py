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


@pytest.fixture
def recorded(request, monkeypatch):
    """The pretrained encoders' outputs on this test's texts, replayed from its recording (tests/recorded.py says what
    is replayed, what is still checked live, and how to re-record)."""
    from tests.recorded import Recording

    marker = request.node.get_closest_marker("replay")
    r = Recording(request.node.name, marker.args if marker else None)
    r.install(monkeypatch)
    yield r
    r.finish()


def pytest_configure(config):
    # Worker processes Beam starts must import the repo's packages even without an editable install.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # One torch thread per pytest worker: two workers on two cores with torch's default (a thread per core)
        # spin against each other (60 texts through the injection scorer in two processes at once: 51 s each with
        # two threads, 44 s with one). Code that wants more threads sets them itself (the trainer's cpu_threads).
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    # Longest first, so that with "--dist load --maxschedchunk 1" (pyproject) no worker starts a
    # many-minute test while the other has nothing left: heavy, then slow, then the rest, in file order.
    rank = lambda item: 0 if item.get_closest_marker("heavy") else 1 if item.get_closest_marker("slow") else 2
    items.sort(key=rank)
