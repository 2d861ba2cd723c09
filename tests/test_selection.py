"""`mnistlab runs --where KEY OP VALUE` (selection.py): runs chosen by their settings and metrics, as
MLflow's search_runs filters them; a real store, runs recorded through its own API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import SpecError, SpecWarning
from mnistlab.selection import parse_condition, selected
from mnistlab.store import RunStore

CNN = {"name": "seed000-cnn", "layers": [{"type": "Conv2D", "filters": 32, "kernel_size": [3, 3]}, {"type": "Flatten"},
                                         {"type": "Dense", "units": 10, "activation": "softmax"}]}


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    st = RunStore(tmp_path / "store")
    for variant, model, lr, acc, status in (("a", CNN, 0.001, 0.91, "finished"), ("b", CNN, 1e-2, 0.85, "finished"),
                                           ("c", {"layers": [{"type": "Flatten"}]}, 0.001, 0.95, "interrupted")):
        config = {"dataset": "mnist", "model": model, "train": {"lr": lr, "optimizer": "adam", "use_ema": False}}
        rid = st.start_run(experiment="e", variant=variant, seed=0, member=0, config=config, config_hash=variant)
        st.finish_run(rid, status=status, history=[], metrics={} if acc is None else {"test_accuracy": acc},
                      env={"host": "laptop" if variant == "a" else "labserver", "precision": "bf16"}, files=False)
    return st


def _variants(store: RunStore, *where: str) -> list[str]:
    return [r.variant for r in selected(store.runs(), list(where))]


def test_runs_are_chosen_by_their_settings_and_metrics(store: RunStore) -> None:
    assert _variants(store, "lr=0.001") == ["a", "c"] == _variants(store, "train.lr == 1e-3")  # numbers as numbers
    assert _variants(store, "lr!=0.001") == ["b"]
    assert _variants(store, "test_accuracy>0.9") == ["a"]  # a run without the metric meets no condition on it
    assert _variants(store, "test_accuracy<=0.91", "lr>=0.005") == ["b"]  # every condition
    assert _variants(store, "model=seed000-cnn") == ["a", "b"] and _variants(store, "model=(inline)") == ["c"]
    assert _variants(store, "model.layers[0].filters=32") == ["a", "b"] == _variants(store, "model.layers[-1].units=10")
    assert _variants(store, "status=interrupted") == ["c"] and _variants(store, 'optimizer="adam"') == ["a", "b", "c"]
    # an interrupted run's test score is no result (the table shows none): "test_accuracy>0.9" left it out above
    for written in ("lr=.01", "lr='0.01'", "params.lr=0.01", 'lr = "1e-2"'):  # (helper-205: these found nothing)
        assert _variants(store, written) == ["b"], written
    assert _variants(store, "use_ema=False") == ["a", "b", "c"] == _variants(store, "use_ema=false")
    assert _variants(store, "metrics.test_accuracy>.9") == ["a"]
    # where it ran (helper-227: the runs of one machine in a store of two could not be listed)
    assert _variants(store, "host=labserver") == ["b", "c"] == _variants(store, "env.host=labserver")
    assert _variants(store, "env.precision=bf16", "host!=labserver") == ["a"]
    with pytest.raises(SpecError, match='no run listed has env.hots \\(did you mean "env.host"\\?\\)'):
        _variants(store, "env.hots=laptop")


@pytest.mark.parametrize("where, said", [
    ("lr", "expected KEY=VALUE"),
    ("=0.1", "expected KEY=VALUE"),
    ("lrr=0.1", 'no run listed has lrr (did you mean "lr"?)'),
    ("variant>x", "> compares numbers; variant is 'a' here"),
    ("lr=<0.01", "two operators; write lr<=VALUE"),
    ("tags.keep=1", "a run's tags are chosen with --tag TAG"),
    ("model.layers[1].units=10", 'did you mean "model.layers[2].units"?'),  # (helper-205: the dotted form)
])
def test_where_mistakes_are_one_line(where: str, said: str, store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SpecError, match=None) as exc:
        selected(store.runs(), [where])
    assert said in str(exc.value) and "\n" not in str(exc.value)
    assert main(["runs", "--where", where, "--store", str(store.root)]) == 2
    assert said in capsys.readouterr().err


def test_runs_where_on_the_command_line(store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "-w", "lr=0.01", "--format", "json", "--store", str(store.root)]) == 0
    assert [r["variant"] for r in json.loads(capsys.readouterr().out)] == ["b"]
    assert parse_condition("test_accuracy >= 0.9").op == ">="


def test_a_word_for_a_number_is_refused_and_a_decimal_comma_said(store: RunStore) -> None:
    """Note 52's leftover: `--where lr=0,01` matched nothing, silently."""
    with pytest.raises(SpecError, match=r"lr is a number in every run listed \(such as 0\.001\), and '0,01' is none: "
                                        r"a decimal comma\? write 0\.01"):
        _variants(store, "lr=0,01")
    assert _variants(store, "lr=.001") == ["a", "c"]  # a number still, as written
    assert _variants(store, "lr=none") == [] and _variants(store, "lr!=test") == ["a", "b", "c"]  # (review: refused)


def test_a_word_of_another_case_matches_nothing_and_says_what_would(store: RunStore) -> None:
    with pytest.warns(SpecWarning, match=r"no run has optimizer = 'ADAM', and 3 have 'adam': values compare as written"):
        assert _variants(store, "optimizer=ADAM") == []
