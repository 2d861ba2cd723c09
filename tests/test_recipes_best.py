"""The best-accuracy recipes (issue 16): recipes/best-mnist.toml and recipes/best-fashion.toml run end to
end with --quick and record their EMA, their validation choice and their TTA score; the slow gates train
the full recipes and assert the targets their comments state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnistlab.execute import run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.store import RunStore

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("name", ["best-mnist", "best-fashion"])
def test_a_best_recipe_is_chosen_on_validation_and_scored_once_on_test(name: str) -> None:
    exp = load_experiment(RECIPES / f"{name}.toml")
    for cell in exp.cells():
        cfg = cell.config
        assert cfg["data"]["validation"] == 5000 and cfg["data"]["subset"] == 0
        assert cfg["train"]["use_ema"] is True and cfg["evaluate"]["tta"]["shift"] == 1
        swap, early = cfg["callbacks"]
        assert swap == {"type": "SwapEMAWeights", "swap_on_epoch": True}
        assert early["type"] == "EarlyStopping" and early["restore_best_weights"] and early["monitor"] == "val_accuracy"
        assert early["patience"] >= cfg["train"]["epochs"]  # keeps the best epoch; never stops early
    text = (RECIPES / f"{name}.toml").read_text()
    targets = ("99.75%", "99.80%", "99.65%") if name == "best-mnist" else ("95.0%", "95.98%")
    assert all(t in text for t in targets)  # the comments say the targets and the published references


def test_best_mnist_refit_is_best_mnist_on_every_training_image_for_its_chosen_epochs() -> None:
    """recipes/best-mnist-refit.toml is best-mnist less its validation split and the callbacks that
    watch it, for 30 epochs (its comment says where 30 comes from): an edit to best-mnist that the
    refit does not follow fails here."""
    best, refit = (load_experiment(RECIPES / f"{n}.toml").cells() for n in ("best-mnist", "best-mnist-refit"))
    assert len(best) == len(refit) == 5
    for b, r in zip(best, refit, strict=True):
        assert r.config["data"]["validation"] == 0 and r.config["callbacks"] == []
        assert r.config["train"]["epochs"] == 30 and r.seed == b.seed
        strip = ({**c.config, "callbacks": [], "data": {**c.config["data"], "validation": 0, "split_seed": None},
                  "train": {**c.config["train"], "epochs": 30}} for c in (b, r))
        assert next(strip) == next(strip)
    assert "25, 31, 33, 31 and 29" in (RECIPES / "best-mnist-refit.toml").read_text()


# Their quick runs are these (tests/test_recipes.py leaves them out: a wide ResNet's quick run is not cheap).
@pytest.mark.long
@pytest.mark.parametrize("name, runs", [("best-mnist", 2), ("best-fashion", 1)])
def test_a_best_recipe_runs_quick_and_records_ema_and_tta(name: str, runs: int, tmp_path: Path,
                                                           data_dir: Path) -> None:
    exp = load_experiment(RECIPES / f"{name}.toml")
    assert exp.name == name and all(c.config["data"]["subset"] == 0 for c in exp.cells())  # the recipe is full size
    result = run_experiment(exp, tmp_path / "store", quick=True, data_dir=data_dir)
    assert [o.record.status for o in result.outcomes] == ["finished"] * runs, [o.record.message for o in result.outcomes]
    recorded = RunStore(tmp_path / "store").runs(experiment=name, status="finished")
    assert len(recorded) == runs
    for run in recorded:
        assert run.config["train"]["use_ema"] is True
        assert run.config["evaluate"]["tta"] == {"shift": 1, "rotation": 0.0, "flip": False}
        assert run.metrics["tta_views"] == 5 and 0 <= run.metrics["tta_test_accuracy"] <= 1
        assert run.metrics["val_size"] > 0 and run.metrics["validation_is_test"] is False
        assert 0 <= run.metrics["tta_val_accuracy"] <= 1  # whether the TTA pays, read on validation
    rows = {r["variant"]: r for r in result.rows}
    assert set(rows) == {v.name for v in exp.variants} | {c.name for c in exp.committees}
    for v in exp.variants:
        assert rows[v.name]["test_acc"] is not None and rows[v.name]["tta_val_gain"] is not None
        assert (rows[v.name]["committee_acc"] is not None) == (v.committee > 1)


def test_best_fashion_candidates_are_best_fashion_beside_it_with_flips() -> None:
    """recipes/best-fashion-candidates.toml: its "as-recorded" variant trains best-fashion's config
    exactly, and "flip" the same with left-right flips, in training and among its TTA views (so
    best-fashion's quick run above covers both; a wide ResNet's quick run is not cheap). An edit to
    best-fashion it does not follow fails here."""
    (best,) = load_experiment(RECIPES / "best-fashion.toml").cells()
    cells = {c.variant: c for c in load_experiment(RECIPES / "best-fashion-candidates.toml").cells()}
    assert set(cells) == {"as-recorded", "flip"} and all(c.config["data"]["subset"] == 0 for c in cells.values())
    assert cells["as-recorded"].config == best.config and cells["as-recorded"].key == best.key
    flipped = {**best.config, "augment": {**best.config["augment"], "horizontal_flip": True},
               "evaluate": {**best.config["evaluate"], "tta": {**best.config["evaluate"]["tta"], "flip": True}}}
    assert cells["flip"].config == flipped  # (flipped at test time too: the mirrored image among its TTA views)


def _full(name: str, tmp_path: Path, data_dir: Path) -> list:
    exp = load_experiment(RECIPES / f"{name}.toml")
    run_experiment(exp, tmp_path / "store", data_dir=data_dir)
    return RunStore(tmp_path / "store").runs(experiment=name, status="finished")


@pytest.mark.slow
def test_best_mnist_reaches_its_targets(tmp_path: Path, data_dir: Path) -> None:
    """Full size (a GPU run: RECIPE=best-mnist bash bench/gpu_reproduce.sh): members >= 99.75% on average,
    the committee of 5 >= 99.80%."""
    from mnistlab.execute import committee_accuracy
    from mnistlab.run import prepare_data
    from mnistlab.config import parse_run_config

    runs = _full("best-mnist", tmp_path, data_dir)
    assert len(runs) == 5
    assert float(np.mean([r.metrics["test_accuracy"] for r in runs])) >= 0.9975
    store = RunStore(tmp_path / "store")
    labels = prepare_data(parse_run_config(runs[0].config), data_dir).test_y.numpy()
    assert committee_accuracy([store.load_predictions(r.run_id) for r in runs], labels) >= 0.998


@pytest.mark.slow
def test_best_fashion_reaches_its_target(tmp_path: Path, data_dir: Path) -> None:
    """Full size (a GPU run: RECIPE=best-fashion bash bench/gpu_reproduce.sh): >= 95.0% on the test set."""
    (run,) = _full("best-fashion", tmp_path, data_dir)
    assert run.metrics["test_accuracy"] >= 0.95
