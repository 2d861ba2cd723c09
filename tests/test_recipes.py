"""Every recipe in recipes/ loads, validates and runs end to end with --quick."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.config import parse_run_config
from mnistlab.execute import run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.run import run_config
from mnistlab.store import RunStore

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))


def test_every_seed_notebook_has_a_recipe() -> None:
    names = {p.stem for p in RECIPES}
    assert {"seed000", "seed001", "seed002", "seed003", "seed004", "fast", "best"} <= names
    assert {"speedrun-mnist", "speedrun-fashion"} <= names


# The best-accuracy recipes' quick runs are tests/test_recipes_best.py's, with their EMA and TTA checked too.
BEST = {"best-mnist", "best-fashion", "best-fashion-candidates"}


@pytest.mark.parametrize("path", [p for p in RECIPES if p.stem not in BEST], ids=lambda p: p.stem)
def test_recipe_runs_quick(path: Path, tmp_path: Path, data_dir: Path) -> None:
    exp = load_experiment(path)
    assert exp.name == path.stem
    if exp.search is not None:  # a study: `mnistlab search` runs it
        from mnistlab.search import run_search

        assert exp.base.get("data", {}).get("subset", 0) == 0  # the recipe itself is full size
        trials = run_search(exp, tmp_path / "store", quick=True, data_dir=data_dir).trials
        assert len(trials) == 4 and all(t.state in ("complete", "pruned") for t in trials), trials
        return
    full = exp.cells()
    assert all(c.config["data"]["subset"] == 0 for c in full)  # the recipe itself is full size
    result = run_experiment(exp, tmp_path / "store", quick=True, data_dir=data_dir)
    quick = exp.cells(quick=True)
    assert len(result.outcomes) == len(quick)
    assert all(o.record.status == "finished" for o in result.outcomes), [o.record.message for o in result.outcomes]
    rows = {r["variant"]: r for r in result.rows}
    assert set(rows) == {v.name for v in exp.variants} | {c.name for c in exp.committees}
    for c in exp.committees:  # a committee across variants: scored over their quick runs
        assert rows[c.name]["committee_acc"] is not None, rows[c.name]
    for v in exp.variants:
        assert rows[v.name]["test_acc"] is not None
        assert (rows[v.name]["committee_acc"] is not None) == (v.committee > 1)


def test_recipe_expectations() -> None:
    """The recipes hold what the notebooks ran (see SEEDS.md)."""
    by = {p.stem: load_experiment(p) for p in RECIPES}
    s0 = by["seed000"].cells()
    assert len(s0) == 9 and {c.config["train"]["epochs"] for c in s0} == {5}
    assert {c.config["dataset"] for c in s0} == {"fashion-mnist"}
    s1 = {c.variant: c for c in by["seed001"].cells()}
    assert {c.config["train"]["epochs"] for c in s1.values()} == {5, 10, 15, 20, 100}
    assert s1["stop-at-loss-0.19"].config["callbacks"][0]["threshold"] == 0.19
    s2 = by["seed002"]
    assert {v.name: v.committee for v in s2.variants}["committee-deep-conv"] == 5
    assert all(c.config["train"]["batch_size"] == 86 and c.config["data"]["validation"] == 10000 for c in s2.cells())
    s3 = by["seed003"].cells()
    assert all(c.config["data"]["validation"] == "test" for c in s3)
    assert {c.config["train"]["lr"] for c in s3} >= {1e-5, 1e-3, 0.1}
    s4 = {c.config["train"]["optimizer"] for c in by["seed004"].cells()}
    assert s4 == {"adam", "nadam", "adagrad", "rmsprop", "sgd"}
    tf2 = {c.variant: c.config["train"] for c in by["seed004"].cells()}["model3-tf2-adagrad"]
    assert (tf2["optimizer"], tf2["initial_accumulator_value"]) == ("adagrad", 0.0)  # tf.keras 2's "adagrad"


def test_cli_runs_a_recipe_quick(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fast = next(p for p in RECIPES if p.stem == "fast")
    assert main(["run", str(fast), "--quick", "--data-dir", str(data_dir)]) == 0
    assert "fast" in capsys.readouterr().out
    assert len(RunStore().runs(experiment="fast", status="finished")) == 1


def test_speedrun_recipes_hold_the_speedrun() -> None:
    """Both speedruns: five seeds of the speedrun model, the plain script's Adam and one-cycle."""
    for name, dataset, epochs in (("speedrun-mnist", "mnist", 1), ("speedrun-fashion", "fashion-mnist", 5)):
        cells = load_experiment(next(p for p in RECIPES if p.stem == name)).cells()
        assert [c.config["train"]["seed"] for c in cells] == [0, 1, 2, 3, 4]
        config = cells[0].config
        assert config["dataset"] == dataset and config["model"]["name"] == "speedrun"
        assert config["model"]["layers"][0] == {"type": "Normalization", "mean": None, "variance": None}
        t = config["train"]
        assert (t["epochs"], t["batch_size"], t["lr"], t["beta_1"], t["beta_2"]) == (epochs, 256, 0.01, 0.7, 0.9)
        assert t["schedule"]["type"] == "onecycle" and t["label_smoothing"] == 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name, gate", [("speedrun-mnist", 0.99), ("speedrun-fashion", 0.91)])
def test_speedrun_recipe_reaches_its_gate(name: str, gate: float, data_dir: Path) -> None:
    """Full size, two of the recipe's five seeds (five take too long even here): mean test accuracy."""
    cells = load_experiment(next(p for p in RECIPES if p.stem == name)).cells()[:2]
    results = [run_config(parse_run_config(c.config), data_dir=data_dir, progress="none") for c in cells]
    accuracies = [r.metrics["test_accuracy"] for r in results]
    assert all(r.status == "finished" for r in results)
    assert sum(accuracies) / len(accuracies) >= gate, accuracies
