"""Execute every notebook in ``notebooks/`` on the CPU, so that none of them can rot.

The notebooks read ``TSSSM_NOTEBOOK_FAST=1`` (set here) and then use tiny models, one
or two epochs and few backtest windows; ETTh1 is read from ``../shared/datasets`` via
``TSSSM_DATA``. The kernel is this interpreter, through a kernelspec written to a
temporary folder, so the test needs nothing but ``pip install -e .[dev]``.

Run as a script to re-execute notebooks with their full settings and save the outputs
that are committed (the plots shown on the repository page)::

    TSSSM_DATA=/path/to/folder/with/ETTh1 python tests/test_notebooks.py [01_quickstart ...]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
KERNEL = "tsssm-notebook-test"
MAX_BYTES = 1_000_000  # committed notebooks stay small (plots at modest dpi)
CELL_TIMEOUT_S = 600


def _write_kernelspec(folder: Path, env: dict[str, str]) -> KernelSpecManager:
    """A kernelspec that starts this interpreter's ipykernel with ``env`` added."""
    spec_dir = folder / "kernels" / KERNEL
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tsssm notebook test",
        "language": "python",
        "env": env,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


def execute(path: Path, env: dict[str, str], workdir: Path,
            timeout: int = CELL_TIMEOUT_S) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` (in its folder) and return it.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name=KERNEL,
                       kernel_spec_manager=_write_kernelspec(workdir, env))
    client = nbclient.NotebookClient(
        nb, km=km, timeout=timeout, record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    finally:
        # a client given its kernel manager does not own the kernel: stop it here
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def _needs_ett(path: Path) -> bool:
    return "load_ett" in path.read_text(encoding="utf-8")


def test_notebooks_exist():
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_quickstart", "02_backtest_vs_arima", "03_streaming_update",
                     "04_gpu_kernels"]


def _test_env(**extra: str) -> dict[str, str]:
    env = {
        "TSSSM_NOTEBOOK_FAST": "1",
        "TSSSM_DATA": str(DATA_DIR),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        # One torch thread: on a busy 2-core machine (pytest-xdist's other worker, other
        # jobs) OpenMP threads that wait for each other at every small op make the
        # notebooks' many small tensor ops tens of times slower.
        "OMP_NUM_THREADS": "1",
        **extra,
    }
    return env


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path):
    if _needs_ett(path) and not (DATA_DIR / "ETTh1.csv").is_file():
        pytest.skip(f"{path.name} reads ETTh1, which is not at {DATA_DIR}")
    nb = execute(path, _test_env(), tmp_path)
    assert _errors(nb) == []
    images = [out for cell in nb.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    # every notebook draws at least one figure, and the figures really were drawn
    assert images, f"{path.name} produced no figure"


def test_gpu_notebook_in_triton_interpreter(tmp_path: Path):
    """The GPU cells of 04_gpu_kernels, run on CPU tensors through Triton's interpreter.

    Without a GPU, the plain run above takes the notebook's CPU branch only; this run
    exercises the code a GPU user gets (kernel against reference, gradients, every
    optional input, timings) at tiny sizes.
    """
    pytest.importorskip("triton")
    path = NOTEBOOK_DIR / "04_gpu_kernels.ipynb"
    nb = execute(path, _test_env(TRITON_INTERPRET="1", TSSSM_NOTEBOOK_DEVICE="cpu"), tmp_path)
    assert _errors(nb) == []
    text = "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))
    assert "Triton interpreter on the CPU" in text
    assert "every output and gradient within" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs(path: Path):
    """The committed notebooks carry their outputs (plots on the repository page)."""
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is over {MAX_BYTES} bytes"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"{path.name} has unexecuted cells"
    assert _errors(nb) == []
    assert any("image/png" in out.get("data", {}) for c in code for out in c.outputs)


def main(argv: list[str]) -> int:
    """Execute the named notebooks (all without names) with full settings, in place."""
    chosen = [p for p in NOTEBOOKS if not argv or p.stem in argv or p.name in argv]
    env = {
        "TSSSM_NOTEBOOK_FAST": "0",
        "TSSSM_DATA": os.environ.get("TSSSM_DATA", str(DATA_DIR)),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    for path in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            nb = execute(path, env, Path(tmp), timeout=3600)
        nbformat.write(nb, path)
        print(f"{path.name}: {path.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
