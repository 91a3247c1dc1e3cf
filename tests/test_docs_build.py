"""The documentation site builds with ``mkdocs build --strict`` and has every page.

Strict mode turns every warning into an error: a broken link, a page missing from the
navigation, a docstring mkdocstrings cannot parse, a notebook link to no page.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")
pytest.importorskip("mkdocs_jupyter")

ROOT = Path(__file__).resolve().parents[1]

API_PAGES = ["forecasters", "backtesting", "metrics", "plotting", "preprocessing",
             "datasets", "data", "nn", "ops", "exceptions"]
NOTEBOOKS = ["01_quickstart", "02_backtest_vs_arima", "03_streaming_update",
             "04_gpu_kernels"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-6000:]}"
    return out


def _page(site: Path, *parts: str) -> str:
    return (site.joinpath(*parts) / "index.html").read_text(encoding="utf-8")


def test_api_reference_covers_public_modules(site: Path):
    objects = {
        "forecasters": ["tsssm.forecasters.arima.ARIMA", "tsssm.forecasters.naive.SeasonalNaive",
                        "tsssm.forecasters.neural.models.MambaForecaster",
                        "tsssm.forecasters.neural.models.HybridForecaster"],
        "backtesting": ["tsssm.backtesting.backtest", "tsssm.backtesting.BacktestResult"],
        "ops": ["tsssm.ops.selective_scan.selective_scan", "tsssm.ops.linear_scan.linear_scan"],
        "nn": ["tsssm.nn.mamba.MambaBlock", "tsssm.nn.s5.S5Layer"],
        "exceptions": ["tsssm.exceptions.DataError"],
    }
    for page in API_PAGES:
        html = _page(site, "api", page)
        assert 'class="doc doc-object' in html, f"api/{page} renders no object"
        for ident in objects.get(page, []):
            assert f'id="{ident}"' in html, f"api/{page} lacks {ident}"


def test_neural_docstrings_are_rendered(site: Path):
    # the neural classes build their docstrings at import time (dynamic inspection)
    html = _page(site, "api", "forecasters")
    assert "Forecaster built on Mamba (selective state-space) blocks." in html


def test_rst_markup_is_converted(site: Path):
    for page in API_PAGES:
        html = _page(site, "api", page)
        assert ":class:`" not in html and ":func:`" not in html and ".. math::" not in html
    assert 'class="arithmatex"' in _page(site, "api", "metrics")


def test_notebooks_are_rendered_with_working_links(site: Path):
    for name in NOTEBOOKS:
        html = _page(site, "notebooks", name)
        assert "jp-Notebook" in html or "jupyter-wrapper" in html
        assert ".ipynb\"" not in html.split("jp-Notebook", 1)[-1], (
            f"{name}: a link to a notebook file was not mapped to its page"
        )
    quickstart = _page(site, "notebooks", "01_quickstart")
    assert 'href="../02_backtest_vs_arima/"' in quickstart
    assert "data:image/png;base64" in quickstart  # the committed plots are shown
