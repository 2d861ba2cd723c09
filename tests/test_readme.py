"""The README's examples must work as written: every TOML block loads, every command exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mnistlab.cli import cli
from mnistlab.experiments import load_experiment
from mnistlab.specs import load_model_spec

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", README, flags=re.S)


def test_readme_has_its_examples() -> None:
    assert len(TOML_BLOCKS) >= 2


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=lambda b: b.splitlines()[0][:30])
def test_every_toml_block_loads(block: str, tmp_path: Path) -> None:
    path = tmp_path / "example.toml"
    path.write_text(block)
    if "[base]" in block:
        exp = load_experiment(path)
        assert exp.search is not None or exp.cells()  # a search has trials, not cells
    else:
        assert load_model_spec(path).layers


def test_every_command_in_the_tour_exists() -> None:
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", README, flags=re.S))
    used = set(re.findall(r"(?:^|/)mnistlab ([a-z-]+)", shell, flags=re.M))
    assert used and used <= set(cli.commands), used - set(cli.commands)
