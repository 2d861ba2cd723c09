"""Comparison rows: mean +- std and n over repeats, committees, which runs count, csv and markdown."""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_experiments import TINY, write

from mnistlab.cli import main
from mnistlab.comparison import (Comparison, compare, compare_runs, current_runs, display_cells, format_rows, left_out,
                                 only_variants, resolve_experiment)
from mnistlab.config import parse_run_config
from mnistlab.datasets import load_dataset
from mnistlab.errors import PlotError, SpecError, StoreError
from mnistlab.execute import committee_val_accuracy, run_experiment, scored_labels
from mnistlab.experiments import load_experiment
from mnistlab.export import export_model
from mnistlab.summary import summarize
from mnistlab.run import Committee, Run, load_trained, prepare_data
from mnistlab.specs import ModelSpec
from mnistlab.store import RunRecord, RunStore
from mnistlab.views import figure_for

# what compare adds under a table of runs scored on a data.subset's part of the test set
PART_NOTE = ("note: test accuracy here is on part of the test set (20 of mnist's 10,000 test images, the first of "
             "them: data.subset keeps subset // 6), so it is not the figure a full-size run reports on the whole set\n")


def test_committee_and_repeats_in_compare(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "solo"\nrepeats = 3\n'
              '[[variants]]\nname = "team"\ncommittee = 3\n')
    store = RunStore(tmp_path / "s")
    res = run_experiment(p, store, data_dir=data_dir)
    rows = {r["variant"]: r for r in res.rows}
    solo = [r.metrics["test_accuracy"] for r in store.runs() if r.variant == "solo"]
    assert rows["solo"]["n"] == 3
    assert math.isclose(rows["solo"]["test_acc"], statistics.mean(solo))
    assert math.isclose(rows["solo"]["test_acc_std"], statistics.stdev(solo))
    assert rows["solo"]["committee_acc"] is None
    team = [r for r in store.runs() if r.variant == "team"]
    probs = [store.load_predictions(r.run_id) for r in team]
    labels = scored_labels(team[0].config, len(probs[0]), data_dir)
    manual = float((np.mean(probs, axis=0).argmax(1) == labels).mean())
    assert math.isclose(rows["team"]["committee_acc"], manual)
    accs = [r.metrics["test_accuracy"] for r in team]
    assert (rows["team"]["member_acc_min"], rows["team"]["member_acc_max"]) == (min(accs), max(accs))
    assert store.committees("exp")[0].member_ids == [r.run_id for r in team]
    csv_text = format_rows(res.rows, "csv")
    assert csv_text.splitlines()[0].startswith("variant,n,params") and len(csv_text.splitlines()) == 3
    assert "| team |" in format_rows(res.rows, "markdown")
    assert compare(store, "exp") == res.rows


def test_a_committee_across_variants_averages_all_their_runs_and_gets_its_own_row(tmp_path: Path,
                                                                                 data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "solo"\nrepeats = 2\n[[variants]]\nname = "wide"\n'
              '"model.dense" = [16]\n[[committees]]\nname = "mixed"\nvariants = ["wide", "solo"]\n'
              '[[committees]]\nname = "solos"\nvariants = ["solo"]\n')
    store = RunStore(tmp_path / "s")
    res = run_experiment(p, store, data_dir=data_dir)
    runs = store.runs()
    probs = [store.load_predictions(r.run_id) for r in runs]
    labels = scored_labels(runs[0].config, len(probs[0]), data_dir)
    manual = float((np.mean(probs, axis=0).argmax(1) == labels).mean())
    assert [r["variant"] for r in res.rows] == ["solo", "wide", "mixed", "solos"]  # the variants, then by name
    mixed = res.rows[2]
    accs = [r.metrics["test_accuracy"] for r in runs]
    assert math.isclose(mixed["committee_acc"], manual) and mixed["n"] == 3
    assert (mixed["member_acc_min"], mixed["member_acc_max"]) == (min(accs), max(accs))
    assert mixed["params"] is None and mixed["note"] == "committee of solo + wide"
    assert mixed["vs_best"] is None  # its runs are the variants': no second ranking of them
    assert res.rows[3]["params"] == res.rows[0]["params"] and res.rows[3]["n"] == 2
    assert sorted(store.committees("exp")[0].member_ids) == sorted(r.run_id for r in runs)
    assert compare(store, "exp") == res.rows
    picked = only_variants(compare(store, "exp"), ["mixed", "solo"], "exp")  # `compare exp --variant mixed ...`
    assert [r["variant"] for r in picked] == ["solo", "mixed"] and picked[1]["vs_best"] is None  # never ranked
    whole = load_trained(store, "exp", variant="mixed")  # what `mnistlab predict` / `export --variant mixed` use
    assert isinstance(whole, Committee) and sorted(whole.run_ids) == sorted(r.run_id for r in runs)
    assert whole.test_accuracy == mixed["committee_acc"]
    x = load_dataset("mnist", data_dir).test_images[: len(labels)]
    assert float((whole.predict(x).argmax(1) == labels).mean()) == pytest.approx(manual)
    loss, acc = whole.evaluate(x, labels)  # helper-117: a Committee had no evaluate
    assert acc == pytest.approx(manual) and loss == pytest.approx(
        float(-np.log(np.clip(np.mean(probs, axis=0)[np.arange(len(labels)), labels], 1e-12, None)).mean()), rel=1e-4)
    # --quick trains one run of "solo": "mixed" still has two, "solos" has one and is not scored
    quick = run_experiment(p, store, data_dir=data_dir, quick=True)
    exp = load_experiment(p)
    assert [r["variant"] for r in quick.rows] == ["solo", "wide", "mixed"]
    by_file = dict(keys={(c.variant, c.key) for c in exp.cells()}, committees=exp.committee_variants())  # as `compare FILE` reads
    assert compare(store, exp.name, **by_file) == res.rows  # the full runs' rows again
    # deleting a member deletes the committees it was in, and their rows
    assert main_rm(store, next(r.run_id for r in runs if r.variant == "wide"))
    after = compare(store, exp.name, **by_file)
    assert [r["variant"] for r in after] == ["solo", "solos", "mixed"] and after[2]["committee_acc"] is None
    assert after[2]["note"] == "committee of wide + solo: not scored, wide has no run"


def test_a_quick_smoke_committee_leaves_the_full_committees_score(tmp_path: Path, data_dir: Path) -> None:
    for epochs in (1, 2):  # quick cells are the full ones (1 epoch), or other cells (2)
        p = write(tmp_path, TINY.replace("epochs = 1", f"epochs = {epochs}") + '[[variants]]\nname = "team"\n'
                  'committee = 3\n', f"e{epochs}.toml")
        store = RunStore(tmp_path / f"s{epochs}")
        full = run_experiment(p, store, data_dir=data_dir)
        smoke = run_experiment(p, store, data_dir=data_dir, quick=True)  # a committee of 2
        exp = load_experiment(p)
        again = compare(store, exp.name, keys={(c.variant, c.key) for c in exp.cells()})
        assert again[0]["committee_acc"] == full.rows[0]["committee_acc"] is not None
        assert len(store.committees(exp.name)) == 2 and smoke.rows[0]["committee_acc"] is not None
        assert full.rows[0]["committee_members"] == [3] and smoke.rows[0]["committee_members"] == [2]  # who voted


def test_a_committee_is_scored_on_validation_when_its_members_held_out_the_same_images(tmp_path: Path,
                                                                                        data_dir: Path) -> None:
    shared = TINY.replace("subset = 120\n", "subset = 120\nvalidation = 30\nsplit_seed = 7\n")
    p = write(tmp_path, shared + '[[variants]]\nname = "team"\ncommittee = 2\n[[variants]]\nname = "wide"\n'
              '"model.dense" = [16]\n[[committees]]\nname = "mixed"\nvariants = ["team", "wide"]\n')
    store = RunStore(tmp_path / "s")
    rows = {r["variant"]: r for r in run_experiment(p, store, data_dir=data_dir).rows}
    runs = store.runs()
    data = prepare_data(parse_run_config(runs[0].config), data_dir)
    val = [Run.from_store(store, r.run_id).predict(data.val_x.numpy(), preprocess=False) for r in runs]
    manual = float((np.mean(val, axis=0).argmax(1) == data.val_y.numpy()).mean())
    assert len(data.val_y) == 30 and rows["mixed"]["committee_val_acc"] == pytest.approx(manual)
    assert rows["team"]["committee_val_acc"] == pytest.approx(committee_val_accuracy(store, runs[:2], data_dir))
    assert rows["wide"]["committee_val_acc"] is None  # one run: no committee
    assert "committee val" in format_rows(list(rows.values()), "markdown").splitlines()[0]
    # without a fixed split seed each member held out other images (and trained on the others'): none
    q = write(tmp_path, shared.replace("split_seed = 7\n", "") + '[[variants]]\nname = "team"\ncommittee = 2\n',
              "own.toml")
    own = run_experiment(q, RunStore(tmp_path / "own"), data_dir=data_dir).rows[0]
    assert own["committee_acc"] is not None and own["committee_val_acc"] is None


def test_a_committee_across_variants_follows_the_file_after_quick_runs_edits_and_rm(tmp_path: Path,
                                                                                       data_dir: Path) -> None:
    text = (TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "a"\nrepeats = 2\n[[variants]]\n'
            'name = "b"\n"model.dense" = [16]\n[[committees]]\nname = "x"\nvariants = ["a", "b"]\n')  # quick: 1 epoch
    p = write(tmp_path, text)
    store = RunStore(tmp_path / "s")
    full = {r["variant"]: r for r in run_experiment(p, store, data_dir=data_dir).rows}
    run_experiment(p, store, data_dir=data_dir, quick=True)  # a smoke committee of one run of a and one of b
    assert load_trained(store, str(p), variant="x", pick="latest").test_accuracy == full["x"]["committee_acc"]
    assert len(load_trained(store, str(p), variant="x").members) == 3
    # deleting a run of the smoke committee leaves the full one
    quick_only = next(r for r in store.runs() if r.run_id not in full_ids(store, p) and r.variant == "b")
    assert len(store.committees("exp")) == 2
    store.rm([quick_only.run_id])
    assert len(store.committees("exp")) == 1
    rows = {r["variant"]: r for r in compare(store, "exp", keys=keys(p), committees={"x": ("a", "b")})}
    assert rows["x"]["committee_acc"] == full["x"]["committee_acc"]
    # the file now gathers only "a": its old three-run record is not shown as "x" until it is scored again
    write(tmp_path, text.replace('variants = ["a", "b"]', 'variants = ["a"]'))
    exp = load_experiment(p)
    rows = {r["variant"]: r for r in compare(store, "exp", keys=keys(p), committees=exp.committee_variants())}
    assert rows["x"]["committee_acc"] is None and rows["x"]["note"] == "committee of a: not scored yet"
    with pytest.raises(StoreError, match="'x' of 'exp' was not scored on the current runs"):
        load_trained(store, str(p), variant="x")
    rows = {r["variant"]: r for r in run_experiment(p, store, data_dir=data_dir).rows}
    assert rows["x"]["n"] == 2 and rows["x"]["note"] == "committee of a"
    # renamed: the old name's rows go from the file's comparison
    write(tmp_path, text.replace('name = "x"', 'name = "y"'))
    assert {r["variant"] for r in run_experiment(p, store, data_dir=data_dir).rows} == {"a", "b", "y"}
    with pytest.raises(StoreError, match=r"has no committee named 'x' \(its \[\[committees\]\]: y\)"):
        load_trained(store, str(p), variant="x")  # the store still has x's records: by the file, they are stale


def test_two_committees_of_the_same_variants_both_show_by_file_and_by_name(tmp_path: Path, data_dir: Path) -> None:
    text = TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n'
    p = write(tmp_path, text + '[[committees]]\nname = "x"\nvariants = ["a", "b"]\n'
              '[[committees]]\nname = "y"\nvariants = ["b", "a"]\n')
    store = RunStore(tmp_path / "s")
    rows = run_experiment(p, store, data_dir=data_dir).rows
    assert [(r["variant"], r["committee_acc"] is not None) for r in rows] == [("a", False), ("b", False),
                                                                              ("x", True), ("y", True)]
    assert compare(store, "exp") == rows


def test_repeats_with_a_fixed_split_seed_equal_to_one_of_their_seeds_are_one_variant(tmp_path: Path,
                                                                                       data_dir: Path) -> None:
    # split_seed 1 and the repeats' seeds 0 and 1: the resolved configs cannot tell a fixed split seed
    # from one that follows the seed, and comparing by name used to split the variant in two
    fixed = TINY.replace("subset = 120\n", "subset = 120\nvalidation = 20\nsplit_seed = 1\n")
    p = write(tmp_path, fixed + '[[variants]]\nname = "d"\nrepeats = 2\n[[committees]]\nname = "dd"\nvariants = ["d"]\n')
    store = RunStore(tmp_path / "s")
    by_file = run_experiment(p, store, data_dir=data_dir).rows
    by_name = compare(store, "exp")
    assert [(r["variant"], r["n"]) for r in by_name] == [("d", 2), ("dd", 2)] and by_name == by_file
    dd = load_trained(store, "exp", variant="dd")
    assert len(dd.members) == 2
    from mnistlab.card import model_card

    assert "trained with different settings" not in model_card(dd, data_dir=data_dir)  # one setting, two seeds


def test_repeats_whose_normalization_adapted_to_their_own_split_are_one_variant(tmp_path: Path,
                                                                               data_dir: Path) -> None:
    # each seed holds out other validation images, so each run's Normalization adapts other values:
    # the record keeps them (to predict without the data), and comparing by name used to make each
    # seed a setting of its own (n = 1, the newest seed's accuracy shown as the variant's)
    norm = TINY.replace("model = { dense = [8] }", 'model = { layers = ["Normalization", "Flatten", '
                        '{ type = "Dense", units = 10, activation = "softmax" }] }')
    p = write(tmp_path, norm.replace("subset = 120\n", "subset = 120\nvalidation = 30\n")
              + '[[variants]]\nname = "n"\nrepeats = 3\n')
    store = RunStore(tmp_path / "s")
    by_file = run_experiment(p, store, data_dir=data_dir).rows
    means = {r.config["model"]["layers"][0]["mean"] for r in store.runs()}
    assert len(means) == 3 and all(r.config["model"]["layers"][0]["adapted"] for r in store.runs())
    by_name = compare(store, "exp")
    assert [(r["variant"], r["n"]) for r in by_name] == [("n", 3)] and by_name == by_file
    rows = compare_runs(store, [r.run_id for r in store.runs()])  # the runs by id: one setting, three seeds
    assert [(r["variant"], r["n"]) for r in rows] == [("n", 3)]
    again = load_trained(store, "exp", variant="n")  # a recorded model predicts with the values it adapted
    first = again.config["model"]["layers"][0]
    assert first["adapted"] and first["mean"] in means
    assert float(again.model[0].mean.flatten()[0]) == pytest.approx(first["mean"])


def test_by_name_a_variant_keeps_its_runs_on_data_that_moved(tmp_path: Path, data_dir: Path) -> None:
    # two seeds on the user's CSV, the folder moved, a third seed: the same data (the SHA-256 each run
    # recorded), so one variant of n = 3; the moved runs used to drop out, keyed by a path now gone
    ds = load_dataset("mnist", data_dir=data_dir)
    (tmp_path / "a").mkdir()
    rows = [",".join(["label", *(f"pixel{i}" for i in range(784))])]
    rows += [",".join(map(str, [int(y), *x.reshape(-1).tolist()])) for x, y in zip(ds.train_images[:150], ds.train_labels)]
    (tmp_path / "a" / "digits.csv").write_text("\n".join(rows) + "\n")
    text = ('name = "exp"\n[base]\ndataset = "{}"\nmodel = {{ dense = [8] }}\n[base.train]\nepochs = 1\n'
            'batch_size = 50\n[[variants]]\nname = "d"\nrepeats = {}\n')
    p = write(tmp_path, text.format(tmp_path / "a" / "digits.csv", 2))
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    (tmp_path / "a").rename(tmp_path / "b")
    p = write(tmp_path, text.format(tmp_path / "b" / "digits.csv", 3))
    by_file = run_experiment(p, store, data_dir=data_dir)
    assert [o.skipped for o in by_file.outcomes] == [True, True, False]  # the moved data is not new data
    assert [(r["variant"], r["n"]) for r in compare(store, "exp")] == [("d", 3)]
    assert [(r["variant"], r["n"]) for r in compare_runs(store, [r.run_id for r in store.runs()])] == [("d", 3)]
    (tmp_path / "b" / "digits.csv").write_text("\n".join(rows[:121]) + "\n")  # edited: other data, another row
    run_experiment(p, store, data_dir=data_dir)
    assert [(r["variant"], r["n"]) for r in compare(store, "exp")] == [("d", 3)]  # the newest data's three
    labels = sorted(r["variant"] for r in compare_runs(store, [r.run_id for r in store.runs()]))
    assert len(labels) == 2 and all(label.startswith("d (") for label in labels), labels


def test_a_committee_whose_member_diverged_gets_a_row_saying_so(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "ok"\n[[variants]]\nname = "boom"\n"train.lr" = 100.0\n'
              '[[committees]]\nname = "mix"\nvariants = ["ok", "boom"]\n')
    store = RunStore(tmp_path / "s")
    rows = {r["variant"]: r for r in run_experiment(p, store, data_dir=data_dir).rows}
    assert store.get(next(r.run_id for r in store.runs() if r.variant == "boom")).status == "diverged"
    assert rows["mix"]["note"] == "committee of ok + boom: not scored, 1 of 2 runs finished"
    assert rows["mix"]["committee_acc"] is None
    with pytest.raises(StoreError, match="'mix' of 'exp' was not scored on the current runs"):
        load_trained(store, str(p), variant="mix")
    write(tmp_path, (TINY + '[[variants]]\nname = "ok"\n[[variants]]\nname = "boom"\n"train.lr" = 100.0\n'))
    with pytest.raises(StoreError, match="has no finished run of variant 'mix'; variants: ok"):  # gone from the file
        load_trained(store, str(p), variant="mix")


def full_ids(store: RunStore, p: Path) -> set[str]:
    return {r.run_id for r in store.runs() if (r.variant, r.config_hash) in keys(p)}


def keys(p: Path) -> set[tuple[str, str]]:
    return {(c.variant, c.key) for c in load_experiment(p).cells()}


def test_a_committee_of_different_networks_exports_and_has_a_card_for_each(tmp_path: Path, data_dir: Path) -> None:
    from mnistlab.card import model_card

    p = write(tmp_path, TINY + '[[variants]]\nname = "small"\n[[variants]]\nname = "wide"\n"model.dense" = [16]\n'
              '[[committees]]\nname = "both"\nvariants = ["small", "wide"]\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    both = load_trained(store, "exp", variant="both")
    with pytest.raises(StoreError, match="variants: small, wide; committees: both$"):
        load_trained(store, "exp")
    for suffix in ("safetensors", "onnx"):  # safetensors rebuilds each member from its own spec, and is checked
        check = export_model(both, tmp_path / f"m.{suffix}", data_dir=data_dir)
        assert check is not None and check.passed, check
    card = model_card(both, data_dir=data_dir)
    assert "## Model 1 of 2: variant small (1 member)" in card and "## Model 2 of 2: variant wide" in card
    small, wide = (summarize(ModelSpec.from_dict(m.config["model"])).total for m in both.members)
    assert f"The committee holds **{small + wide:,} parameters** in all (1 x {small:,} + 1 x {wide:,})." in card
    # its own name first (new-user finding, helper-99: the committee's name was nowhere), then its networks,
    # inline models named by their variants
    assert card.startswith("# Model card: both, the committee of 2 (small + wide) on "), card.splitlines()[0]
    p2 = write(tmp_path, TINY + '[[variants]]\nname = "slow"\n[[variants]]\nname = "fast"\n"train.lr" = 0.01\n'
               '[[committees]]\nname = "mix"\nvariants = ["slow", "fast"]\n', "one-network.toml")
    run_experiment(p2, store, data_dir=data_dir)  # one network, two settings: named too (helper-130)
    mix = model_card(load_trained(store, str(p2), variant="mix"), data_dir=data_dir).splitlines()[0]
    assert mix.startswith("# Model card: mix, the committee of 2 ("), mix
    cm = np.asarray(figure_for("confusion", store, "exp", variant="both", data_dir=data_dir).axes[0].images[0].get_array())
    assert np.trace(cm) / cm.sum() == pytest.approx(both.test_accuracy)  # the committee's outputs, not a member's
    assert both.test_accuracy not in [m.test_accuracy for m in both.members]  # (so a member's would fail this test)
    assert "committee of 2" in card and "trained with different settings" not in card  # only the model differs
    for m in both.run_ids:  # a committee's figures read its members' stored predictions, not their weights
        (store.artifact_dir(m) / "weights.safetensors").unlink()
    again = figure_for("confusion", store, "exp", variant="both", data_dir=data_dir).axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(again), cm)


def test_a_committees_card_says_each_members_precision_and_epoch_time(tmp_path: Path, data_dir: Path) -> None:
    """helper-119: a committee across variants, half trained in bf16, was carded as float32 (its
    first member's), with the first member's seconds per epoch."""
    from mnistlab.card import model_card

    p = write(tmp_path, TINY + '[[variants]]\nname = "full"\n[[variants]]\nname = "half"\n"train.precision" = "bf16"\n'
              '"model.dense" = [64, 64]\n[[committees]]\nname = "both"\nvariants = ["full", "half"]\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir, progress="none")
    both = load_trained(store, "exp", variant="both")
    assert [m.env["precision"] for m in both.members] == ["float32", "bf16"]
    card = model_card(both, data_dir=data_dir)
    assert "| precision | float32 (1 member), bf16 (1 member) |" in card  # the environment's row
    spe = sorted(m.metrics["seconds_per_epoch"] for m in both.members)
    assert f"s over 2 members ({spe[0]:.2f} to {spe[1]:.2f} s per epoch)" in card or f"{spe[0]:.2f} s per epoch" in card


def test_an_experiment_whose_runs_all_diverged_has_no_model_and_no_yet(tmp_path: Path, data_dir: Path) -> None:
    """helper-119: "has no finished runs yet (its runs are: diverged)": no rerun brings one."""
    p = write(tmp_path, TINY + '[[variants]]\nname = "boom"\n"train.lr" = 100.0\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir, progress="none")
    with pytest.raises(StoreError, match=r"^experiment 'exp' has no finished runs \(its runs are: diverged\); a "
                                         r"diverged run's weights are no model to use: `mnistlab show RUN_ID`"):
        load_trained(store, "exp")


def main_rm(store: RunStore, run_id: str) -> bool:
    return store.rm([run_id]).run_ids == [run_id]


def test_compare_never_mixes_smoke_runs_or_older_versions(tmp_path: Path, data_dir: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "a"\nrepeats = 2\n'
    p = write(tmp_path, text)
    store = RunStore(tmp_path / "s")
    full = run_experiment(p, store, data_dir=data_dir)
    run_experiment(p, store, data_dir=data_dir, quick=True)  # a smoke run of the same variant
    exp = load_experiment(p)
    by_file = compare(store, exp.name, keys={(c.variant, c.key) for c in exp.cells()})
    assert by_file[0]["n"] == 2 and by_file[0]["test_acc"] == pytest.approx(full.rows[0]["test_acc"])
    by_name = compare(store, exp.name)  # by name: the variant as it was last run at full size, not the smoke run
    assert by_name == full.rows
    smoke = next(r for r in store.runs() if (r.variant, r.config_hash) not in keys(p))
    picked = load_trained(store, exp.name, pick="latest")  # what predict, export and card use by name
    assert picked.run_id != smoke.run_id and picked.run_id in full_ids(store, p)
    write(tmp_path, text.replace('"a"\nrepeats = 2', '"a"\nrepeats = 2\n"train.lr" = 0.01'))
    edited = run_experiment(p, store, data_dir=data_dir)
    run_experiment(p, store, data_dir=data_dir, quick=True)
    by_name = compare(store, exp.name)
    assert by_name[0]["n"] == 2 and by_name[0]["test_acc"] == pytest.approx(edited.rows[0]["test_acc"])
    # a variant with nothing but a smoke run shows it: it is all there is
    write(tmp_path, text + '[[variants]]\nname = "new"\n"train.lr" = 0.1\n')
    only_smoke = run_experiment(p, store, data_dir=data_dir, quick=True).rows[1]
    by_name = compare(store, exp.name)
    settings = lambda row: {k: v for k, v in row.items() if k != "settings"}  # noqa: E731 (what the rows beside it
    # set differently: the smoke table's rows differ in lr alone, this table's in epochs too)
    assert [r["variant"] for r in by_name] == ["a", "new"] and settings(by_name[1]) == settings(only_smoke)
    assert by_name[1]["settings"] == {"train.epochs": 1, "train.lr": 0.1}
    assert by_name[1]["epochs"] == 1 and by_name[0]["epochs"] == 2
    # what by name leaves out is counted, and compare says so: a's 2 runs at lr 0.001 and its 2 smoke runs
    assert left_out(store.runs(experiment=exp.name)) == 4
    from mnistlab.cli import main

    capsys.readouterr()
    assert main(["compare", exp.name, "--store", str(store.root)]) == 0
    smoke = ("smoke runs, the size of a --quick check (1 epoch, at most 300 training images): their accuracies say "
             "nothing of a full-size run's\n")
    assert capsys.readouterr().err == (f"note: the runs of new are {smoke}"  # the row that is one, named
                                       f"note: 4 runs of other settings not shown (an older version of a variant or "
                                       f"of its data, a repeat or member its file no longer asks for, `mnistlab train` "
                                       f"runs of one model with other flags, or --quick "
                                       f"smoke runs): `mnistlab runs -e {exp.name} --store {store.root}` lists every "
                                       "run, `mnistlab compare RUN_ID RUN_ID ...` compares chosen ones\n" + PART_NOTE)
    a_runs = [r for r in store.runs(experiment=exp.name) if r.variant == "a"]  # helper-146: a's runs of both sizes
    full, small = (next(r for r in a_runs if r.config["train"]["epochs"] == epochs) for epochs in (2, 1))
    assert main(["compare", full.run_id, small.run_id, "--store", str(store.root)]) == 0
    assert capsys.readouterr().err.startswith("note: the runs of a (epochs=1) are smoke runs, the size of a --quick "
                                              "check (1 epoch, at most 300 training images)")  # named as its row
    from mnistlab.report import build_report

    page = build_report(store, exp.name, data_dir=data_dir)
    assert "4 runs of other settings not shown" in page  # the report says it too (it hid them without a word)
    assert main(["compare", str(p), "--store", str(store.root)]) == 0  # by file: its cells, and the one never trained
    assert capsys.readouterr().err == ('note: variant "new" has no run of its current cells (never trained, or its '
                                       f"settings or data changed since): `mnistlab run {p} --store {store.root}` "
                                       "trains it\n" + PART_NOTE)
    chosen = [only_smoke["run_ids"][0], edited.rows[0]["run_ids"][0]]  # one of each
    for args, said in (([str(p), "--quick"], "these are"), (chosen, "the runs of new are")):
        assert main(["compare", *args, "--store", str(store.root), "--format", "csv"]) == 0
        out, err = capsys.readouterr()
        # on part of the test set, said of chosen runs and (helper-140: as `compare NAME` says it) of a smoke check's
        assert err == f"note: {said} {smoke}" + PART_NOTE and out.startswith("variant,")  # the csv is left a csv


def test_compare_during_a_sweep_says_what_is_training_and_what_may_be_queued(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A sweep in flight: a variant short of its runs says how many more are training, one training
    its first says so (not "never trained"), and one not reached yet may be queued."""
    from mnistlab.cli import main

    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "a"\n'
              '[[variants]]\nname = "b"\nrepeats = 2\n"train.lr" = 0.01\n[[variants]]\nname = "c"\n"train.lr" = 0.1\n'
              '[[variants]]\nname = "d"\nrepeats = 2\n"train.lr" = 0.003\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir, progress="none")
    cells = {(c.variant, c.repeat): c for c in load_experiment(p).cells()}
    b1, c0, d1 = [next(r for r in store.runs() if (r.variant, r.config_hash) == (v, cells[v, i].key)) for v, i in
                  (("b", 1), ("c", 0), ("d", 1))]
    store.rm([b1.run_id, c0.run_id, d1.run_id])

    def start(variant: str, repeat: int) -> str:  # a live process (this one) training the cell
        cell = cells[variant, repeat]
        return store.start_run(experiment=cell.experiment, variant=variant, seed=cell.seed, member=0,
                               config=cell.config, config_hash=cell.key, repeat=repeat)

    def compare_cli(*args: str) -> tuple[dict[str, tuple[int, str | None]], str]:
        assert main(["compare", *args, "--store", str(store.root), "--format", "json"]) == 0
        out, err = capsys.readouterr()
        return {r["variant"]: (r["n"], r["note"]) for r in json.loads(out)}, err

    training = start("b", 1)
    flag = f" --store {store.root}"  # (not the default store: every hint to copy says it)
    out, err = compare_cli(str(p))
    assert out == {"a": (1, None), "b": (1, "1 more run training now"), "d": (1, (
        f"1 of its 2 runs not recorded: the sweep training now may reach it, else `mnistlab run {p}{flag}` trains it"))}
    assert err == (f'note: variant "c" has no run of its current cells yet: the sweep training now may reach it '
                   f"(`mnistlab watch {p}{flag}` follows it), else `mnistlab run {p}{flag}` trains it\n" + PART_NOTE)
    rows = compare(store, "exp")
    start("c", 0)
    out, err = compare_cli(str(p))
    assert err == f'note: variant "c" is training now (1 run): `mnistlab watch {p}{flag}` follows it\n' + PART_NOTE
    out, err = compare_cli("exp")  # by name
    assert err == f'note: 1 run of "c" training now, not in the table yet: `mnistlab watch exp{flag}` follows it\n' + PART_NOTE
    assert [r["variant"] for r in rows] == ["a", "b", "d"] and rows[1]["n"] == 1
    for run_id in (training, *(r.run_id for r in store.runs() if r.status == "running")):
        store.finish_run(run_id, status="interrupted", history=[], metrics={}, env={}, message="stopped")
    out, err = compare_cli(str(p))  # the sweep stopped: nothing training
    assert (out["a"], out["c"][0]) == ((1, None), 0) and err == PART_NOTE
    # helper-123; helper-129: not "continues" one with no checkpoint; helper-140: short, it widens the variant column
    assert out["b"] == (1, "1 interrupted, no result yet: run it again to train it on")
    assert main(["compare", str(p), "--store", str(store.root), "--format", "json"]) == 0
    [b] = [r for r in json.loads(capsys.readouterr().out) if r["variant"] == "b"]
    assert b["failed"] == 0 and len(b["run_ids"]) == 1 and store.get(b["run_ids"][0]).status == "finished"
    assert out["d"] == (1, f"1 of its 2 runs not recorded: `mnistlab run {p}{flag}` trains it")  # nothing running: missing
    assert str(out["c"][1]).startswith("no result: 1 interrupted")


def test_runs_own_table_says_it_scored_part_of_the_test_set_as_compares_does(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mnistlab run` printed its table without the note `compare` puts under the same table (and,
    helper-146, of --quick's smoke runs, as `compare --quick` says it)."""
    from mnistlab.cli import main

    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "a"\n')  # not smoke-sized
    args = ["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(args) == 0
    assert capsys.readouterr().err.endswith(PART_NOTE)
    assert main([*args, "--format", "markdown"]) == 0  # the cell is done: its table again, the note in the page
    out, err = capsys.readouterr()
    assert out.startswith("| variant |") and out.endswith(f"\n\nNote: {PART_NOTE.removeprefix('note: ')}")
    assert main([*args, "--quick"]) == 0
    assert "on part of the test set (20 of mnist's 10,000 test images" in capsys.readouterr().err


def test_a_markdown_page_of_smoke_runs_says_so_above_its_table(tmp_path: Path, data_dir: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """New-user finding (35): `compare --format markdown > page.md` of smoke-sized runs left the note
    saying so on stderr: the page showed their accuracies unmarked."""
    from mnistlab.cli import main

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--format", "markdown"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Note: these are smoke runs, the size of a --quick check") and err == "", err
    assert out.splitlines()[2].startswith("| variant |")
    assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("variant,") and err.startswith("note: these are smoke runs")  # a csv stays a csv


def test_csv_and_json_rows_carry_what_the_notes_say(tmp_path: Path, data_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """helper-154: a program reading `compare --format csv|json` saw 0.58 with nothing saying it was
    of 20 test images, of a smoke run, or chosen on the test set: only stderr's notes said so. Each
    row has test_images, smoke and chosen_on_test; the report's table leaves them to its notes."""
    from mnistlab.cli import main

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "t"\ndata = { validation = "test" }\n'
              'callbacks = [{ type = "EarlyStopping", monitor = "val_loss" }]\n')
    args = ["compare", str(p), "--store", str(tmp_path / "s")]
    run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    assert main([*args, "--format", "json"]) == 0
    rows = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}
    assert [(rows[v]["test_images"], rows[v]["smoke"], rows[v]["chosen_on_test"]) for v in "at"] == [
        (20, True, False), (20, True, True)]  # subset 120 keeps 20 test images; 1 epoch of 120 images: smoke size
    assert main([*args, "--format", "csv"]) == 0
    head, first = capsys.readouterr().out.splitlines()[:2]
    assert head.endswith(",test_images,smoke,chosen_on_test,test_set,settings,tta_test_acc_std,tta_n,val_is_test")
    assert first.startswith("a,")
    assert ",20,true,false,mnist (20 test images)," in first  # what the runs were scored on (helper-216)
    assert [json.loads(next(csv.reader([line]))[-4]) for line in (first,)] == [rows["a"]["settings"]]
    assert rows["a"]["settings"] != rows["t"]["settings"] and set(rows["a"]["settings"]) == set(rows["t"]["settings"])
    assert main(args) == 0 and "settings" not in capsys.readouterr().out  # the table names its rows by variant
    heads, cells = display_cells([rows[v] for v in "at"])  # its val acc is a test figure (helper-258: unmarked)
    val = heads.index("val acc")
    assert cells[1][val].endswith("% (test)") and not cells[0][val].endswith("(test)") and rows["t"]["val_is_test"]
    for variant, said in (("t", True), ("a", False)):  # `show` of a run the test set chose (helper-258: it said none)
        assert main(["show", rows[variant]["run_ids"][0], "--store", str(tmp_path / "s")]) == 0
        assert ('note: "t" (EarlyStopping) validates on the test set' in capsys.readouterr().out) is said
    from mnistlab.report import write_report

    page = write_report(RunStore(tmp_path / "s"), str(p), tmp_path / "r.html").read_text()
    assert "chosen_on_test" not in page and ">smoke<" not in page


def test_compare_and_from_store_take_a_folder_and_compare_takes_run_ids(tmp_path: Path, data_dir: Path) -> None:
    """helper-157: from Python, compare("store", name) and Run.from_store("store", id) failed deep
    inside ("'str' object has no attribute ..."), and a list of ids read as a damaged store; both
    take a folder, and compare a list of run ids as `mnistlab compare ID ID` does."""
    from mnistlab import Run, compare
    from mnistlab.errors import NotRecorded

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    result = run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    ids = [o.record.run_id for o in result.outcomes]
    assert [r["variant"] for r in compare(str(tmp_path / "s"), result.experiment.name)] == ["a", "b"]
    assert [r["variant"] for r in compare(tmp_path / "s", p)] == ["a", "b"]  # the file's path (review: a TypeError)
    rows = compare(tmp_path / "s", ids[::-1])
    assert [(r["variant"], r["run_ids"]) for r in rows] == [("b", [ids[1]]), ("a", [ids[0]])]
    assert Run.from_store(str(tmp_path / "s"), ids[0]).run_id == ids[0]
    with pytest.raises(NotRecorded, match="no run store at"):
        compare(tmp_path / "nowhere", "exp")
    with pytest.raises(StoreError, match=rf'no runs of experiment "nosuch" in .*; experiments: {result.experiment.name} '
                                         r"\(2 runs\)$"):  # what there is (helper-182: the name alone)
        compare(tmp_path / "s", "nosuch")
    for nothing in (None, []):  # helper-237: a bare TypeError, and "the 0 chosen runs are still running"
        with pytest.raises(StoreError, match=r"^compare: (give an experiment|no run ids given)"):
            compare(tmp_path / "s", nothing)  # type: ignore[arg-type]
    from mnistlab.views import figure_for

    figure = figure_for("confusion", str(tmp_path / "s"), ids[0])  # a folder, as compare takes (helper-237)
    assert figure.axes  # (before: AttributeError: 'str' object has no attribute 'experiments')


def test_a_markdown_pages_notes_keep_html_in_a_variants_name_as_text(tmp_path: Path, data_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """helper-158: the cells were escaped, the notes under them not: a variant named <img ...> was
    live HTML in the page's "Note: variants ... train the same config"."""
    from mnistlab.cli import main

    p = write(tmp_path, TINY + '[[variants]]\nname = "<img src=x onerror=alert(1)>"\n[[variants]]\nname = "b & c"\n')
    run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--format", "markdown"]) == 0
    page = capsys.readouterr().out
    assert 'Note: variants "&lt;img src=x onerror=alert(1)&gt;" and "b &amp; c" train the same config' in page
    assert "<img" not in page


def test_a_markdown_table_keeps_the_key_to_its_best_marks(tmp_path: Path, data_dir: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """New-user finding: pasted into a page, `best` and `~best` had no key (the table format has it),
    and the notes under it (part of the test set) went to stderr, not into the page."""
    from mnistlab.cli import main

    p = write(tmp_path, "repeats = 2\n" + TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "a"\n'
              '[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir)
    for fmt in ("table", "markdown"):
        assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--format", fmt]) == 0
        out, err = capsys.readouterr()
        page = out.rstrip().split("\n\nNote: ")  # markdown: the notes below the table and its key, in the page
        assert " best" in out and page[0].splitlines()[-1].startswith("best: the highest mean test accuracy")
        assert (page[1:], err) == (([PART_NOTE.removeprefix("note: ").rstrip()], "") if fmt == "markdown"
                                   else ([], PART_NOTE))  # a table on a terminal: on stderr, beside it
    assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--format", "csv"]) == 0
    assert "best: the highest" not in capsys.readouterr().out  # a csv stays a csv
    # helper-244: a paper's table: LaTeX (booktabs), "±" in Markdown, the key and notes as % comments
    assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--format", "markdown"]) == 0
    page = capsys.readouterr().out
    assert " ± " in page and " +- " not in page.split("\n\n")[0]
    assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--format", "latex"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[:3] == ["% mnistlab compare: needs \\usepackage{booktabs}", "\\begin{tabular}{lrrrrrrr}", "\\toprule"]
    body = lines[lines.index("\\midrule") + 1:lines.index("\\bottomrule")]
    assert len(body) == 2 and all(row.endswith(" \\\\") and row.count(" & ") == 7 for row in body), body
    assert "\\% $\\pm$ " in body[0] and ("best" in body[0] or "best" in body[1]) and "textasciitilde" not in out
    comments = lines[lines.index("\\end{tabular}") + 1:]
    assert comments[0].startswith("% best: the highest") and comments[-1] == "% " + PART_NOTE.rstrip() and not err


@pytest.mark.timeout(60)  # the bug blocked for ever: then this fails, the suite goes on
def test_a_fifo_given_as_the_experiment_is_refused_not_waited_on(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Hostile-input review: compare, rm -e, report, plot ... blocked forever reading a FIFO."""
    import os

    RunStore(tmp_path / "s").close()
    os.mkfifo(tmp_path / "f.toml")
    for args in (["compare"], ["rm", "-e"], ["report", "-o", str(tmp_path / "r.html")], ["search-best"]):
        assert main([*args, str(tmp_path / "f.toml"), "--store", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert "not a regular file" in err and err.count("\n") == 1, err


def test_a_variant_entry_with_a_grid_of_its_own_names_all_its_variants(tmp_path: Path) -> None:
    """Hostile-input review: `--variant pen` for a [[variants]] entry "pen" with its own grid said
    no variant was named so, listing names that held commas."""
    from mnistlab.cli._common import variant_configs

    rows = [{"variant": v, "test_acc": a, "test_acc_std": 0.01, "n": 3}
            for v, a in (("plain", 0.9), ("pen,l2=0.001", 0.95), ("pen,l2=0.01", 0.93), ("pent", 0.5))]
    picked = only_variants([dict(r) for r in rows], ["pen"], "e")
    assert [r["variant"] for r in picked] == ["pen,l2=0.001", "pen,l2=0.01"] and picked[0]["vs_best"] == "best"
    assert [r["variant"] for r in only_variants([dict(r) for r in rows], ["pen,l2=0.01", "plain"], "e")] == [
        "plain", "pen,l2=0.01"]
    with pytest.raises(StoreError, match='has no row "pe" to compare'):
        only_variants([dict(r) for r in rows], ["pe"], "e")
    p = write(tmp_path, TINY + '[[variants]]\nname = "plain"\n[[variants]]\nname = "pen"\n'
              '[variants.grid]\n"train.lr" = [0.01, 0.1]\n')
    assert sorted(variant_configs(p, "pen")) == ["pen,lr=0.01", "pen,lr=0.1"]
    assert list(variant_configs(p, "plain")) == ["plain"]
    with pytest.raises(SpecError, match='no variant is named "pe"'):
        variant_configs(p, "pe")


def test_plot_history_of_a_grid_entry_draws_every_variant_it_expands_into(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "plain"\n[[variants]]\n'
              'name = "pen"\n[variants.grid]\n"train.lr" = [0.01, 0.1]\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    fig = figure_for("history", store, "exp", variant="pen")
    labels = {t.get_text() for t in fig.axes[-1].get_legend().get_texts()}  # one legend, beside the panels
    assert "committee" not in fig._suptitle.get_text(), fig._suptitle.get_text()  # a grid entry's runs (helper-131)
    assert {"pen,lr=0.01 train", "pen,lr=0.1 train"} <= labels and not any(t.startswith("plain") for t in labels)
    with pytest.raises(StoreError):
        figure_for("history", store, "exp", variant="pe")


def _run(run_id: str, variant: str, key: str, started: float, acc: float, status: str = "finished") -> RunRecord:
    return RunRecord(run_id, "e", variant, 0, 0, {}, key, status, metrics={"test_accuracy": acc, "params": 10},
                     created_at=started)


def test_runs_added_in_any_order_give_the_rows_of_the_store_order() -> None:
    runs = [_run("r1", "a", "k1", 1.0, 0.5), _run("r2", "b", "k2", 2.0, 0.6), _run("r3", "a", "k3", 3.0, 0.7),
            _run("r4", "a", "k1", 4.0, 0.9), _run("r5", "b", "k4", 5.0, 0.1, status="running")]
    keys = {("a", "k1"), ("b", "k2"), ("a", "k3"), ("b", "k4")}
    whole = Comparison(runs, [], keys=keys).rows()
    assert [r["variant"] for r in whole] == ["a", "b"] and [r["n"] for r in whole] == [2, 1]
    assert whole[0]["test_acc"] == pytest.approx(0.8)  # k1's latest run (r4) and k3's
    live = Comparison([], [], keys=keys)
    for r in (runs[2], runs[1], runs[3], runs[0], runs[4]):  # as parallel jobs might finish
        rows = live.add(r)
    assert rows == whole
    assert Comparison(runs, [], keys={("b", "k2")}).rows() == [whole[1]]
    assert Comparison(runs, [], keys={("x", "k2")}).rows() == []  # a cell is its variant and its key


def test_a_failed_rerun_never_hides_the_result_already_recorded() -> None:
    done = _run("r1", "a", "k1", 1.0, 0.58)
    rerun = _run("r2", "a", "k1", 2.0, 0.0, status="failed")  # `run --force`, and the rerun fails
    rerun.metrics = {}
    for order in ([done, rerun], [rerun, done]):  # in either order of reading
        [row] = Comparison(order, [], keys={("a", "k1")}).rows()
        assert row["n"] == 1 and row["test_acc"] == pytest.approx(0.58) and row["failed"] == 0
    later = _run("r3", "a", "k1", 3.0, 0.61)  # a rerun that finishes replaces it
    assert Comparison([done, rerun, later], [], keys={("a", "k1")}).rows()[0]["test_acc"] == pytest.approx(0.61)
    [only] = Comparison([rerun], [], keys={("a", "k1")}).rows()  # nothing but the failure: it shows, saying so
    assert only["n"] == 0 and only["failed"] == 1 and only["note"] == "no result: 1 failed; `mnistlab show r2` says why"
    for r in (done, rerun, later):  # by name (no file): current_runs chooses the same run
        r.config = {"dataset": "mnist", "train": {"epochs": 3}}
    assert current_runs([done, rerun]) == [done] and current_runs([done, rerun, later]) == [later]
    assert current_runs([rerun]) == [rerun]


def test_by_name_and_in_the_report_a_failed_rerun_leaves_the_result(tmp_path: Path, data_dir: Path) -> None:
    from mnistlab import report

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    store = RunStore(tmp_path / "s")
    [row] = run_experiment(p, store, data_dir=data_dir).rows
    [done] = store.runs()
    failed = store.start_run(experiment="exp", variant="a", seed=done.seed, member=0, config=done.config,
                             config_hash=done.config_hash)  # a --force rerun of the cell, which then fails
    store.finish_run(failed, status="failed", history=[], metrics={}, env={}, message="RuntimeError: boom")
    for target in ("exp", str(p)):
        [again] = compare(store, "exp") if target == "exp" else compare(store, "exp", keys=keys(p))
        assert again["n"] == 1 and again["test_acc"] == pytest.approx(row["test_acc"]) and again["failed"] == 0
        text = report.build_report(store, target, data_dir=data_dir)
        assert f"run {done.run_id}" in text and "RuntimeError: boom" not in text  # (a bare "boom" may be in base64)


def test_by_name_a_variant_whose_only_run_is_damaged_keeps_a_row_saying_so(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    from mnistlab.cli import main

    store = RunStore(tmp_path / "s")
    config = {"dataset": "mnist", "model": {"dense": [8]}, "train": {"epochs": 1}}
    ids = {}
    for variant in ("a", "b", "c"):
        ids[variant] = store.start_run(experiment="e", variant=variant, seed=0, member=0, config=config,
                                       config_hash=variant)
        store.finish_run(ids[variant], status="finished", history=[], metrics={"test_accuracy": 0.9}, env={})
    again = store.start_run(experiment="e", variant="c", seed=1, member=0, config=config, config_hash="c2")
    with sqlite3.connect(store.db_path) as con:  # b's only run, and one of c's two, damaged
        con.executemany("UPDATE runs SET config = '{broken' WHERE run_id = ?", [(ids["b"],), (again,)])
    rows = {r["variant"]: r for r in compare(store, "e")}
    assert rows["b"]["n"] == 0 and rows["b"]["failed"] == 1
    assert rows["b"]["note"] == f"no result: 1 failed; `mnistlab show {ids['b']}` says why"
    assert rows["c"]["n"] == 1 and rows["c"]["failed"] == 0 and rows["c"]["note"] is None  # c has a readable run
    assert main(["compare", "e", "--store", str(store.root)]) == 0
    assert f"b (no result: 1 failed; `mnistlab show {ids['b']}` says why)" in " ".join(capsys.readouterr().out.split())


def test_epochs_read_as_a_count_unless_early_stopping_made_the_runs_differ() -> None:
    runs = [_run("r1", "a", "k1", 1.0, 0.5), _run("r2", "a", "k2", 2.0, 0.6), _run("r3", "b", "k3", 3.0, 0.7),
            _run("r4", "b", "k4", 4.0, 0.8)]
    for r, epochs in zip(runs, (30, 30, 12, 17)):
        r.metrics["epochs_run"] = epochs
    rows = Comparison(runs, [], keys={("a", "k1"), ("a", "k2"), ("b", "k3"), ("b", "k4")}).rows()
    assert [r["epochs"] for r in rows] == [30, 14.5] and isinstance(rows[0]["epochs"], int)
    assert [line.split(",")[3] for line in format_rows(rows, "csv").splitlines()] == ["epochs", "30", "14.5"]
    assert '"epochs": 30,' in format_rows(rows, "json")


def test_markdown_escapes_a_pipe_in_a_variants_name() -> None:
    """helper-129: a variant named `x|y,z "q"` made a 9-cell row under an 8-column header."""
    row = {"variant": 'x|y,z "q"', "n": 1, "test_acc": 0.9, "params": 10, "epochs": 1}
    head, rule, line = format_rows([row], "markdown").splitlines()
    assert line.replace("\\|", "").count("|") == head.count("|") and "x\\|y,z" in line
    row["variant"] = "<img src=x onerror=alert(1)> *b* _i_ `c` [l](u)"  # helper-154: live HTML, a bold rest of page
    line = format_rows([row], "markdown").splitlines()[2]
    assert line.startswith("| &lt;img src=x onerror=alert(1)&gt; \\*b\\* \\_i\\_ \\`c\\` \\[l\\](u) |"), line


def test_a_committee_variant_shows_its_committees_spread_and_count() -> None:
    from mnistlab.comparison import display_cells
    from mnistlab.store import CommitteeRecord

    runs = []
    for i, (repeat, member, acc) in enumerate([(0, 0, 0.9), (0, 1, 0.91), (1, 0, 0.92), (1, 1, 0.93)]):
        r = _run(f"r{i}", "team", f"k{i}", float(i), acc)
        r.member, r.repeat = member, repeat
        runs.append(r)
    comms = [CommitteeRecord("e", "team", 0, 0.93, ["r0", "r1"], [0.9, 0.91], 10.0),
             CommitteeRecord("e", "team", 1, 0.96, ["r2", "r3"], [0.92, 0.93], 11.0)]
    keys = {("team", f"k{i}") for i in range(4)}
    [row] = Comparison(runs, comms, keys=keys).rows()
    assert row["committee_acc"] == pytest.approx(0.945) and row["committees"] == 2
    assert row["committee_acc_std"] == pytest.approx(statistics.stdev([0.93, 0.96]))
    heads, [cells] = display_cells([row])
    assert cells[heads.index("committee")] == "94.50% +- 2.12 (n=2)"
    [one] = Comparison(runs[:2], comms[:1], keys={("team", "k0"), ("team", "k1")}).rows()  # one committee: no spread to show
    assert one["committees"] == 1 and one["committee_acc_std"] is None
    assert display_cells([one])[1][0][-1] == "93.00%"
    head, line = format_rows([row], "csv").splitlines()
    assert head.endswith("committee_acc,committee_val_acc,failed,note,committee_acc_std,committees,run_ids,tta_val_gain,"
                         "committee_members,test_images,smoke,chosen_on_test,test_set,settings,tta_test_acc_std,"
                         "tta_n,val_is_test")  # each added later last
    assert line.endswith(",2," + " ".join(r.run_id for r in runs) + ',,"[2, 2]",,false,false,,{},,,false')  # (helper-131);
    # the runs the row's figures come from; no TTA; no test size recorded, no smoke run, not chosen on the test set
    assert row["run_ids"] == [r.run_id for r in runs]


def test_live_rows_are_the_compare_rows_without_rereading_the_store(tmp_path: Path, data_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    text = TINY + '[[variants]]\nname = "a"\nrepeats = 2\n'
    p = write(tmp_path, text)
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    write(tmp_path, text + '[[variants]]\nname = "b"\nrepeats = 2\n"train.lr" = 0.01\n')
    exp = load_experiment(p)
    keys = {(c.variant, c.key) for c in exp.cells()}
    reads: list[tuple] = []
    runs = store.runs
    monkeypatch.setattr(store, "runs", lambda *a, **k: reads.append(a) or runs(*a, **k))
    seen = []

    def on_cell(outcome, rows) -> None:  # noqa: ANN001
        with RunStore(store.root) as other:  # another handle: its reads are not counted
            assert rows == compare(other, exp.name, keys=keys)
        seen.append((outcome.skipped, len(rows)))

    res = run_experiment(exp, store, data_dir=data_dir, on_cell=on_cell)
    assert seen == [(True, 1), (True, 1), (False, 2), (False, 2)]
    assert len(reads) == 4  # once before the first cell, once for the final rows and twice for their notes
    # (helper-211: a notebook's table said nothing under it), not once per cell
    assert [r["n"] for r in res.rows] == [2, 2]

    class Lines:  # a callback that reads the store itself, as `mnistlab run`'s table does, gets no rows (helper-196:
        wants_rows = False  # a comparison a cell, 12 s of a sweep of 1,000 cells all recorded)

        def __call__(self, outcome, rows) -> None:  # noqa: ANN001
            seen.append(rows)

    seen.clear()
    again = run_experiment(exp, store, data_dir=data_dir, on_cell=Lines())
    assert seen == [[], [], [], []] and again.rows == res.rows


def test_resolve_experiment_reads_names_then_run_ids_and_files(recorded, tmp_path: Path, monkeypatch) -> None:
    from mnistlab.comparison import resolve_experiment
    from mnistlab.errors import StoreError

    root, ids = recorded
    store = RunStore(root)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").write_text("not an experiment file")  # a recorded name wins over a stray file
    ref = resolve_experiment(store, "tiny")
    assert (ref.name, ref.file, ref.run, ref.keys()) == ("tiny", None, None, None)
    ref = resolve_experiment(store, ids["dense"][:6])
    assert ref.name == "tiny" and ref.run is not None and ref.run.run_id == ids["dense"]
    with pytest.raises(StoreError, match="no experiment file or experiment named"):
        resolve_experiment(store, ids["dense"], run_ids=False)
    exp = write(tmp_path, 'name = "tiny"\n' + TINY + '[[variants]]\nname = "cnn"\n', name="mine.toml")
    ref = resolve_experiment(store, str(exp))  # a file stands for the name it records under
    assert ref.name == "tiny" and ref.file is not None
    assert list(ref.keys() or ()) == [(c.variant, c.key) for c in load_experiment(exp).cells()]  # in file order
    untried = write(tmp_path, TINY + '[[variants]]\nname = "a"\n', name="untried.toml")
    with pytest.raises(StoreError, match=r"no runs recorded for experiment 'untried' .*experiments: tiny \(4 runs\)"):
        resolve_experiment(store, str(untried))


def test_a_dataset_judged_by_balanced_accuracy_shows_it() -> None:
    """Kuzushiji-49's runs record test_balanced_accuracy (issue 19): the table shows its mean."""
    from mnistlab.comparison import display_cells

    runs = [_run("r1", "k49", "k1", 1.0, 0.9), _run("r2", "k49", "k2", 2.0, 0.92), _run("r3", "mnist", "k3", 3.0, 0.99)]
    runs[0].metrics["test_balanced_accuracy"], runs[1].metrics["test_balanced_accuracy"] = 0.80, 0.84
    rows = {r["variant"]: r for r in Comparison(runs, []).rows()}
    assert rows["k49"]["test_balanced_acc"] == pytest.approx(0.82) and rows["mnist"]["test_balanced_acc"] is None
    heads, cells = display_cells(list(rows.values()))
    column = heads.index("balanced acc")
    assert [c[column] for c in cells] == ["82.00%", "-"]
    assert "test_balanced_acc" in format_rows(list(rows.values()), "csv").splitlines()[0]
    plain = Comparison(runs[2:], []).rows()
    assert "balanced acc" not in display_cells(plain)[0]  # only where a dataset is judged by it


def test_plot_history_of_a_committee_across_variants_draws_its_members(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\nrepeats = 2\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n'
              '[[variants]]\nname = "c"\n"train.lr" = 0.02\n[[committees]]\nname = "ab"\nvariants = ["a", "b"]\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    lines = lambda fig: sorted(line.get_label() for ax in fig.axes for line in ax.lines)  # noqa: E731
    ab = lines(figure_for("history", store, "exp", variant="ab"))
    assert ab and any("b" in x for x in ab) and not any(x.startswith("c") for x in ab)
    assert len(ab) == 3 * len(lines(figure_for("history", store, "exp", variant="b")))  # three members, one run of b
    with pytest.raises(StoreError, match="variant 'abc' \\(did you mean \"ab\"\\?\\); variants: a, b, c; committees: ab$"):
        figure_for("history", store, "exp", variant="abc")
    with pytest.raises(PlotError, match="'ab' is a committee of 3 models and filters show one: give one member's run id"):
        figure_for("filters", store, "exp", variant="ab")


def test_figures_of_one_model_draw_the_run_predict_uses(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\nrepeats = 3\n"train.seed" = 1\n[[variants]]\nname = "b"\n'
              '"train.lr" = 0.01\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    with pytest.raises(StoreError, match="has 2 variants: choose one with --variant; variants: a, b"):
        figure_for("confusion", store, "exp", data_dir=data_dir)  # it used to draw the first run silently
    with pytest.raises(StoreError, match="has 2 variants: choose one with variant=; variants: a, b"):
        load_trained(store, "exp")  # in Python's words (helper-117: "--variant" in a notebook)
    with pytest.raises(SpecError, match=r"give its experiment \(exp\) instead, or leave pick= out$"):
        load_trained(store, store.runs()[0].run_id, pick="latest")
    best = load_trained(store, "exp", variant="a")  # predict's, export's and card's choice: the best of three
    accs = [r.metrics["test_accuracy"] for r in store.runs() if r.variant == "a"]
    assert best.test_accuracy == max(accs) > accs[0]  # seeds 1-3: the first run is not the best (so it can fail)
    cm = np.asarray(figure_for("confusion", store, "exp", variant="a", data_dir=data_dir).axes[0].images[0].get_array())
    assert np.trace(cm) / cm.sum() == pytest.approx(best.test_accuracy)


def test_rm_of_a_member_says_which_committee_scores_went(tmp_path: Path, data_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from mnistlab.cli import main

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "t"\ncommittee = 2\n[[committees]]\n'
              'name = "both"\nvariants = ["a", "t"]\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir, progress="none")
    member = next(r.run_id for r in store.runs() if r.variant == "t")
    solo = next(r.run_id for r in store.runs() if r.variant == "a")
    assert main(["rm", solo, "--store", str(store.root)]) == 0
    assert capsys.readouterr().out.strip() == ("deleted 1 run; committee both lost a member, so its score is deleted too "
                                               "(`mnistlab run` scores a committee again once its runs are all there)")
    assert main(["rm", member, "--store", str(store.root)]) == 0
    assert "; committee t lost a member, so its score is deleted too" in capsys.readouterr().out
    assert store.committees("exp") == []


def _chosen_run(store: RunStore, config: dict, experiment: str, variant: str, seed: int, acc: float) -> str:
    """A finished run of ``config`` with ``train.seed`` set to ``seed`` and test accuracy ``acc``."""
    cfg = {**config, "train": {**config["train"], "seed": seed}}
    rid = store.start_run(experiment=experiment, variant=variant, seed=seed, member=0, config=cfg,
                          config_hash=f"{experiment}-{variant}-{seed}-{cfg['train'].get('lr')}")
    store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": acc, "params": 10}, env={})
    return rid


def test_chosen_runs_scored_on_other_test_sets_are_said_and_none_is_best(tmp_path: Path, capsys) -> None:
    """A fashion-mnist trial beside mnist runs of a 2,000-image subset: no ranking across them."""
    from mnistlab.cli import main
    from mnistlab.comparison import compare_runs

    store = RunStore(tmp_path)

    def run(dataset: str, seed: int, acc: float, test_size: int, lr: float) -> str:
        cfg = {"dataset": dataset, "model": "seed000-dense", "train": {"seed": seed, "lr": lr}}
        rid = store.start_run(experiment=dataset, variant="v", seed=seed, member=0, config=cfg,
                              config_hash=f"{dataset}{seed}{lr}")
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": acc, "test_size": test_size},
                         env={})
        return rid

    mnist = [run("mnist", s, a, 333, 0.01) for s, a in ((0, 0.90), (1, 0.92))]
    slower = [run("mnist", s, a, 333, 0.001) for s, a in ((0, 0.80), (1, 0.81))]
    fashion = [run("fashion-mnist", s, a, 500, 0.01) for s, a in ((0, 0.70), (1, 0.72))]
    assert [r["vs_best"] for r in compare_runs(store, mnist + slower)] == ["best", "below"]  # one test set: marked
    # the rows in the order their runs are named (helper-142: recorded order, where `plot history` took this one)
    assert [r["vs_best"] for r in compare_runs(store, slower[:1] + mnist + slower[1:])] == ["below", "best"]
    rows = compare_runs(store, mnist + fashion)
    assert [r["vs_best"] for r in rows] == [None, None]
    assert main(["compare", *mnist, *fashion, "--store", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "note: these runs were scored on 2 different test sets (mnist (333 test images), fashion-mnist (500 " \
        "test images)): their test accuracies do not compare, so no row is marked best" in err
    assert main(["compare", *mnist, *slower, "--store", str(tmp_path)]) == 0
    assert "different test sets" not in capsys.readouterr().err

    def own(train: str, test: str | None, seed: int, acc: float) -> str:  # the user's data, by its checksums
        dataset = {"npz": f"/d/{train}", **({"test": f"/d/{test}"} if test else {})}
        sums = {f"/d/{train}": f"sha-{train}", **({f"/d/{test}": f"sha-{test}"} if test else {})}
        cfg = {"dataset": dataset, "model": "seed000-dense", "train": {"seed": seed}}
        rid = store.start_run(experiment="own", variant=train, seed=seed, member=0, config=cfg,
                              config_hash=f"{train}{test}{seed}")
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": acc, "test_size": 100},
                         env={"data": {"checksums": sums}})
        return rid

    one_test = [own("tr1.npz", "te.npz", s, a) for s, a in ((0, 0.9), (1, 0.91))]
    one_test += [own("tr2.npz", "te.npz", s, a) for s, a in ((0, 0.8), (1, 0.81))]
    assert [r["vs_best"] for r in compare_runs(store, one_test)] == ["best", "below"]  # other training data, one test file
    held_out = [own("tr1.npz", None, s, a) for s, a in ((0, 0.9), (1, 0.91))]
    held_out += [own("tr2.npz", None, s, a) for s, a in ((0, 0.8), (1, 0.81))]
    assert [r["vs_best"] for r in compare_runs(store, held_out)] == [None, None]  # each holds out its own test images


def test_chosen_runs_on_other_data_are_named_by_their_data_not_its_table(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """New-user finding: runs of one variant on a CSV and on a folder were named by their data
    tables' leaves, `(dataset=/home/me/digits/d.csv,folder=none)`; they are named by their data as
    messages name it, relative to where compare runs. Runs on the same data still show the table
    key they differ in."""
    from mnistlab.comparison import setting_labels

    store = RunStore(tmp_path / "s")
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)
    base = {"model": "seed000-dense", "train": {"lr": 0.01}}
    ids = [_chosen_run(store, {**base, "dataset": d}, "train", "seed000-dense", 0, 0.5)
           for d in ({"csv": str(tmp_path / "mine" / "d.csv")}, {"folder": str(tmp_path / "mine" / "digits")}, "mnist")]
    labels = setting_labels(store.runs())
    assert sorted(labels[i] for i in ids) == ["seed000-dense (dataset=folder mine/digits)",
                                              "seed000-dense (dataset=mine/d.csv)", "seed000-dense (dataset=mnist)"]
    more = _chosen_run(store, {**base, "dataset": {"csv": str(tmp_path / "mine" / "d.csv"), "test_fraction": 0.3}},
                       "train", "seed000-dense", 1, 0.5)
    labels = setting_labels([store.get(ids[0]), store.get(more)])
    assert sorted(labels.values()) == ["seed000-dense (test_fraction=0.3)", "seed000-dense (test_fraction=none)"]


def test_compare_chosen_runs_from_any_experiments_one_row_per_setting(tmp_path: Path, recorded, capsys) -> None:
    from mnistlab.cli import main
    from mnistlab.comparison import compare_runs
    from mnistlab.store import CommitteeRecord

    base = RunStore(recorded[0]).get(recorded[1]["cnn0"]).config
    fast = {**base, "train": {**base["train"], "lr": 0.01}}
    store = RunStore(tmp_path)
    slow_ids = [_chosen_run(store, base, "train", "seed000-cnn", s, a) for s, a in ((0, 0.90), (1, 0.92))]
    fast_ids = [_chosen_run(store, fast, "train", "seed000-cnn", s, a) for s, a in ((0, 0.80), (1, 0.82), (2, 0.81))]
    other = _chosen_run(store, base, "tiny", "cnn", 0, 0.5)
    running = store.start_run(experiment="train", variant="seed000-cnn", seed=9, member=0, config=base,
                              config_hash="r")
    store.save_committee(CommitteeRecord("train", "seed000-cnn", 0, 0.95, slow_ids, [0.9, 0.92], 1.0))
    with pytest.warns(UserWarning, match="still running, so not compared"):
        rows = compare_runs(store, [*slow_ids, *(i[:6] for i in fast_ids), fast_ids[0], running])
    by = {r["variant"]: r for r in rows}  # one experiment: named by variant, and by what differs where needed
    lr = f"{base['train']['lr']:g}"
    assert list(by) == [f"seed000-cnn (lr={lr})", "seed000-cnn (lr=0.01)"]
    slow, quick = by[f"seed000-cnn (lr={lr})"], by["seed000-cnn (lr=0.01)"]
    assert (slow["n"], quick["n"]) == (2, 3)  # a run named twice counts once; the running run not at all
    assert slow["test_acc"] == pytest.approx(0.91) and quick["test_acc"] == pytest.approx(0.81)
    assert quick["test_acc_std"] == pytest.approx(0.01) and quick["vs_best"] == "below"
    assert slow["committee_acc"] == pytest.approx(0.95) and quick["committee_acc"] is None
    assert set(slow["run_ids"]) == set(slow_ids)
    again = _chosen_run(store, fast, "train", "seed000-cnn", 0, 0.83)  # a rerun: the same config and seed
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        rows = compare_runs(store, [*fast_ids, again, running])
    # one sample per seed, as `compare EXPERIMENT` counts a rerun: the latest with a result
    assert rows[0]["n"] == 3 and again in rows[0]["run_ids"] and fast_ids[0] not in rows[0]["run_ids"]
    assert rows[0]["test_acc"] == pytest.approx((0.83 + 0.82 + 0.81) / 3)
    assert sorted(str(w.message) for w in said) == [
        f"1 chosen run not counted: the same setting and seed as another chosen run, so not another sample (the "
        f"latest with a result counts, as in compare EXPERIMENT): {fast_ids[0]} "
        f"{100 * store.get(fast_ids[0]).metrics['test_accuracy']:.2f}% (seed 0: {again} 83.00% counted); their scores "
        "differ: another thread count or machine adds sums in another order (`mnistlab show RUN_ID` gives each run's "
        "env.threads and thread_changes)",
        f"still running, so not compared: {running}"]
    wide = {**fast, "model": {**fast["model"], "layers": list(fast["model"]["layers"])}}
    wide["model"]["layers"][-2] = {**wide["model"]["layers"][-2], "activation": "tanh"}  # layers differ, same length
    odd = _chosen_run(store, wide, "train", "seed000-cnn", 0, 0.1)
    rows = compare_runs(store, [fast_ids[0], odd])
    assert len(rows) == 2 and [r["n"] for r in rows] == [1, 1]  # two settings, two rows, named by what differs
    at = len(wide["model"]["layers"]) - 2
    old_activation = fast["model"]["layers"][at].get("activation")
    assert [r["variant"] for r in rows] == [f"seed000-cnn (layers[{at}].act={old_activation})",
                                            f"seed000-cnn (layers[{at}].act=tanh)"]
    renamed = {**fast, "model": {**fast["model"], "layers": list(fast["model"]["layers"])}}
    renamed["model"]["layers"][-2] = {**renamed["model"]["layers"][-2], "name": "hidden"}  # a name: no other setting
    assert len(compare_runs(store, [fast_ids[1], _chosen_run(store, renamed, "train", "seed000-cnn", 5, 0.2)])) == 1
    assert {r["variant"] for r in compare_runs(store, [odd, fast_ids[0]])} == {r["variant"] for r in rows}
    close = {**fast, "train": {**fast["train"], "lr": 0.01000001}}  # "lr=0.01" both: named by a run each
    near = _chosen_run(store, close, "train", "seed000-cnn", 0, 0.2)
    rows = compare_runs(store, [near, fast_ids[0]])
    assert sorted(r["variant"] for r in rows) == sorted([f"seed000-cnn (lr=0.01, run {near})",
                                                         f"seed000-cnn (lr=0.01, run {fast_ids[0]})"])
    decayed = {**base, "train": {**base["train"], "weight_decay": 0.01}}  # differs from base in one key only
    bigger = {**base, "train": {**base["train"], "batch_size": 7, "epochs": 3, "lr": 0.5, "threads": 2}}
    three = [_chosen_run(store, cfg, "train", "seed000-cnn", 0, 0.5) for cfg in (base, decayed, bigger)]
    names = sorted(r["variant"] for r in compare_runs(store, three))  # a fourth key tells two of them apart
    assert len(set(names)) == 3 and not any("(run " in n or "threads" in n for n in names), names
    assert any("weight_decay=0.01" in n for n in names) and all(n.count("=") <= 3 for n in names), names
    assert all(n.endswith(",...)") for n in names), names  # four keys differ, three are shown: "..." says so
    assert base.get("augment") is None
    rotated = _chosen_run(store, {**base, "augment": {"rotation": 10, "cval": 0}}, "train", "seed000-cnn", 0, 0.5)
    names = [r["variant"] for r in compare_runs(store, [three[0], rotated])]  # named by what was set, not its fill
    assert sorted(names) == ["seed000-cnn (rotation=10,cval=0)", "seed000-cnn (rotation=none,cval=none)"], names
    rows = compare_runs(store, [slow_ids[0], other])  # two experiments: experiment/variant
    assert [r["variant"] for r in rows] == ["train/seed000-cnn", "tiny/cnn"]
    assert rows[0]["committee_acc"] is None  # a committee counts only with all its members chosen
    assert main(["compare", slow_ids[0], fast_ids[1], "--store", str(tmp_path), "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in out[1:]] == [f"seed000-cnn (lr={lr})", "seed000-cnn (lr=0.01)"]
    assert [r["variant"] for r in compare_runs(store, ["tiny", slow_ids[0]])] == ["tiny/cnn", "train/seed000-cnn"]
    assert main(["compare", "tiny", "train", "--store", str(tmp_path), "--format", "csv"]) == 0  # experiments: the
    out = capsys.readouterr().out.splitlines()  # runs each one's own table shows (helper-193: a class in one table)
    assert out[1].startswith("tiny/cnn,") and all(line.startswith("train/seed000-cnn") for line in out[2:]), out
    assert len(out) == 2 + len(compare(store, "train"))
    unrun = tmp_path / "unrun.toml"  # a file not run yet, among others: left out, said (helper-198: no table at all)
    unrun.write_text('name = "unrun"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n[[variants]]\nname = "x"\n')
    assert main(["compare", "tiny", str(unrun), "--store", str(tmp_path), "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].startswith("cnn,") and "no runs recorded for experiment 'unrun'" in err
    assert err.count("left out of the table: no runs recorded for experiment 'unrun'") == 1, err
    assert main(["compare", "tiny", str(unrun), "tiny", "--store", str(tmp_path), "--format", "csv"]) == 0
    out, err = capsys.readouterr()  # a name given twice: its rows once; the file left out said once
    assert len(out.splitlines()) == 2 and err.count("left out") == 1, (out, err)
    assert main(["compare", str(unrun), str(unrun), "--store", str(tmp_path)]) == 2  # nothing else: the error
    assert main(["compare", slow_ids[0], "recipes/seed000.toml", "--store", str(tmp_path)]) == 0  # a file not run: left
    assert "no runs recorded for experiment 'seed000'" in capsys.readouterr().err  # out, said (helper-198)
    for argv, says in (([slow_ids[0], "abcdef9999"], 'no run "abcdef9999"'),
                       ([slow_ids[0], "nosuch"], "no experiment file or experiment named 'nosuch'"),  # (helper-198:
                       # "is not a run id", where alone it names the store's experiments)
                       ([slow_ids[0], slow_ids[1], "--quick"], "--quick goes with one experiment file"),
                       ([running, running[:5]], "nothing to compare: the 1 chosen run is still running")):
        assert main(["compare", *argv, "--store", str(tmp_path)]) != 0
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err


def test_a_renamed_variant_is_a_cell_of_its_own_and_the_files_view_shows_only_its_new_name(tmp_path: Path,
                                                                                          data_dir: Path) -> None:
    text = ('name = "ren"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\ndata = { subset = 120 }\n'
            'train = { epochs = 1 }\n[[variants]]\nname = "x"\n')
    p = write(tmp_path, text, "ren.toml")
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    p.write_text(text.replace('name = "x"', 'name = "y"'))  # the same setting under a new name
    run_experiment(p, store, data_dir=data_dir)
    assert sorted(r.variant for r in store.runs()) == ["x", "y"]
    ref = resolve_experiment(store, str(p))
    assert [r["variant"] for r in compare(store, "ren", keys=ref.keys())] == ["y"]
    # by name: every variant's last runs, the last sweep's variants first (helper-140: the file's order)
    assert [r["variant"] for r in compare(store, "ren")] == ["y", "x"]


def test_a_committee_variant_named_committee_is_not_said_twice(tmp_path: Path, data_dir: Path) -> None:
    from mnistlab.card import model_card

    p = write(tmp_path, TINY + '[[variants]]\nname = "committee"\ncommittee = 2\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    card = model_card(load_trained(store, "exp", variant="committee"), data_dir=data_dir)
    assert card.startswith("# Model card: committee of 2 on "), card.splitlines()[0]


def test_a_mistyped_experiment_file_name_is_given_the_file_it_may_mean(tmp_path: Path, monkeypatch) -> None:
    """New-user finding: `compare long.tom` suggested nothing, though `long.toml` is right there
    (a mistyped experiment name gets its "did you mean")."""
    from mnistlab.comparison import resolve_experiment

    (tmp_path / "long.toml").write_text("name = 'x'\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mid.toml").write_text("name = 'y'\n")
    monkeypatch.chdir(tmp_path)
    store = RunStore(tmp_path / "store")
    with pytest.raises(StoreError, match=re.escape(f"named 'long.tom' in {store.root} (did you mean \"long.toml\"?)")):
        resolve_experiment(store, "long.tom")
    with pytest.raises(SpecError, match="sub/mid.tml: no such file"):  # a path: read as a file, and said missing
        resolve_experiment(store, "sub/mid.tml")


def test_a_comparison_scored_on_part_of_the_test_set_says_so(tmp_path: Path) -> None:
    """New-user finding: with data.subset = 8000 the runs scored 1,333 test images, which only the
    config said; a colleague reads 87.70% as the whole test set's."""
    from mnistlab.comparison import ExperimentRef, notes_below, part_of_test_set

    store = RunStore(tmp_path)
    for variant, size in (("a", 1333), ("b", 1333)):
        rid = store.start_run(experiment="e", variant=variant, seed=0, member=0, config={"dataset": "fashion-mnist"},
                              config_hash=variant)
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.8, "test_size": size}, env={})
    rows = compare(store, "e")
    said = [n for n in notes_below(store, ExperimentRef("e", "e"), rows) if "part of the test set" in n]
    assert said == ["test accuracy here is on part of the test set (1,333 of fashion-mnist's 10,000 test images, "
                    "the first of them: data.subset keeps subset // 6), so it is not the figure a full-size run "
                    "reports on the whole set"]
    whole = store.start_run(experiment="w", variant="a", seed=0, member=0, config={"dataset": "mnist"}, config_hash="w")
    store.finish_run(whole, status="finished", history=[], metrics={"test_accuracy": 0.9, "test_size": 10_000}, env={})
    own = store.start_run(experiment="w", variant="b", seed=0, member=0, config={"dataset": {"csv": "x.csv"}},
                          config_hash="o")
    store.finish_run(own, status="finished", history=[], metrics={"test_accuracy": 0.9, "test_size": 12}, env={})
    assert part_of_test_set(store.runs(experiment="w")) is None  # the whole set, or the user's own
    for variant, size in (("c", 50), ("d", 166)):  # new-user finding (35): "166 of mnist's 10,000, 50 of mnist's 10,000"
        rid = store.start_run(experiment="m", variant=variant, seed=0, member=0, config={"dataset": "mnist"},
                              config_hash=variant)
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.8, "test_size": size}, env={})
    assert "(166 and 50 of mnist's 10,000 test images, the first" in str(part_of_test_set(store.runs(experiment="m")))
    assert not [n for n in notes_below(store, ExperimentRef("w", "w"), compare(store, "w")) if "part of" in n]


def test_compare_of_chosen_runs_on_part_of_the_test_set_says_so(tmp_path: Path, capsys) -> None:
    """New-user finding: `compare RUN RUN` of runs trained with --subset said nothing of their
    500 test images (`compare NAME` did)."""
    from mnistlab.cli import main

    store = RunStore(tmp_path)
    ids = []
    for seed in (0, 1):
        rid = store.start_run(experiment="train", variant="m", seed=seed, member=0, config={"dataset": "mnist"},
                              config_hash=f"k{seed}")
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.9, "test_size": 500}, env={})
        ids.append(rid)
    assert main(["compare", *ids, "--store", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err == ("note: test accuracy here is on part of the test set (500 of mnist's 10,000 test images, the first "
                   "of them: data.subset keeps subset // 6), so it is not the figure a full-size run reports on the "
                   "whole set\n")


def test_compare_by_name_of_runs_on_two_datasets_says_so_and_marks_no_best(tmp_path: Path) -> None:
    """New-user finding: `compare train` put an own-data row beside an MNIST row, ranked, and its
    note "500 of mnist's 10,000" read as covering both (`compare RUN RUN` said they do not compare)."""
    from mnistlab.comparison import ExperimentRef, compare_experiment, notes_below

    store = RunStore(tmp_path)
    for variant, dataset, acc in (("m", "mnist", 0.9), ("f", "fashion-mnist", 0.8)):
        for seed in (0, 1):
            rid = store.start_run(experiment="train", variant=variant, seed=seed, member=0, config={"dataset": dataset},
                                  config_hash=f"{variant}{seed}")
            store.finish_run(rid, status="finished", history=[], env={},
                             metrics={"test_accuracy": acc + seed / 100, "test_size": 10_000})
    ref = ExperimentRef("train", "train")
    rows = compare_experiment(store, ref)
    assert [r["vs_best"] for r in rows] == [None, None]
    assert notes_below(store, ref, rows) == [
        "these runs were scored on 2 different test sets (mnist (10,000 test images), fashion-mnist (10,000 test "
        "images)): their test accuracies do not compare, so no row is marked best"]


def test_a_variant_renamed_in_its_file_is_said_by_name_and_recorded_again_not_trained(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-151: after "small" was renamed "slim", `compare NAME` ranked small's rows beside slim's,
    unsaid; the README said a renamed variant trains afresh (its cells are recorded again instead)."""
    from mnistlab.cli import main

    store = RunStore(tmp_path / "s")
    p = write(tmp_path, 'name = "exp"\n' + TINY + '[[variants]]\nname = "small"\n[[variants]]\nname = "wide"\n'
              '"model.dense" = [16]\n[[committees]]\nname = "both"\nvariants = ["small", "wide"]\n')  # (no cell: unsaid)
    first = run_experiment(p, store, data_dir=data_dir)
    write(tmp_path, p.read_text().replace('"small"', '"slim"'))
    again = run_experiment(p, store, data_dir=data_dir)
    [slim] = [r for r in store.runs(experiment="exp") if r.variant == "slim"]
    assert slim.env.get("same_run_as") == first.rows[0]["run_ids"][0]  # recorded again, not trained
    assert [r["variant"] for r in again.rows][:2] == ["slim", "wide"]
    capsys.readouterr()
    assert main(["compare", "exp", "--store", str(store.root)]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()[2:4]] == ["slim", "wide"] and "small" in out
    assert ('note: variant "small" is not in the last sweep of exp\'s file (renamed or removed since?): `mnistlab '
            f"compare FILE` shows the file's variants alone; `mnistlab runs -e exp --store {store.root}` lists their "
            "runs, and `mnistlab rm "
            "RUN_ID ...` deletes them\n") in err
    assert main(["compare", str(p), "--store", str(store.root)]) == 0
    assert "small" not in "".join(capsys.readouterr())  # the file's own variants


def test_a_renamed_variants_old_row_is_set_apart_from_the_marks(tmp_path: Path, data_dir: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """helper-234: after a rename, `compare NAME` marked the old row beside the new one, the same runs
    counted twice and in the Holm family (a row flipped from below to ~best)."""
    from mnistlab.cli import main

    store = RunStore(tmp_path / "s")
    p = write(tmp_path, 'name = "ren"\n' + TINY + '[[variants]]\nname = "small"\nrepeats = 2\n[[variants]]\n'
              'name = "wide"\nrepeats = 2\n"model.dense" = [16]\n')
    run_experiment(p, store, data_dir=data_dir)
    write(tmp_path, p.read_text().replace('"small"', '"slim"'))
    run_experiment(p, store, data_dir=data_dir)
    capsys.readouterr()
    assert main(["compare", "ren", "--store", str(store.root), "--format", "json"]) == 0
    rows = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"slim", "wide", "small"} and (rows["small"]["vs_best"], rows["small"]["vs_best_p"]) == (None, None)
    assert "best" in {r["vs_best"] for v, r in rows.items() if v != "small"}  # slim and wide: marked, by the two
    p_alone = [r["vs_best_p"] for v, r in rows.items() if v != "small" and r["vs_best"] != "best"]
    from mnistlab.stats import welch_test

    best, other = sorted((rows["slim"], rows["wide"]), key=lambda r: -r["test_acc"])
    assert p_alone == [pytest.approx(welch_test(best["test_acc"], best["test_acc_std"], best["n"], other["test_acc"],
                                                other["test_acc_std"], other["n"]).p)]  # one test: no Holm factor


def test_the_notes_over_chosen_runs_of_several_experiments_name_rows_as_the_table_does(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-143: the smoke note named a chosen run "other" where its row read "e2/other"."""
    from mnistlab.cli import main

    store = RunStore(tmp_path / "s")
    big = TINY.replace("epochs = 1", "epochs = 2")
    full = run_experiment(write(tmp_path, 'name = "e1"\n' + big + '[[variants]]\nname = "base"\n', "e1.toml"), store,
                          data_dir=data_dir)
    smoke = run_experiment(write(tmp_path, 'name = "e2"\n' + big + '[[variants]]\nname = "other"\n', "e2.toml"), store,
                           data_dir=data_dir, quick=True)
    capsys.readouterr()
    assert main(["compare", full.rows[0]["run_ids"][0], smoke.rows[0]["run_ids"][0], "--store", str(store.root)]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["e1/base", "e2/other"]
    assert err.startswith("note: the runs of e2/other are smoke runs, the size of a --quick check"), err


def test_a_card_of_a_variant_that_changes_a_preset_names_the_variant_and_the_preset(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """New-user finding (helper-102): the card of variant "tanh" (seed000-dense with tanh) was titled
    "seed000-dense", the preset it no longer is."""
    from mnistlab.card import model_card

    p = write(tmp_path, TINY.replace("model = { dense = [8] }", 'model = "seed000-dense"')
              + '[[variants]]\nname = "tanh"\n"model.layers[1].activation" = "tanh"\n'
              + '[[variants]]\nname = "fast"\n"train.lr" = 0.01\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    card = model_card(load_trained(store, "exp", variant="tanh"), data_dir=data_dir)
    assert card.startswith("# Model card: tanh (seed000-dense) on "), card.splitlines()[0]
    card = model_card(load_trained(store, "exp", variant="fast"), data_dir=data_dir)  # the preset's layers as they are
    assert card.startswith("# Model card: seed000-dense on "), card.splitlines()[0]
    # helper-119: a `train --set model...` run's card was titled as the preset, and its config left the model out
    assert main(["train", "--dataset", "mnist", "--model", "seed000-dense", "--set", "model.layers[1].activation=tanh",
                 "--epochs", "1", "--subset", "120", "--data-dir", str(data_dir), "--store", str(store.root)]) == 0
    [tanh] = store.runs(experiment="train")
    card = model_card(load_trained(store, tanh.run_id), data_dir=data_dir)
    assert card.startswith(r"# Model card: seed000-dense, changed: layers\[1\].act=tanh on "), card.splitlines()[0]
    assert '"activation": "tanh"' in card
    capsys.readouterr()  # show said the model only inside its config's JSON, by the preset's name
    assert main(["show", tanh.run_id, "--store", str(store.root)]) == 0
    assert "\nmodel seed000-dense, changed: layers[1].act=tanh, 101,770 params\n" in capsys.readouterr().out
    [fast] = [r for r in store.runs(experiment="exp") if r.variant == "fast"]
    assert main(["show", fast.run_id, "--store", str(store.root)]) == 0
    assert "\nmodel seed000-dense, 101,770 params\n" in capsys.readouterr().out


def test_an_experiment_named_as_a_run_ids_start_is_read_as_the_experiment_and_said_so(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-119: `export f8a6` wrote experiment f8a6's run, where `show f8a6` showed run f8a6057aae; silently."""
    from mnistlab.errors import ReportWarning

    store = RunStore(tmp_path / "s")
    run_experiment(write(tmp_path, TINY + '[[variants]]\nname = "a"\n'), store, data_dir=data_dir, progress="none")
    [first] = store.runs()
    prefix = first.run_id[:4]
    run_experiment(write(tmp_path, f'name = "{prefix}"\n' + TINY + '[[variants]]\nname = "b"\n', "e2.toml"), store,
                   data_dir=data_dir, progress="none")
    with pytest.warns(ReportWarning, match=f"'{prefix}' is experiment {prefix}'s name and the start of run "
                                           f"{first.run_id}'s id: read as the experiment"):
        assert load_trained(store, prefix).record.experiment == prefix
    assert main(["card", prefix, "--store", str(store.root), "--data-dir", str(data_dir)]) == 0
    assert f"the start of run {first.run_id}'s id" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_trained(store, first.run_id).run_id == first.run_id  # the whole id: the run, nothing to say


def test_a_card_says_how_a_committee_was_chosen_among_its_variants_committees(tmp_path: Path, data_dir: Path) -> None:
    """helper-119: a card of the best of a variant's committees said nothing of the others (its runs' did)."""
    from mnistlab.card import model_card

    store = RunStore(tmp_path / "s")
    run_experiment(write(tmp_path, TINY + '[[variants]]\nname = "team"\ncommittee = 2\nrepeats = 2\n'), store,
                   data_dir=data_dir, progress="none")
    accs = [c.accuracy for c in store.committees("exp")]
    assert len(accs) == 2
    spread = f"{100 * np.mean(accs):.2f}% +- {100 * np.std(accs, ddof=1):.2f} (n=2)"
    card = model_card(load_trained(store, "exp", variant="team"), data_dir=data_dir)
    assert (f"Chosen as the best of 2 committees of 2 of variant team by test accuracy, an optimistic figure as the "
            f"test set chose it: their mean is {spread}.") in card
    card = model_card(load_trained(store, "exp", variant="team", pick="latest"), data_dir=data_dir)
    assert f"Chosen as the latest of 2 committees of 2 of variant team (their test accuracy: {spread})." in card
    team = load_trained(store, "exp", variant="team")  # helper-118: a Run's repr said "on 20 of ...", a Committee's not
    assert repr(team) == f"Committee(2 members, mnist, test_accuracy={team.test_accuracy:.4f} on 20 of 10,000 test images)"


def test_by_name_a_variant_shown_by_its_smoke_run_keeps_its_place(tmp_path: Path, data_dir: Path) -> None:
    """New-user finding (helper-105): by name, rows followed the start of each row's counted run, so
    a variant with only its --quick run (the oldest shown) went to the top; rows follow where each
    variant first ran, smoke runs among them."""
    variants = '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n'
    store, base = RunStore(tmp_path / "s"), TINY.replace("subset = 120", "subset = 360")  # more than a smoke run's
    run_experiment(write(tmp_path, base + variants + '[[variants]]\nname = "c"\n"train.lr" = 0.02\n'), store,
                   data_dir=data_dir, quick=True)
    run_experiment(write(tmp_path, base + variants), store, data_dir=data_dir)  # c left out of the full run
    rows = compare(store, "exp")
    assert [r["variant"] for r in rows] == ["a", "b", "c"]
    assert [store.get(r["run_ids"][0]).config["data"]["subset"] for r in rows] == [360, 360, 300]


def test_runs_whose_callbacks_watch_the_test_set_get_a_note(tmp_path: Path, data_dir: Path, capsys) -> None:
    """New-user finding (helper-109): `data.validation = "test"` (the notebooks' validation_data =
    (x_test, y_test)) with EarlyStopping(restore_best_weights) picked the epoch on the test set, and
    `compare` showed its test accuracy with no word of it."""
    exp = tmp_path / "vt.toml"
    exp.write_text('[base]\ndataset = "mnist"\nmodel = { dense = [8] }\ndata.subset = 120\ndata.validation = "test"\n'
                   'train.epochs = 2\ncallbacks = [{ type = "EarlyStopping", monitor = "val_accuracy", '
                   'restore_best_weights = true }]\n[[variants]]\nname = "es"\n[[variants]]\nname = "watching"\n'
                   'callbacks = [{ type = "ModelCheckpoint", filepath = "ck/e{epoch}.safetensors" }]\n')
    store = str(tmp_path / "store")
    assert main(["run", str(exp), "--store", store, "--data-dir", str(data_dir)]) == 0
    note = ('"es" (EarlyStopping) validates on the test set (data.validation = "test", or validation_data of its '
            'images) with callbacks watching it: '
            "the test set chose the epoch or the learning rate, so the test accuracy is optimistic")
    assert note in capsys.readouterr().err  # a checkpoint of every epoch chooses nothing: "watching" unnamed
    assert main(["compare", str(exp), "--store", store]) == 0
    err = capsys.readouterr().err
    assert note in err and '"watching"' not in err


def test_validation_data_that_is_the_test_set_is_known_as_it(tmp_path: Path, data_dir: Path, capsys) -> None:
    """New-user finding (helper-111): `train(validation_data=(x_test, y_test))`, the notebooks' own
    call, recorded validation_is_test false, and `compare` gave no note of EarlyStopping choosing on it."""
    from mnistlab.datasets import load_dataset
    from mnistlab.run import train

    mnist = load_dataset("mnist", data_dir)
    x_test, y_test = np.asarray(mnist.test_images), np.asarray(mnist.test_labels)
    store = RunStore(tmp_path / "s")
    es = [{"type": "EarlyStopping", "monitor": "val_accuracy", "restore_best_weights": True}]
    run = train(dataset="mnist", model={"dense": [8]}, epochs=1, subset=600, data_dir=data_dir, progress="none",
                validation_data=(x_test, y_test), callbacks=es, store=store, experiment="nb")
    assert run.result.metrics["validation_is_test"] is True  # the subset's 100 test images, and 9,900 more
    other = train(dataset="mnist", model={"dense": [8]}, epochs=1, subset=600, data_dir=data_dir, progress="none",
                  validation_data=(x_test[100:], y_test[100:]), callbacks=es)
    assert other.result.metrics["validation_is_test"] is False
    assert main(["compare", "nb", "--store", str(store.root)]) == 0
    assert '"dense=8" (EarlyStopping) validates on the test set' in capsys.readouterr().err


def test_runs_own_table_marks_no_best_across_test_sets_and_a_stopped_run_is_no_test_set(tmp_path: Path,
                                                                                       data_dir: Path) -> None:
    """helper-116: `mnistlab run`'s closing table ranked an MNIST variant "best" over a Fashion-MNIST
    one (compare did not), and an interrupted run's unshown score made two test sets of one."""
    from mnistlab.comparison import scored_on_note

    p = write(tmp_path, TINY + '[[variants]]\nname = "digits"\nrepeats = 2\n[[variants]]\nname = "clothes"\n'
              'repeats = 2\ndataset = "fashion-mnist"\n')
    store = RunStore(tmp_path / "s")
    rows = run_experiment(p, store, data_dir=data_dir).rows
    assert [r["n"] for r in rows] == [2, 2] and all(r["vs_best"] is None for r in rows)
    runs = store.runs()
    assert scored_on_note(runs) is not None
    stopped = store.start_run(experiment="exp", variant="digits", seed=5, member=0, config=runs[0].config,
                              config_hash="stopped")
    store.finish_run(stopped, status="interrupted", history=[], env={},
                     metrics={"test_accuracy": 0.97, "test_size": 10_000})  # tested at the stop: shown as "-"
    digits = [r for r in store.runs() if r.variant == "digits"]
    assert len(digits) == 3 and scored_on_note(digits) is None


def test_chosen_runs_differing_in_a_sub_tables_setting_are_named_with_the_table(tmp_path: Path) -> None:
    """helper-128: runs that differ in `evaluate.tta.rotation` were named `(rotation=8)`, which reads
    as augmentation's; a sub-table's setting keeps its table's name. A grid's variant names, which
    runs are recorded under, keep the short form."""
    from mnistlab.comparison import setting_labels
    from mnistlab.experiments import derive_name

    store = RunStore(tmp_path / "s")
    base = {"dataset": "mnist", "model": "seed000-dense", "train": {"lr": 0.01}}
    ids = [_chosen_run(store, {**base, "evaluate": {"tta": {"shift": 1, "rotation": r}}}, "train", "seed000-dense", i, 0.5)
           for i, r in enumerate((8.0, 0.0))]
    labels = setting_labels(store.runs())
    assert sorted(labels[i] for i in ids) == ["seed000-dense (tta.rotation=0)", "seed000-dense (tta.rotation=8)"]
    assert derive_name({"evaluate.tta.rotation": 8.0}) == "rotation=8"


def test_test_sets_held_out_of_ones_data_are_told_apart_by_their_recorded_seed(tmp_path: Path) -> None:
    """data.test_seed, as each run recorded it, tells whether two runs of the user's data scored on one
    held-out test set; a record without it (a test file, or made before) is not read through its
    data file (helper-192: once the file had moved, runs of an .npz with x_test were said to differ)."""
    from mnistlab.comparison import scored_on_note

    store = RunStore(tmp_path)

    def run(seed: int, data: dict) -> RunRecord:
        rid = store.start_run(experiment="e", variant="v", seed=seed, member=0, config={
            "dataset": {"npz": str(tmp_path / "gone.npz")}, "train": {"seed": seed}, "data": data}, config_hash=f"h{seed}")
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5, "test_size": 100}, env={})
        return store.get(rid)

    assert scored_on_note([run(0, {"split_seed": 0}), run(1, {"split_seed": 1})]) is None
    assert scored_on_note([run(2, {"split_seed": 2, "test_seed": 0}), run(3, {"split_seed": 3, "test_seed": 0})]) is None
    note = scored_on_note([run(4, {"split_seed": 4, "test_seed": 0}), run(5, {"split_seed": 5, "test_seed": 7})])
    assert note is not None and "held out with seed 0" in note and "held out with seed 7" in note, note
    np.savez(tmp_path / "gone.npz", x_train=np.zeros((10, 28, 28), np.uint8), y_train=np.arange(10) % 2)  # there now,
    note = scored_on_note([run(6, {"split_seed": 6}), run(7, {"split_seed": 7})])  # no x_test: records made before
    assert note is not None and "held out with seed 6" in note, note  # data.test_seed held out each seed's own (-194)


def test_an_unknown_name_in_a_big_store_says_the_closest_experiments_not_all(tmp_path: Path, capsys) -> None:
    """helper-196: at 70 experiments the error listed them all, a line of 1.5 KB."""
    from mnistlab.cli import main

    store = RunStore(tmp_path)
    for i in range(20):
        rid = store.start_run(experiment=f"exp{i:02d}", variant="v", seed=0, member=0, config={}, config_hash=str(i))
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={})
    assert main(["compare", "exp17x", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert '(did you mean "exp17"?); experiments: exp17 (1 run), ' in err and err.count("(1 run)") == 12, err
    assert err.rstrip().endswith("and 8 more (`mnistlab runs --format csv` lists every run)") and err.count("\n") == 1


def test_a_cut_table_says_how_many_rows_it_hid_are_within_noise_of_the_best() -> None:
    """helper-215: `--sort -test_acc -n 3` said "7 more rows not shown", all 7 as good as the best."""
    from mnistlab.cli.experiment_cmds import _not_shown
    from mnistlab.comparison import mark_vs_best

    rows = mark_vs_best([{"variant": str(i), "n": 3, "test_acc": 0.79 + 0.001 * (i % 3), "test_acc_std": 0.016}
                         for i in range(10)] + [{"variant": "low", "n": 3, "test_acc": 0.5, "test_acc_std": 0.01}])
    shown = sorted(rows, key=lambda r: -r["test_acc"])[:3]
    assert _not_shown(rows, shown) == ["8 more rows not shown (--limit), 7 of them within noise of the best"]
    assert _not_shown(rows, rows) == []


def test_a_cut_tables_legend_is_the_whole_comparisons(capsys) -> None:
    """helper-219: a table cut by --limit with its best row left out printed no legend at all, and with
    one tested row left said nothing of Holm's adjustment, though its p was adjusted."""
    from mnistlab.cli.experiment_cmds import _rows_out
    from mnistlab.comparison import best_legend, mark_vs_best

    rows = mark_vs_best([{"variant": v, "n": 3, "test_acc": a, "test_acc_std": 0.01}
                         for v, a in (("a", 0.90), ("b", 0.899), ("c", 0.70))])
    cut = [r for r in rows if r["vs_best"] != "best"][:1]  # --sort variant -n 1 on another order: no best shown
    _rows_out(cut, "t", "table", rows)
    out = capsys.readouterr().out
    assert best_legend(cut) is None and best_legend(rows) in out and "Holm-adjusted" in out


def test_compare_sorts_and_limits_its_rows(recorded, capsys) -> None:
    """helper-196: a table of 500 variants came in file order, whole; --sort and --limit as `runs` has them."""
    from mnistlab.cli import main

    root, _ = recorded
    assert main(["compare", "tiny", "--store", str(root), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert main(["compare", "tiny", "--store", str(root), "--format", "json", "--sort", "-test_acc"]) == 0
    ranked = json.loads(capsys.readouterr().out)
    scored = sorted((r for r in rows if r["test_acc"] is not None), key=lambda r: -r["test_acc"])
    assert [r["variant"] for r in ranked] == [r["variant"] for r in scored] + [r["variant"] for r in rows
                                                                                if r["test_acc"] is None]
    assert ranked[0]["vs_best"] == max(rows, key=lambda r: r["test_acc"] or 0)["vs_best"]  # the marks: every row's
    assert main(["compare", "tiny", "--store", str(root), "--format", "json", "--sort", "variant", "-n", "1"]) == 0
    out, err = capsys.readouterr()
    assert [r["variant"] for r in json.loads(out)] == [min(r["variant"] for r in rows)]
    hidden = [r for r in rows if r["variant"] != min(r["variant"] for r in rows)]
    near = sum(r["vs_best"] in ("best", "within noise") for r in hidden)  # (helper-215: "the best rows" hid as good)
    assert f"note: {len(rows) - 1} more rows not shown (--limit)" + (f", {near} of them within noise of the best"
                                                                     if near else "") + "\n" in err
    assert main(["compare", "tiny", "--store", str(root), "--sort", "acc"]) == 2
    assert capsys.readouterr().err.startswith("error: --sort: unknown key 'acc' (did you mean \"val_acc\"?)")
    told = next(k for r in rows for k in r["settings"])  # helper-230: by a setting the variants set differently
    assert main(["compare", "tiny", "--store", str(root), "--format", "json", "--sort", f"-settings.{told}"]) == 0
    by_setting = json.loads(capsys.readouterr().out)
    values = [r["settings"].get(told) for r in by_setting if r["settings"].get(told) is not None]
    assert len(values) > 1 and values == sorted(values, key=lambda v: (str(type(v)), v), reverse=True)
    assert main(["compare", "tiny", "--store", str(root), "--sort", "settings.nothing.such"]) == 2
    assert "no row's variant sets nothing.such differently; the settings here: settings." in capsys.readouterr().err


def test_an_old_committee_of_members_scored_on_different_test_sets_is_not_counted(tmp_path: Path) -> None:
    """helper-217: a store of mnistlab before 2026-12-02 held each committee member's test images of the
    user's own data out with its own seed, and recorded the committee's score (50.62% beside members of
    67.50% and 69.38%). compare showed that score, and plot, predict, export and the card used it."""
    from mnistlab.store import CommitteeRecord
    from mnistlab.views import trained_runs

    store = RunStore(tmp_path / "s")
    (tmp_path / "train.csv").write_text("label,pixel0,pixel1,pixel2,pixel3\n" + "1,0,255,0,255\n" * 10)
    for experiment, seeds in (("own", (0, 1)), ("same", (0, 0))):  # same: members scored on one test set
        ids = []
        for member, (seed, acc) in enumerate(zip(seeds, (0.675, 0.6938))):
            config = {"dataset": {"csv": str(tmp_path / "train.csv")}, "train": {"seed": seed}}  # (no data.test_seed:
            rid = store.start_run(experiment=experiment, variant="pair", seed=0, member=member, config=config,
                                  config_hash=f"h{member}")  # held out with the split seed, train.seed, as then)
            store.finish_run(rid, status="finished", history=[], env={}, files=False,
                             metrics={"test_accuracy": acc, "test_size": 160})
            ids.append(rid)
        store.save_committee(CommitteeRecord(experiment, "pair", 0, 0.5062, ids, [0.675, 0.6938], 1.0))
    (row,) = compare(store, "own")
    assert row["committee_acc"] is None and row["committees"] is None
    with pytest.raises(StoreError, match="its committee's members were scored on different test sets"):
        trained_runs(store, "own")
    (row,) = compare(store, "same")
    assert row["committee_acc"] == pytest.approx(0.5062)
    assert trained_runs(store, "same")[1] is not None


def test_by_name_a_repeat_the_file_no_longer_asks_for_is_not_counted(tmp_path: Path, data_dir: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Note 55 (helper-234): after `repeats` went from 3 to 2, `compare NAME` counted n=3 where
    `compare FILE` counted 2; the left-out run is said, and a model chosen by name is of those 2."""
    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "a"\nrepeats = 3\n')  # (not
    store = RunStore(tmp_path / "s")  # a smoke run's size: those are weighed by size, not cell)
    first = run_experiment(p, store, data_dir=data_dir, progress="none")
    p.write_text(p.read_text().replace("repeats = 3", "repeats = 2"))
    run_experiment(p, store, data_dir=data_dir, progress="none")  # nothing trains: the plan now has 2 cells
    name = first.experiment.name
    by_name, by_file = compare(store, name), compare(store, p)
    assert [r["n"] for r in by_name] == [r["n"] for r in by_file] == [2]
    assert by_name[0]["run_ids"] == by_file[0]["run_ids"]
    dropped = next(o.record.run_id for o in first.outcomes if o.record.seed == 2)
    assert dropped not in by_name[0]["run_ids"]
    assert main(["compare", name, "--store", str(store.root)]) == 0
    assert "1 run of other settings not shown (an older version of a variant or of its data, a repeat or member its " \
           "file no longer asks for" in capsys.readouterr().err
    assert load_trained(store, name, pick="latest").run_id != dropped
    small = write(tmp_path, 'name = "small"\n' + TINY + '[[variants]]\nname = "a"\nrepeats = 3\n', "small.toml")  # a
    # file of a smoke run's size: its runs are smoke-sized, and a repeat it dropped is still left out
    run_experiment(small, store, data_dir=data_dir, progress="none")
    small.write_text(small.read_text().replace("repeats = 3", "repeats = 2"))
    run_experiment(small, store, data_dir=data_dir, progress="none")
    assert [r["n"] for r in compare(store, "small")] == [2]
    capsys.readouterr()  # helper-241: `compare --sort -test_accuracy` (runs' name) and `runs --sort test_acc` were refused
    assert main(["compare", name, "--store", str(store.root), "--sort", "-test_accuracy"]) == 0
    assert main(["runs", "--store", str(store.root), "--sort", "test_acc"]) == 0
    assert "error" not in capsys.readouterr().err


def test_compare_notes_runs_trained_in_different_precisions(tmp_path: Path, data_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """helper-244: with train.precision = "auto" a CNN trains in bf16 (where that pays) and a dense
    model in float32; a paper's table compared them unsaid (only the report said it)."""
    from mnistlab.cli import main

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n"train.precision" = "float32"\n[[variants]]\nname = "b"\n'
              '"train.precision" = "bf16"\n[[variants]]\nname = "c"\n"train.precision" = "float32"\n"train.lr" = 0.01\n')
    run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir)
    assert main(["compare", str(p), "--store", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert ('note: these runs trained in 2 precisions (float32: a, c; bf16: b: train.precision = "auto" picks bf16 where '
            'it pays): set train.precision = "float32" in [base] to compare them in one') in err, err
    assert main(["compare", str(p), "--store", str(tmp_path / "s"), "--variant", "a", "--variant", "c"]) == 0
    assert "precisions" not in capsys.readouterr().err  # the rows shown share one


def test_two_test_files_of_one_name_and_size_are_told_apart() -> None:
    """helper-249: a/test.csv and b/test.csv of 200 images each had one label, "test.csv (200 test
    images)", so --variant marked their rows against each other though their digests differ."""
    from mnistlab.comparison import mark_vs_best, test_sets

    def run(rid: str, folder: str, digest: str, acc: float) -> RunRecord:
        dataset = {"csv": f"{folder}/train.csv", "test": f"{folder}/test.csv"}
        return RunRecord(rid, "e", folder, 0, 0, {"dataset": dataset}, rid, "finished",
                         metrics={"test_accuracy": acc, "test_size": 200},
                         env={"data": {"checksums": {f"{folder}/train.csv": "t" + digest, f"{folder}/test.csv": digest}}})

    sets = test_sets([run("r1", "a", "aaa", 0.9), run("r2", "b", "bbb", 0.8), run("r3", "a", "aaa", 0.91)])
    assert sets["r1"] == sets["r3"] and sets["r1"][1] != sets["r2"][1]
    assert sets["r1"][1].startswith("test.csv (200 test images, #") and sets["r2"][1].startswith("test.csv (200 test images, #")
    rows = [{"variant": v, "n": 2, "test_acc": a, "test_acc_std": 0.01, "test_set": sets[r][1]}
            for v, a, r in (("a", 0.9, "r1"), ("b", 0.8, "r2"))]
    assert all(row["vs_best"] is None for row in mark_vs_best(rows))
    alone = test_sets([run("r1", "a", "aaa", 0.9)])
    assert alone["r1"][1] == "test.csv (200 test images)"  # one set: its plain label


def test_every_figure_column_of_compare_is_a_sort_key() -> None:
    # helper-258: `compare --sort -tta_val_gain` was refused though the README says any column's csv name sorts
    from mnistlab.cli.experiment_cmds import COMPARE_SORTS
    from mnistlab.comparison import COLUMNS

    not_figures = {"vs_best", "note", "run_ids", "committee_members", "smoke", "chosen_on_test", "test_set", "settings",
                   "val_is_test"}
    assert set(COLUMNS) - not_figures <= set(COMPARE_SORTS)


def test_a_name_two_files_recorded_under_is_noted_by_name_not_by_file(tmp_path: Path, data_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # helper-259: two students' copies of one file (one name) in one store: `compare NAME` showed Bob's lr01
    # row as Alice's, unsaid (only `run` warned of the other file)
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    alice.mkdir()
    bob.mkdir()
    text = 'name = "lab1"\n' + TINY + '[[variants]]\nname = "base"\n[[variants]]\nname = "lr01"\n'
    store = ["--store", str(tmp_path / "s")]
    run_experiment(write(alice, text.replace('name = "lr01"', 'name = "lr01"\n"train.lr" = 0.01')), RunStore(tmp_path / "s"),
                   data_dir=data_dir, progress="none")
    run_experiment(write(bob, text.replace('name = "lr01"', 'name = "lr01"\n"train.lr" = 0.003')), RunStore(tmp_path / "s"),
                   data_dir=data_dir, progress="none")
    capsys.readouterr()
    assert main(["compare", "lab1", *store]) == 0
    said = capsys.readouterr().err
    assert "these rows' variants have runs of 2 experiment files recorded under the name lab1 (" in said
    assert str(alice / "exp.toml") in said and str(bob / "exp.toml") in said
    assert main(["compare", str(alice / "exp.toml"), *store]) == 0
    assert "experiment files recorded under" not in capsys.readouterr().err  # a file's own runs
    # helper-262: one variant in both files: Bob's run hides Alice's in its row, and a copy whose variant is renamed
    # (recorded again from Alice's run, not trained twice) was credited to Alice's file
    one = 'name = "lab2"\n' + TINY + '[[variants]]\nname = "dense"\n'
    run_experiment(write(alice, one, "one.toml"), RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    run_experiment(write(bob, one.replace('name = "dense"', 'name = "dense"\n"train.lr" = 0.003'), "one.toml"),
                   RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    dave = tmp_path / "dave"
    dave.mkdir()
    run_experiment(write(dave, one.replace('name = "dense"', 'name = "wide"'), "one.toml"), RunStore(tmp_path / "s"),
                   data_dir=data_dir, progress="none")
    wide = next(r for r in RunStore(tmp_path / "s").runs(experiment="lab2") if r.variant == "wide")
    assert wide.env["same_run_as"] and wide.env["experiment_file"] == str(dave / "one.toml")
    from mnistlab.execute import from_other_file  # Dave's, not Alice's: `rm -e alice/one.toml` leaves it (the review)
    assert from_other_file(wide, str(alice / "one.toml")) and not from_other_file(wide, str(dave / "one.toml"))
    capsys.readouterr()
    assert main(["compare", "lab2", *store]) == 0
    said = capsys.readouterr().err
    assert "these rows' variants have runs of 3 experiment files recorded under the name lab2 (" in said


def test_a_rerun_of_a_shown_runs_seed_is_said_not_counted_by_name(tmp_path: Path, data_dir: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # helper-258: seeds 0, 0, 1 of one variant showed n=2 by name, unsaid (chosen run ids said it)
    from mnistlab.run import train

    for seed in (0, 0, 1):
        train("mnist", "seed000-dense", 1, data_dir=data_dir, store=tmp_path / "s", experiment="rev", variant="v",
              subset=300, seed=seed, progress="none")
    capsys.readouterr()
    assert main(["compare", "rev", "--store", str(tmp_path / "s"), "--format", "json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)[0]["n"] == 2
    assert "note: 1 rerun of a shown run's setting and seed not counted (a cell counts its latest result once" in got.err
