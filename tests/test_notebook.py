"""mnistlab driven from a Jupyter notebook: a real ipykernel run by nbclient (the way Jupyter runs a
notebook headless), its cells' outputs read back as a notebook keeps them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # (the dev extra installs them: counted as a skip otherwise)
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("ipywidgets")


def _outputs(cells: list[str], where: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[dict]]:
    """Each cell's outputs, the notebook run in a fresh kernel of this interpreter in ``where``."""
    monkeypatch.delenv("MPLBACKEND", raising=False)  # a kernel's own: matplotlib_inline, as in Jupyter
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3", allow_errors=False,
                                     resources={"metadata": {"path": str(where)}})
    client.execute()
    return [json.loads(json.dumps(c.outputs)) for c in nb.cells]


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") if o["output_type"] == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in outputs)


def test_a_notebook_keeps_every_epoch_line_of_a_bar_and_shows_a_figure_inline(data_dir: Path, tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-182: in a notebook with ipywidgets, progress="bar" erased the cell's earlier output
    and every epoch's line but the last (rich's widget, closed at the first epoch's end, was
    restarted); a figure on a cell's last line showed as "<Figure size ... with 2 Axes>", no image,
    though the README says Jupyter shows it."""
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(data_dir))
    cells = ["import mnistlab",
             "print('before the training')\n"
             "run = mnistlab.train(dataset='mnist', model='seed000-dense', epochs=3, subset=600, progress='bar')\n"
             "print('after it')",
             "from mnistlab import plots\nplots.plot_history([('dense', run.history, run.test_accuracy)])"]
    _, trained, figure = _outputs(cells, tmp_path, monkeypatch)
    text = _text(trained)
    assert text.startswith("before the training\n") and text.rstrip().endswith("after it"), text
    assert [e for e in range(1, 4) if f"Epoch {e}/3 - " in text] == [1, 2, 3], text
    assert [o["output_type"] for o in figure] == ["execute_result"] and "image/png" in figure[0]["data"], figure


def test_a_notebook_shows_a_summary_and_a_comparison_as_tables(data_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-182: `summarize(...)` on a cell's last line showed the dataclass's fields (a wall of
    SummaryRow(...)) and `compare(...)` a list of 29-key dicts: now the Keras table and the
    comparison table (markdown, which Jupyter renders)."""
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(data_dir))
    cells = ["import mnistlab\nmnistlab.summarize('seed000-dense')",
             "for seed in (0, 1):\n"
             "    mnistlab.train(dataset='mnist', model='seed000-dense', epochs=1, subset=600, seed=seed, store=True,"
             " progress='none')",
             "rows = mnistlab.compare('mnistlab-runs', 'train')\nrows",
             "rows[0]['variant'], len(rows)"]
    summary, _, table, row = _outputs(cells, tmp_path, monkeypatch)
    text = summary[0]["data"]["text/plain"]
    assert "Total params: 101,770" in text and "Output Shape" in text and "SummaryRow" not in text, text
    shown = table[0]["data"]
    assert shown["text/markdown"].startswith("| variant |") and "seed000-dense" in shown["text/markdown"], shown
    assert shown["text/plain"].splitlines()[0].split()[:2] == ["variant", "params"], shown  # not a list of dicts
    part = "test accuracy here is on part of the test set (100 of mnist's 10,000 test images"  # (helper-211: the
    assert f"\nNote: {part}" in shown["text/markdown"] and f"\nnote: {part}" in shown["text/plain"]  # notes left out)
    assert row[0]["data"]["text/plain"] == "('seed000-dense', 1)"  # still the rows, as dicts
