"""`mnistlab models` and `mnistlab summary`: list the presets, print a model's Keras-style summary."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from mnistlab.errors import SpecError
from mnistlab.models import format_summary, summarize
from mnistlab.presets import list_presets, resolve_model
from mnistlab.specs import save_model_spec, spec_warnings


@click.command("models")
def models_command() -> None:
    """List the preset models with their parameter counts."""
    table = Table(title="mnistlab presets (use the name wherever a model is asked for)")
    table.add_column("name", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("description")
    for preset in list_presets():
        table.add_row(preset.name, f"{summarize(preset.spec).total:,}", preset.source, preset.description)
    Console().print(table)


@click.command("summary")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of the table.")
@click.option("--save", type=click.Path(dir_okay=False), default=None,
              help="Also write the model's full spec to this .toml or .json file (a starting point to edit).")
def summary_command(model: str, as_json: bool, save: str | None) -> None:
    """Print MODEL's layer table, parameter counts and multiply-adds, as Keras's model.summary().

    MODEL is a preset name (see `mnistlab models`), a .toml / .json spec file, or an inline JSON
    spec such as '{"conv": [32, 32], "dense": [128]}'.
    """
    spec = resolve_model(_inline_json(model) if model.lstrip().startswith(("{", "[")) else model)
    summary = summarize(spec)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo(format_summary(summary))
    for message in spec_warnings(spec):
        click.echo(f"warning: {message}", err=True)
    if save:
        save_model_spec(spec, save)
        click.echo(f"wrote {save}", err=True)


def _inline_json(text: str) -> dict[str, Any] | list[Any]:
    """MODEL given as JSON; it starts with { or [, so it parses to a dict or a list, or raises."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SpecError(f"MODEL looks like inline JSON but is not valid: {' '.join(str(exc).split())[:80]}") from None


COMMANDS: list[click.Command] = [models_command, summary_command]
