"""Running experiments: nothing trains before every cell is valid, skipping, forcing, jobs, committees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_experiments import TINY, write

from mnistlab.errors import SpecError
from mnistlab.execute import committee_accuracy, run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.store import RunStore


def test_nothing_trains_when_a_later_variant_is_bad(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "ok"\n[[variants]]\n"train.batch_size" = -1\n')
    with pytest.raises(SpecError, match="batch_size"):
        run_experiment(p, tmp_path / "store", data_dir=data_dir)
    assert RunStore(tmp_path / "store").runs() == []


def test_skip_finished_force_and_changed_cells(tmp_path: Path, data_dir: Path) -> None:
    text = TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n'
    p = write(tmp_path, text)
    store = RunStore(tmp_path / "s")
    first = run_experiment(p, store, data_dir=data_dir)
    assert [o.skipped for o in first.outcomes] == [False, False]
    assert all(o.record.status == "finished" for o in first.outcomes)
    again = run_experiment(p, store, data_dir=data_dir)
    assert [o.skipped for o in again.outcomes] == [True, True] and len(store.runs()) == 2
    forced = run_experiment(p, store, data_dir=data_dir, force=True)
    assert [o.skipped for o in forced.outcomes] == [False, False] and len(store.runs()) == 4
    write(tmp_path, text.replace("0.01", "0.02"))
    changed = run_experiment(p, store, data_dir=data_dir)
    assert {o.cell.variant: o.skipped for o in changed.outcomes} == {"a": True, "b": False}
    rows = {r["variant"]: r for r in changed.rows}
    assert rows["a"]["n"] == 1 and rows["b"]["n"] == 1  # only the current cells' latest runs count


def test_committee_accuracy_math() -> None:
    rng = np.random.default_rng(3)
    members = [rng.dirichlet(np.ones(10), size=50).astype(np.float32) for _ in range(4)]
    labels = rng.integers(0, 10, size=50)
    manual = sum(m.astype(np.float64) for m in members) / 4
    assert committee_accuracy(members, labels) == float((manual.argmax(1) == labels).mean())
    # a committee can beat every member: two members, each right on a different half
    a = np.array([[0.9, 0.1], [0.4, 0.6]], np.float32)
    b = np.array([[0.4, 0.6], [0.1, 0.9]], np.float32)
    assert committee_accuracy([a, b], np.array([0, 1])) == 1.0
    assert committee_accuracy([a], np.array([0, 0])) == 0.5


def test_parallel_jobs_record_the_same_results(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\nrepeats = 2\n')
    one = run_experiment(p, tmp_path / "one", data_dir=data_dir)
    two = run_experiment(p, tmp_path / "two", data_dir=data_dir, jobs=2)
    acc = lambda res: sorted((o.cell.seed, o.record.metrics["test_accuracy"]) for o in res.outcomes)  # noqa: E731
    assert acc(one) == acc(two)
    assert all(o.record.status == "finished" for o in two.outcomes)


@pytest.mark.parametrize("status, skipped", [("diverged", True), ("failed", False), ("interrupted", False)])
def test_which_earlier_outcomes_are_reused(tmp_path: Path, data_dir: Path, status: str, skipped: bool) -> None:
    exp = load_experiment(write(tmp_path, TINY))
    cell = exp.cells()[0]
    store = RunStore(tmp_path / "s")
    rid = store.start_run(experiment=exp.name, variant=cell.variant, seed=cell.seed, member=0, config=cell.config,
                          config_hash=cell.key)
    store.finish_run(rid, status=status, history=[], metrics={}, env={})
    res = run_experiment(exp, store, data_dir=data_dir)
    assert res.outcomes[0].skipped is skipped
    assert len(store.runs()) == (1 if skipped else 2)
