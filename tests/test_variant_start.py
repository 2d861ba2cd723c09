"""Two phases of fine-tuning in one experiment file: a variant that starts from the weights another
variant trains (``weights = { variant = "pretrain" }``). Real runs on the real MNIST files, real
stores, the CLI's own entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mnistlab.cli import main
from mnistlab.errors import DataError, SpecError
from mnistlab.execute import run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.store import RunStore

HEAD = ('name = "two"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n'
        "[base.data]\nsubset = 600\n[base.train]\nepochs = 1\n")
PRE = '[[variants]]\nname = "pre"\n'
FINE = ('[[variants]]\nname = "fine"\ndataset = "fashion-mnist"\nweights = { variant = "pre" }\n'
        '"model.layers[1].trainable" = false\n')


def _file(tmp_path: Path, text: str, name: str = "two.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _weights(store: RunStore, run_id: str) -> dict[str, torch.Tensor]:
    return load_file(store.artifact_dir(run_id) / "weights.safetensors")


def test_a_variant_trains_from_the_weights_another_variant_trained_first(data_dir: Path, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    path = _file(tmp_path, HEAD + FINE + PRE)  # (written before the variant it starts from: trained after it all the same)
    result = run_experiment(path, store, data_dir=data_dir, progress="none")
    runs = {r.variant: r for r in store.runs(experiment="two")}
    assert set(runs) == {"pre", "fine"} and all(r.status == "finished" for r in runs.values())
    assert runs["fine"].created_at > runs["pre"].created_at
    assert runs["fine"].metrics["initial_weights"]["runs"] == [runs["pre"].run_id]
    assert runs["fine"].config["weights"]["file"] == str(store.artifact_dir(runs["pre"].run_id) / "weights.safetensors")
    pre, fine = _weights(store, runs["pre"].run_id), _weights(store, runs["fine"].run_id)
    assert torch.equal(pre["dense.weight"], fine["dense.weight"])  # frozen: the first phase's, loaded, kept
    assert not torch.equal(pre["dense_1.weight"], fine["dense_1.weight"])  # trained on in the second phase
    assert [row["variant"] for row in result.rows] == ["fine", "pre"]  # the file's order
    again = run_experiment(path, store, data_dir=data_dir, progress="none")  # nothing new: both found done by their keys
    assert all(o.skipped for o in again.outcomes) and len(again.outcomes) == 2 and len(store.runs()) == 2


def test_each_repeat_starts_from_the_run_of_its_own_number_or_the_one_run(data_dir: Path, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    text = (HEAD + PRE + "repeats = 2\n" + FINE + "repeats = 2\n"
            + '[[variants]]\nname = "one"\nrepeats = 1\n[[variants]]\nname = "many"\nrepeats = 2\n'
            'weights = { variant = "one" }\n"train.lr" = 1e-4\n')
    run_experiment(_file(tmp_path, text), store, data_dir=data_dir, progress="none")
    runs = store.runs(experiment="two")
    by = {(r.variant, r.repeat): r for r in runs}
    for repeat in (0, 1):
        assert by[("fine", repeat)].metrics["initial_weights"]["runs"] == [by[("pre", repeat)].run_id]
        assert by[("many", repeat)].metrics["initial_weights"]["runs"] == [by[("one", 0)].run_id]


def test_force_trains_the_start_again_then_the_variants_from_its_new_runs(data_dir: Path, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    path = _file(tmp_path, HEAD + PRE + FINE)
    run_experiment(path, store, data_dir=data_dir, progress="none")
    run_experiment(path, store, data_dir=data_dir, force=True, progress="none")
    pre = [r for r in store.runs(experiment="two") if r.variant == "pre"]
    fine = [r for r in store.runs(experiment="two") if r.variant == "fine"]
    assert len(pre) == len(fine) == 2
    assert fine[-1].metrics["initial_weights"]["runs"] == [pre[-1].run_id]


def test_a_start_that_did_not_finish_leaves_its_variant_untrained_and_says_so(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = HEAD + PRE + '"train.optimizer" = "sgd"\n"train.lr" = 100\n' + FINE  # pre diverges
    path = _file(tmp_path, text)
    code = main(["run", str(path), "--data-dir", str(data_dir), "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    store = RunStore(tmp_path / "store")
    assert code == 1 and [r.variant for r in store.runs()] == ["pre"] and store.runs()[0].status == "diverged"
    assert ('1 run of variant "fine" not trained: it starts from the weights of variant "pre"\'s run of the same seed, '
            "which did not finish") in err
    assert "Traceback" not in err


def test_the_data_of_a_later_variant_is_checked_before_anything_trains(data_dir: Path, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")  # a store that is there: the cells are checked once it is read
    text = HEAD + PRE + FINE.replace('dataset = "fashion-mnist"', 'dataset = { folder = "missing" }')
    with pytest.raises((DataError, SpecError), match=r"variant \"fine\": dataset: folder: no such folder: .*missing"):
        run_experiment(_file(tmp_path, text), store, data_dir=data_dir, progress="none")
    assert store.runs() == []


def test_compare_status_and_dry_run_know_the_later_variants_runs(data_dir: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, HEAD + PRE + FINE)
    flags = ["--data-dir", str(data_dir), "--store", str(tmp_path / "store")]
    assert main(["run", str(path), "--quick", *flags]) == 0
    capsys.readouterr()
    assert main(["run", str(path), "--quick", "--dry-run", *flags]) == 0
    said = capsys.readouterr()
    assert "nothing to train" in said.out + said.err
    assert main(["compare", str(path), "--quick", "--store", str(tmp_path / "store")]) == 0
    out = capsys.readouterr()
    assert "\nfine " in out.out and "no run of its current cells" not in out.err
    assert main(["run", str(path), "--dry-run", *flags]) == 0  # full size: both to train, the second after the first
    assert "2 runs to train (1 of them starts from runs still to train: where those end with the weights" in (
        capsys.readouterr().out)


def test_a_pending_variant_says_it_trains_again_from_new_runs_not_that_its_weights_went(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, HEAD + PRE + FINE)
    flags = ["--data-dir", str(data_dir), "--store", str(tmp_path / "store")]
    assert main(["run", str(path), *flags]) == 0
    path.write_text(HEAD + PRE + '"train.lr" = 0.01\n' + FINE)
    capsys.readouterr()
    assert main(["run", str(path), *flags]) == 0
    said = capsys.readouterr()
    err = said.out + said.err
    assert ('variant "fine": the runs of variant "pre" it starts from train again first; its cells train again from '
            "them, unless they end with the weights its runs started from") in err
    assert "weights.file" not in err


@pytest.mark.parametrize("pre, fine, said, line", [
    ("", 'weights = { variant = "pree" }', 'weights.variant: no variant "pree" in this file (did you mean "pre"?)', 14),
    ("", 'weights = { variant = "fine" }', '"fine" starts from its own weights', 14),
    ('weights = { variant = "fine" }', 'weights = { variant = "pre" }',
     "variants that start from each other in a circle (pre -> fine -> pre): one must start fresh", 11),
    ("repeats = 2", 'weights = { variant = "pre" }\nrepeats = 3', '3 repeats start from "pre"\'s 2', 14),
    ("committee = 2", 'weights = { variant = "pre" }\ncommittee = 3', '3 committee members start from "pre"\'s 2', 14),
    ('grid = { "train.lr" = [0.1, 0.01] }', 'weights = { variant = "pre" }',
     "\"pre\" is a grid of 2 variants: name the one to start from ('pre,lr=0.1', 'pre,lr=0.01')", 14),
    ("", 'weights = { variant = "pre" }\n"model.layers[1].units" = 64',
     "no layer of this model fits them (dense shaped (128, 784) in its model, (64, 784) here", 14),
    ("", 'weights = { variant = "pre" }\n"model.layers[2].units" = 26',
     "dense_1 shaped (10, 128) in its model, (26, 128) here; set weights.skip_mismatch = true", 14),
    ("", 'weights = { variant = "pre", file = "x.safetensors" }', "weights: a file or a variant to start from, not both", 14),
    ("", 'weights = { variant = "pre", skip = true }', 'weights: unknown key "skip"; known keys: variant, skip_mismatch', 14),
    ("", "weights = { variant = 3 }", "weights.variant: must name a variant of this file, got integer 3", 14),
    ("", 'weights = { variant = "" }', "weights.variant: must name a variant of this file", 14),
    ("", 'weights = { variant = "pre", skip_mismatch = "yes" }', "weights.skip_mismatch: must be true or false", 14),
    ("", 'weights = { varient = "pre" }', 'unknown key "varient" (did you mean "variant"?); known keys: file, variant', 14),
    ("", 'weights = "pre"', 'in an experiment file, weights = { variant = "pre" } starts from that variant', 14),
    ("", 'weights = { variant = "pre" }\n"weights.skip_mismatch" = true', 'sets weights whole (weights = { ... }) and '
     '"weights.skip_mismatch" beside it: write skip_mismatch inside that table (weights = { variant = ..., '
     'skip_mismatch = ... })', 15),  # (note 53: said weights "is not set in the base: set it whole instead")
])
def test_mistakes_of_a_start_are_one_line_at_their_key_before_anything_trains(
        pre: str, fine: str, said: str, line: int, tmp_path: Path, data_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    text = HEAD + PRE + pre + '\n[[variants]]\nname = "fine"\n' + fine + "\n"
    path = _file(tmp_path, text)
    code = main(["run", str(path), "--data-dir", str(data_dir), "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code == 2 and said in err and f"two.toml:{line}:" in err and "Traceback" not in err
    assert not (tmp_path / "store").exists()


def test_a_base_start_with_a_fresh_variant_and_a_search_that_cannot_have_one(tmp_path: Path) -> None:
    exp = load_experiment(_file(tmp_path, HEAD.replace('model = "seed000-dense"\n', 'model = "seed000-dense"\n'
                                                       'weights = { variant = "pre", skip_mismatch = true }\n')
                                + PRE + "weights = false\n" + '[[variants]]\nname = "tuned"\n"weights.skip_mismatch" = false\n'))
    starts = {v.name: v.start for v in exp.variants}
    assert starts["pre"] is None and starts["tuned"] is not None and starts["tuned"].skip_mismatch is False
    cells = {c.variant: c for c in exp.cells()}
    assert cells["tuned"].pending and cells["tuned"].after == "pre" and "weights" not in cells["tuned"].config
    search = HEAD.replace("[base.data]", 'weights = { variant = "x" }\n[base.data]') + (
        '[search]\ntrials = 2\n"train.lr" = { low = 1e-4, high = 1e-2, log = true }\n')
    with pytest.raises(SpecError, match="a search has no variants to start from"):
        load_experiment(_file(tmp_path, search, "search.toml"))


def test_a_diverged_start_is_said_as_such_again_by_dry_run_and_compare_and_no_repeat_is_told_twice(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review: a second run after a diverged start said "did not finish" without a way out, dry-run
    said its variant "to train" (it never trains), compare "`mnistlab run` trains it"; and a cell
    recorded from its twin's run was told after every level."""
    text = (HEAD + PRE + '"train.optimizer" = "sgd"\n"train.lr" = 100\n' + FINE
            + '[[variants]]\nname = "twin"\n')  # twin: the base's own config and seed, as "pre" is not
    path = _file(tmp_path, text)
    flags = ["--data-dir", str(data_dir), "--store", str(tmp_path / "store")]
    for _ in range(2):
        assert main(["run", str(path), *flags]) == 1
        err = capsys.readouterr().err
        assert ('1 run of variant "fine" not trained: it starts from the weights of variant "pre"\'s run of the same '
                "seed, which did not finish (diverged); a run that diverged or failed is not trained again as it is: "
                'change variant "pre"\'s settings') in err
    assert main(["run", str(path), "--dry-run", *flags]) == 0
    said = capsys.readouterr()
    assert "nothing to train" in said.out + said.err
    assert 'variant "fine": 1 run not to train: it starts from variant "pre"\'s run of the same seed' in said.err
    assert main(["compare", str(path), "--store", str(tmp_path / "store")]) == 0
    assert 'variant "fine" has no run yet: it starts from the runs of variant "pre", none of which has finished' in (
        capsys.readouterr().err)


def test_a_cell_recorded_from_its_twins_run_is_told_once_in_a_sweep_of_levels(data_dir: Path, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    text = HEAD + PRE + '[[variants]]\nname = "pre2"\n' + FINE  # pre2: pre's config and seed, recorded from its run
    result = run_experiment(_file(tmp_path, text), store, data_dir=data_dir, progress="none")
    assert sorted(o.cell.variant for o in result.outcomes) == ["fine", "pre", "pre2"]
    assert [o.copied for o in result.outcomes if o.cell.variant == "pre2"] == [True]


def test_a_base_start_lets_a_variant_set_skip_mismatch(tmp_path: Path) -> None:
    """Review: with weights = { variant = ... } in [base], a variant's "weights.skip_mismatch" (or a
    table of its own) was refused: 'the base has no key "skip_mismatch"'."""
    head = HEAD.replace("[base.data]", 'weights = { variant = "pre" }\n[base.data]')
    for own in ('"weights.skip_mismatch" = true', 'weights = { variant = "pre", skip_mismatch = true }'):
        exp = load_experiment(_file(tmp_path, head + PRE + "weights = false\n" + f'[[variants]]\nname = "b"\n{own}\n'))
        start = {v.name: v.start for v in exp.variants}["b"]
        assert start is not None and start.skip_mismatch is True


def test_by_name_every_seed_of_a_later_variant_counts_and_a_run_is_picked_among_them(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-208: `compare NAME` (and card, predict, export by name) kept one seed of a variant that
    starts from another's runs: each seed's start is another file, read as "other settings"."""
    from mnistlab.comparison import compare

    store = RunStore(tmp_path / "store")
    path = _file(tmp_path, HEAD.replace('name = "two"', 'name = "two"\nrepeats = 2') + PRE + FINE)
    by_file = {row["variant"]: row for row in run_experiment(path, store, data_dir=data_dir, progress="none").rows}
    by_name = {row["variant"]: row for row in compare(store, "two")}
    assert by_name["fine"]["n"] == by_file["fine"]["n"] == 2
    assert main(["card", "two", "--variant", "fine", "--store", str(store.root)]) == 0
    card = capsys.readouterr().out
    assert "the best of 2 runs of variant fine" in card and "other settings" not in card
    assert main(["runs", "--where", "weights=pre", "--format", "json", "--store", str(store.root)]) == 0
    assert sorted(r["variant"] for r in json.loads(capsys.readouterr().out)) == ["fine", "fine"]
    assert main(["runs", "--where", "weights=none", "--format", "json", "--store", str(store.root)]) == 0
    assert sorted(r["variant"] for r in json.loads(capsys.readouterr().out)) == ["pre", "pre"]


def test_an_edit_of_a_later_variant_says_its_own_change_not_its_new_starts_path(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-208: "weights.file: "/work/.../mnistlab-r... -> "/work/.../mnistlab-r..."" beside the lr edited."""
    path = _file(tmp_path, HEAD + PRE + FINE)
    flags = ["--data-dir", str(data_dir), "--store", str(tmp_path / "store")]
    assert main(["run", str(path), *flags]) == 0
    path.write_text(HEAD + PRE + '"train.lr" = 0.01\n' + FINE + '"train.lr" = 0.002\n')
    capsys.readouterr()
    assert main(["run", str(path), *flags]) == 0
    said = capsys.readouterr()
    assert 'variant "fine": its settings changed since run ' in said.out + said.err
    assert "train.lr: 0.001 -> 0.002" in said.out + said.err and "weights.file" not in said.out + said.err


def test_force_trains_a_twin_variants_runs_again_and_its_later_variant_from_them(data_dir: Path, tmp_path: Path) -> None:
    """helper-208: after --force a variant of another's config and seed still named the runs before it,
    and the variant starting from it started from those."""
    store = RunStore(tmp_path / "store")
    text = HEAD + PRE + '[[variants]]\nname = "twin"\n' + FINE.replace('variant = "pre"', 'variant = "twin"')
    path = _file(tmp_path, text)
    run_experiment(path, store, data_dir=data_dir, progress="none")
    before = {r.run_id for r in store.runs()}
    run_experiment(path, store, data_dir=data_dir, progress="none", force=True)
    new = {r.variant: r for r in store.runs() if r.run_id not in before}
    assert sorted(new) == ["fine", "pre", "twin"]
    assert new["fine"].metrics["initial_weights"]["runs"] == [new["twin"].run_id]


def test_a_start_naming_a_variant_whose_table_is_wrong_says_that_tables_mistake_alone(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review: a later variant's start was checked only where no other variant was wrong; a start
    naming the wrong variant must not add "no variant" beside that variant's own mistake."""
    text = (HEAD + PRE + '"train.lrr" = 1\n' + '[[variants]]\nname = "x"\nweights = { variant = "pre" }\n'
            + '[[variants]]\nname = "y"\nweights = { variant = "nope" }\n')
    code = main(["run", str(_file(tmp_path, text)), "--data-dir", str(data_dir), "--store", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and 'variant "pre": "train.lrr"' in err and 'variant "y": weights.variant: no variant "nope"' in err
    assert 'variant "x"' not in err and err.count("error:") == 2


def test_the_later_variants_runs_found_done_are_said_as_the_first_phases_are(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-208: a rerun printed [1/2] of the first phase alone: the second's done runs went unsaid."""
    path = _file(tmp_path, HEAD + PRE + FINE)
    flags = ["--data-dir", str(data_dir), "--store", str(tmp_path / "store")]
    assert main(["run", str(path), *flags]) == 0
    capsys.readouterr()
    assert main(["run", str(path), *flags]) == 0
    out = capsys.readouterr().out
    assert out.startswith("experiment two: 2 runs") and "[1/2]" in out and "[2/2]" in out and "fine  seed 0: skipped" in out


def test_the_report_shows_a_later_variants_start_as_the_variant_not_one_seeds_file(
        data_dir: Path, tmp_path: Path) -> None:
    """helper-208: the report's config of a variant said seed 0's pretrain file for every seed."""
    path = _file(tmp_path, HEAD.replace('name = "two"', 'name = "two"\nrepeats = 2') + PRE + FINE)
    flags = ["--data-dir", str(data_dir), "--store", str(tmp_path / "store")]
    assert main(["run", str(path), *flags]) == 0
    assert main(["report", str(path), "-o", str(tmp_path / "r.html"), *flags]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "&quot;variant&quot;: &quot;pre&quot;" in page and "weights.safetensors" not in page


def test_show_gives_a_frozen_models_trainable_count_as_keras_summary_does(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-208: `show` gave the total alone (55,098 frozen or not); the card said the trainable count."""
    store = RunStore(tmp_path / "store")
    run_experiment(_file(tmp_path, HEAD + PRE + FINE), store, data_dir=data_dir, progress="none")
    runs = {r.variant: r for r in store.runs()}
    for variant, said in (("fine", "101,770 params (1,290 trainable)\n"), ("pre", "101,770 params\n")):
        assert main(["show", runs[variant].run_id, "--store", str(store.root)]) == 0
        assert said in capsys.readouterr().out


def test_a_start_naming_a_committee_across_variants_says_so_and_show_says_a_start_deleted(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-210: `weights = { variant = "ab" }` of a [[committees]] table read as a typo ("did you
    mean b?"); `show` of a run whose start was deleted named its gone file as if there."""
    text = HEAD + PRE + '[[variants]]\nname = "f"\nweights = { variant = "ab" }\n[[committees]]\nname = "ab"\n' \
        'variants = ["pre", "f"]\n'
    with pytest.raises(SpecError, match='"ab" is a committee across variants \\(\\[\\[committees\\]\\]\\)'):
        load_experiment(_file(tmp_path, text, "c.toml"))
    store = RunStore(tmp_path / "store")
    run_experiment(_file(tmp_path, HEAD + PRE + FINE), store, data_dir=data_dir, progress="none")
    runs = {r.variant: r for r in store.runs()}
    assert main(["rm", runs["pre"].run_id, "--store", str(store.root)]) == 0
    capsys.readouterr()
    assert main(["show", runs["fine"].run_id, "--store", str(store.root)]) == 0
    assert f"initial weights run {runs['pre'].run_id}'s (" in (out := capsys.readouterr().out)
    assert "(that run deleted since)\n" in out


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_starts_fresh_layers_are_said_of_its_cell_in_a_sweep(jobs: str, tmp_path: Path, data_dir: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Note 53's leftover: "weights: 2 layers of 3 keep their fresh initialisation" among a sweep's lines
    (with --jobs 2 too) said not which variant's runs they were."""
    text = (HEAD.replace('model = "seed000-dense"', "model = { dense = [8] }") + PRE + '[[variants]]\nname = "deeper"\n'
            'weights = { variant = "pre", skip_mismatch = true }\n"model.dense" = [8, 8]\n')
    code = main(["run", str(_file(tmp_path, text)), "--data-dir", str(data_dir), "--store", str(tmp_path / "s"),
                 "--jobs", jobs])
    err = capsys.readouterr().err
    assert code == 0 and 'warning: variant "deeper" (seed 0): weights: 2 layers of 3 keep their fresh initialisation' in err


def test_a_dry_run_knows_a_start_recorded_again_from_another_variants_run(data_dir: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """helper-234: a variant starting from one whose config another variant's run trained ("pre-copy",
    recorded again from "pre"'s run) was said by `run --dry-run` to wait on a run that "ended without
    finishing", nothing to train; `run` then trained it. Renamed, its finished runs were said to train again."""
    path = _file(tmp_path, HEAD + PRE + FINE)
    flags = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(path), *flags]) == 0
    copy = FINE.replace('"fine"', '"fine-copy"').replace('"pre"', '"pre-copy"').replace("= false", "= true")
    _file(tmp_path, HEAD + PRE + FINE + PRE.replace('"pre"', '"pre-copy"') + copy)
    capsys.readouterr()
    assert main(["run", str(path), "--dry-run", *flags]) == 0
    out, err = capsys.readouterr()
    assert "ended without finishing" not in err and "1 run to train" in out
    assert [line.split()[:3] for line in out.splitlines() if line.startswith("fine-copy")] == [["fine-copy", "0", "1"]]
    assert main(["run", str(path), *flags]) == 0
    assert "fine-copy  seed 0: finished, test acc" in capsys.readouterr().out  # trained, as the dry run said
    renamed = (HEAD + PRE + FINE + PRE.replace('"pre"', '"pre-copy"') + copy).replace('"pre-copy"', '"pre-again"')
    _file(tmp_path, renamed)
    assert main(["run", str(path), "--dry-run", *flags]) == 0  # renamed: nothing to train, as `run` then finds
    out, err = capsys.readouterr()
    assert "nothing to train" in out and "train again" not in err, (out, err)
    assert main(["run", str(path), *flags]) == 0
    assert "fine-copy  seed 0: skipped (already finished)" in capsys.readouterr().out
