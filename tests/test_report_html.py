"""The ablation report page: tables and PNGs are there; headless Chromium loads the images and sees the table."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import trainer_shards
from pipelines.ablate import main as ablate_main

pytestmark = pytest.mark.slow
CHROMIUM = next((c for c in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(c).exists()), None)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    data = trainer_shards.shared()
    out = tmp_path_factory.mktemp("rep")
    curate = _curate_output(out / "curate")
    rc = ablate_main(["--shards", data["shards"], "--mixes", data["mixes"], "--output", str(out), "--preset", "tiny",
                      "--tokens", "4096", "--seeds", "1", "--batch-size", "8", "--eval-tokens", "512", "--no-progress",
                      "--curate", str(curate)])
    assert rc == 0
    return out


def _curate_output(d: Path) -> Path:
    """A curate-shaped output folder (report.json + docs/ + rejected/ Parquet with a score column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (d / "docs").mkdir(parents=True)
    (d / "rejected").mkdir()
    (d / "report.json").write_text(json.dumps({"job": "curate", "stages": {
        "gopher": {"in": 10, "out": 7, "dropped": {"gopher.too_short": 3}, "failed": {}},
        "quality": {"in": 7, "out": 5, "dropped": {"quality.low_score": 2}, "failed": {"quality.bad_text": 0}}}}))
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x", "y"], "quality_score": [0.9, 0.8]}), d / "docs" / "p.parquet")
    pq.write_table(pa.table({"id": ["c"], "text": ["z"], "quality_score": [0.1], "stage": ["quality"],
                             "reason": ["quality.low_score"]}), d / "rejected" / "p.parquet")
    return d


def test_page_has_tables_images_and_drop_reasons(report):
    page = (report / "report.html").read_text()
    for table_id in ("mixes", "heldout", "verdicts", "mdd", "drops", "runs"):
        assert f"id='{table_id}'" in page
    images = re.findall(r"<img src='([^']+)'", page)
    assert "heldout.png" in images and "scores.png" in images and len([i for i in images if i.startswith("curve_")]) == 2
    for img in images:
        assert (report / img).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "gopher.too_short" in page
    assert "clean better than dirty" in page or "no difference detected between clean and dirty" in page
    rep = json.loads((report / "report.json").read_text())
    assert rep["curate"]["drop_reasons"] == {"gopher.too_short": 3, "quality.low_score": 2, "quality.bad_text": 0}


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package 'chromium'); "
                                              "the page's static checks above still ran")
def test_chromium_loads_the_images_and_table(report, tmp_path):
    # A copy of the page with a script that writes what the browser sees into the DOM, which --dump-dom prints.
    probe = (report / "report.html").read_text().replace("</body>", """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const rows = document.querySelectorAll('#heldout tr').length;
  const p = document.createElement('pre'); p.id = 'probe';
  p.textContent = `PROBE images=${imgs.length} loaded=${ok} heldout_rows=${rows}`;
  document.body.appendChild(p);
});
</script></body>""")
    page = report / "probe.html"
    page.write_text(probe)
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r"PROBE images=(\d+) loaded=(\d+) heldout_rows=(\d+)", res.stdout)
    assert m, res.stderr[-2000:]
    n, loaded, rows = map(int, m.groups())
    assert n >= 4 and loaded == n and rows == 3  # header + two mixes
