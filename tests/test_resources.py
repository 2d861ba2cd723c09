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
