"""`mnistlab models` and `mnistlab summary`: list the presets, print a model's Keras-style summary."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from mnistlab.cli._common import PathArg, experiment_file, model_arg, one_variant, store_option, variant_configs
from mnistlab.cli._output import Column, emit, format_option
from mnistlab.errors import SpecError
from mnistlab.files import display_name


MODEL_COLUMNS = (Column("name", "name", whole=True), Column("params", "params", "{:,}".format, right=True, whole=True),
                 Column("source", "source", drop=1), Column("description", "description"))


@click.command("models")
@format_option()
def models_command(fmt: str) -> None:
    """List the preset models with their parameter counts."""
    from mnistlab.presets import list_presets
    from mnistlab.summary import summarize

    rows = [{"name": p.name, "params": summarize(p.spec).total, "source": p.source, "description": p.description}
            for p in list_presets()]
    emit(rows, MODEL_COLUMNS, fmt, title="mnistlab presets (use the name wherever a model is asked for)")


@click.command("summary")
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: Keras's layout; json: the layers, counts and memory as one object, for scripts.")
@click.option("--json", "as_json", is_flag=True, hidden=True)  # the older spelling of --format json
@click.option("--save", type=PathArg(dir_okay=False), default=None,
              help="Also write the model's full spec to this .toml or .json file (a starting point to edit).")
@click.option("--variant", multiple=True, callback=one_variant,
              help="With an experiment file: the variant whose model to show (needed when their models differ).")
@store_option("store_path")
def summary_command(model: str, fmt: str, as_json: bool, save: str | None, variant: str | None,
                    store_path: str | None) -> None:
    """Print MODEL's layer table, parameter counts and multiply-adds, as Keras's model.summary().

    MODEL is a preset name (see `mnistlab models`), a .toml / .json spec file, a spec inline, as
    JSON or TOML: '{ conv = [32, 32], dense = [128] }', an experiment file (its variant's model,
    for its dataset's images, before anything trains; the training memory at its optimizer and batch),
    or a recorded run's id (or unique prefix) in the store: the model it trained.
    """
    from mnistlab.presets import resolve_model
    from mnistlab.specs import save_model_spec, spec_warnings
    from mnistlab.summary import format_summary, recorded_memory, run_memory, summarize

    as_json = as_json or fmt == "json"  # (helper-173: every other command says --format json)
    if save is not None and Path(save).suffix.lower() not in (".toml", ".json"):  # said before the table (helper-241)
        raise SpecError(f"{save}: a model spec file must end in .toml or .json", source=save)
    memory = None
    if experiment_file(model):
        configs = variant_configs(model, variant)
        specs = {name: cfg.model_spec() for name, cfg in configs.items()}
        spec = next(iter(specs.values()))
        # the training memory at the variant's own optimizer and batch (the most any variant needs),
        # as the run checks it before training: not the summary's adam at batch 32
        memory = max((run_memory(cfg, specs[name], cfg.data.subset or cfg.train.batch_size)
                      for name, cfg in configs.items()), key=lambda m: m.total)
        if any(s != spec for s in specs.values()):
            names = ", ".join(f'"{n}"' for n in specs)  # quoted: a grid's names hold commas
            whose = f'the variants of "{variant}"' if variant else "its variants"  # a grid's entry, named whole
            raise SpecError(f"{model}: {whose} have different models: give --variant (one of {names})")
    else:
        try:
            spec = resolve_model(model_arg(None, None, model))  # a missing file says so first (helper-140), with
        except SpecError:  # --variant too
            if (recorded := _recorded_run(model, store_path)) is None:  # helper-154: a run's id was "unknown model"
                raise
            rec, spec = recorded
            memory = recorded_memory(rec.config, rec.metrics.get("train_size"))  # its optimizer and batch
        if variant is not None:
            raise SpecError(f"--variant names a variant of an experiment file, and {model} is none")
    summary = summarize(spec)
    if memory is not None:
        summary = dataclasses.replace(summary, memory=memory)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo(format_summary(summary))
    for message in spec_warnings(spec):
        click.echo(f"warning: {message}", err=True)
    if save:
        save_model_spec(spec, save)
        click.echo(f"wrote {display_name(save)}", err=True)


def _recorded_run(model: str, store_path: str | None) -> tuple[Any, Any] | None:
    """The recorded run (``model``: its id or unique prefix) of the store at ``store_path`` and the
    ModelSpec it trained, or None where ``model`` names no such run there (or there is no store)."""
    import re

    from mnistlab.errors import MnistlabError
    from mnistlab.specs import ModelSpec
    from mnistlab.store import RunStore

    if not re.fullmatch(r"[0-9a-f]{4,10}", model):  # a run id's shape (a preset's typo keeps its own error)
        return None
    try:
        with RunStore(store_path, create=False) as store:
            rec = store.get(model)
        return rec, ModelSpec.from_dict(rec.config["model"])
    except (MnistlabError, KeyError, TypeError, ValueError):  # no store, no such run, a config without a model
        return None


COMMANDS: list[click.Command] = [models_command, summary_command]
