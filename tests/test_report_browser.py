"""report.html in a real browser (headless Chromium): the page renders, not blank, with every plot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import running_in_ci
from test_report import make_run

CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None and not running_in_ci(), reason="no chromium (run_tests.sh installs it)")
def test_report_html_renders_in_chromium(cli, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI needs chromium: host_scripts/run_tests.sh installs it"
    run, _ = make_run(tmp_path)
    assert cli("report", str(run)).exit_code == 0
    page = (run / "report.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1400,3800", page],
                   check=True, capture_output=True, timeout=120)
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    for plot in ("throughput", "latency", "pareto"):
        assert f'id="plot-{plot}"' in dom
    from matplotlib import image

    pixels = image.imread(shot)
    assert pixels.shape[0] >= 3000 and pixels.shape[1] >= 1300
    assert pixels[..., :3].std() > 0.05  # not blank
    # The plots' colours (matplotlib's first series is blue) are on the page, not just text.
    blue = (pixels[..., 2] > 0.6) & (pixels[..., 0] < 0.3)
    assert blue.sum() > 500
