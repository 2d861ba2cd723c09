"""An experiment file's [resources] table and a variant's own resources: parsing and bad input
(one line naming the file's line, before anything trains). Their use on Ray: tests/test_ray.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_experiments import TINY, write

from mnistlab.cli import main
from mnistlab.errors import SpecError
from mnistlab.experiments import Resources, load_experiment
from mnistlab.store import RunStore


def test_resources_table_and_a_variants_own_resources_parse(tmp_path: Path) -> None:
    p = write(tmp_path, '[resources]\nbackend = "ray"\naddress = "auto"\ncpus_per_cell = 2\ngpus_per_cell = 0.5\n'
              + TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\nresources = { cpus = 3, gpus = 2 }\n')
    exp = load_experiment(p)
    assert exp.resources == Resources("ray", "auto", 2.0, 0.5)
    cells = {c.variant: c for c in exp.cells()}
    assert (cells["a"].cpus, cells["a"].gpus) == (None, None)  # the experiment's amounts apply
    assert (cells["b"].cpus, cells["b"].gpus) == (3.0, 2.0)
    assert cells["a"].key == load_experiment(write(tmp_path, TINY + '[[variants]]\nname = "a"\n', "plain.toml")).cells()[0].key
    assert load_experiment(write(tmp_path, TINY, "none.toml")).resources == Resources()  # nothing said: all None


BAD = {
    "unknown key": ("[resources]\ncpu_per_cell = 2\n", 3, 'unknown key "cpu_per_cell" (did you mean "cpus_per_cell"?)'),
    "negative gpus": ("[resources]\ngpus_per_cell = -1\n", 3, "gpus_per_cell: must be at least 0, got -1"),
    "zero cpus": ("[resources]\ncpus_per_cell = 0\n", 3, "cpus_per_cell: must be above 0, got 0"),
    "gpu fraction above 1": ("[resources]\ngpus_per_cell = 1.5\n", 3, "a GPU fraction must be at most 1"),
    "not a number": ('[resources]\ncpus_per_cell = "two"\n', 3, "cpus_per_cell: must be a number of CPUs"),
    "unknown backend": ('[resources]\nbackend = "dask"\n', 3, 'backend: must be "local" or "ray"'),
    "address without ray": ('[resources]\naddress = "auto"\n', 3, 'address: only applies with backend = "ray"'),
    "variant: unknown key": ('', 13, 'resources: unknown key "cpu" (did you mean "cpus"?)'),
    "variant: negative": ('', 13, "resources: cpus: must be above 0, got -2"),
}
VARIANT_BAD = {"variant: unknown key": "resources = { cpu = 2 }", "variant: negative": "resources = { cpus = -2 }"}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_resources_are_one_line_naming_the_line_before_training(case: str, tmp_path: Path, data_dir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    head, line, message = BAD[case]
    text = "\n" + head + TINY + '[[variants]]\nname = "a"\n' + VARIANT_BAD.get(case, "") + "\n"
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_experiment(p)
    assert message in str(err.value) and str(err.value).startswith(f"{p}:{line}: "), str(err.value)
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    out = capsys.readouterr().err.strip()
    assert len(out.splitlines()) == 1 and message in out and "Traceback" not in out
    assert RunStore(tmp_path / "s").runs() == []


def test_every_resources_mistake_is_said_with_the_variants_before_training(tmp_path: Path, data_dir: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """helper-115: a [resources] table of two mistakes, beside a variant's bad resources and a typo,
    said its first mistake alone: one run per mistake to find them all."""
    text = ('[resources]\ncpus_per_cell = -2\ngpus_per_cell = "x"\n' + TINY + '[[variants]]\nname = "a"\n'
            'resources = { cpus = -1 }\n[[variants]]\nname = "b"\n"train.lrr" = 1\n')
    p = write(tmp_path, text)
    lines = p.read_text().splitlines()
    at = [lines.index(k) + 1 for k in ("cpus_per_cell = -2", 'gpus_per_cell = "x"', "resources = { cpus = -1 }",
                                       '"train.lrr" = 1')]
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [e.split(": ")[1] for e in err] == [f"{p}:{n}" for n in at], err
    assert "cpus_per_cell: must be above 0" in err[0] and "gpus_per_cell: must be a number of GPUs" in err[1]
    assert not (tmp_path / "s").exists() or RunStore(tmp_path / "s").runs() == []


@pytest.mark.parametrize("flag,value", [("--cpus-per-cell", "nan"), ("--cpus-per-cell", "inf"),
                                        ("--gpus-per-cell", "nan"), ("--gpus-per-cell", "-inf")])
def test_a_per_cell_amount_that_is_not_finite_is_one_line_exit_2_before_ray_starts(
        flag: str, value: str, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # were Ray reached, it would say "not installed" instead
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray",
                 flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"error: Invalid value for '{flag}': {value!r} is not a finite number"], err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_resources_table_amount_that_is_not_finite_is_refused_naming_the_line(value: str, tmp_path: Path) -> None:
    p = write(tmp_path, f"[resources]\ncpus_per_cell = {value}\n" + TINY)
    with pytest.raises(SpecError, match=f"{p}:2: .*cpus_per_cell: must be a number of CPUs, got float {value}"):
        load_experiment(p)


def test_runner_refuses_amounts_that_are_not_finite() -> None:
    from mnistlab.backends import RayRunner

    for cpus, gpus in ((float("nan"), 0.0), (1.0, float("inf")), (float("inf"), 0.0)):
        with pytest.raises(SpecError, match="--cpus-per-cell must be above 0"):
            RayRunner(cpus_per_cell=cpus, gpus_per_cell=gpus)


def test_per_cell_flags_on_the_local_backend_warn_that_they_are_ignored(tmp_path: Path, data_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--cpus-per-cell", "2"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warned == ["warning: --cpus-per-cell applies with --backend ray: the local backend ignores it"]
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "local",
                 "--cpus-per-cell", "2", "--gpus-per-cell", "1"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warned == ["warning: --cpus-per-cell and --gpus-per-cell apply with --backend ray: the local backend "
                      "ignores them"]
    # helper-115: a variant's own resources were ignored on the local backend without a word
    q = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "big"\nresources = { cpus = 2 }\n',
              "own.toml")
    assert main(["run", str(q), "--store", str(tmp_path / "s2"), "--data-dir", str(data_dir)]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warned == ["warning: variant big: resources (cpus, gpus) apply with --backend ray: the local backend "
                      "ignores them"]
