"""`mnistlab run / runs / show / compare / rm`: experiments and the run store (parsing only)."""

from __future__ import annotations

import json
import time

import click

from mnistlab.cli._common import open_store, store_option
from mnistlab.errors import MnistlabError

_STORE = store_option()


def _console():  # noqa: ANN202
    import sys

    from rich.console import Console

    # Piped output (files, CI logs, tests) gets wide tables instead of 80-column truncation.
    return Console(width=None if sys.stdout.isatty() else 200)


@click.command("run")
@click.argument("experiment", type=click.Path(dir_okay=False))
@_STORE
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Train this many cells at once, in separate processes splitting the cores.")
@click.option("--force", is_flag=True, help="Rerun cells already finished in the store.")
@click.option("--quick", is_flag=True, help="A small data subset, 1 epoch, 1 repeat, 2 committee members (smoke test).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Folder holding the datasets.")
def run_cmd(experiment: str, store: str | None, jobs: int, force: bool, quick: bool, data_dir: str | None) -> None:
    """Train every cell of an EXPERIMENT file not already finished, printing the comparison."""
    from rich.live import Live

    from mnistlab.comparison import rich_table
    from mnistlab.execute import run_experiment
    from mnistlab.experiments import load_experiment

    exp = load_experiment(experiment)
    st = open_store(store, create=True)
    n = len(exp.cells(quick=quick))
    console = _console()
    console.print(f"experiment [bold]{exp.name}[/]: {n} runs, store {st.root}")
    with Live(rich_table([], title=exp.name), console=console, auto_refresh=False) as live:
        def on_cell(outcome, rows) -> None:  # noqa: ANN001
            rec = outcome.record
            acc = rec.metrics.get("test_accuracy")
            how = "skipped (already finished)" if outcome.skipped else rec.status
            live.console.print(f"  {rec.run_id}  {outcome.cell.variant}  seed {outcome.cell.seed}: {how}"
                               + (f", test acc {100 * acc:.2f}%" if isinstance(acc, float) else "")
                               + (f" ({rec.message})" if rec.message and not outcome.skipped else ""))
            live.update(rich_table(rows, title=exp.name), refresh=True)

        result = run_experiment(exp, st, jobs=jobs, force=force, quick=quick, data_dir=data_dir, on_cell=on_cell)
        live.update(rich_table(result.rows, title=exp.name), refresh=True)


@click.command("runs")
@_STORE
@click.option("--experiment", "-e", default=None, help="Only this experiment's runs.")
@click.option("--status", "-s", default=None, help="Only runs with this status (running, finished, ...).")
def runs_cmd(store: str | None, experiment: str | None, status: str | None) -> None:
    """List recorded runs, oldest first."""
    from rich.table import Table

    recs = open_store(store).runs(experiment=experiment, status=status)
    table = Table()
    for h in ("run", "experiment", "variant", "seed", "status", "test acc", "epochs", "started"):
        table.add_column(h)
    for r in recs:
        acc = r.metrics.get("test_accuracy")
        table.add_row(r.run_id, r.experiment, r.variant, str(r.seed), r.status,
                      f"{100 * acc:.2f}%" if isinstance(acc, float) else "-", str(r.metrics.get("epochs_run", "-")),
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)))
    _console().print(table if recs else "no runs")


@click.command("show")
@click.argument("run_id")
@_STORE
def show_cmd(run_id: str, store: str | None) -> None:
    """Show one run: status, metrics, environment, history and config (any unique id prefix)."""
    st = open_store(store)
    r = st.get(run_id)
    click.echo(f"run {r.run_id}  experiment {r.experiment}  variant {r.variant}  seed {r.seed}  member {r.member}")
    click.echo(f"status {r.status}" + (f": {r.message}" if r.message else ""))
    click.echo(f"started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r.created_at))}"
               + (f", took {r.finished_at - r.created_at:.1f} s" if r.finished_at else ""))
    click.echo(f"artifacts {st.artifact_dir(r.run_id)}")
    click.echo("metrics " + json.dumps(r.metrics, indent=1, sort_keys=True))
    click.echo("env " + json.dumps(r.env, indent=1, sort_keys=True))
    for h in r.history:
        click.echo("  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in h.items()))
    click.echo("config " + json.dumps(r.config, indent=1, sort_keys=True))


@click.command("compare")
@click.argument("experiment")
@_STORE
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "markdown", "json"]), default="table",
              show_default=True)
@click.option("--quick", is_flag=True, help="With a .toml file: compare its --quick smoke runs instead.")
def compare_cmd(experiment: str, store: str | None, fmt: str, quick: bool) -> None:
    """Compare the variants of an EXPERIMENT side by side.

    By name: each variant as it was last run. By .toml file: exactly the runs of its current cells.
    """
    from mnistlab.comparison import compare, format_rows, rich_table
    from mnistlab.experiments import load_experiment

    if experiment.endswith(".toml"):  # a file: compare the runs of its current cells only
        exp = load_experiment(experiment)
        experiment, keys = exp.name, {c.key for c in exp.cells(quick=quick)}
    else:
        keys = None
    rows = compare(open_store(store), experiment, keys=keys)
    if fmt == "table":
        _console().print(rich_table(rows, title=experiment))
    else:
        click.echo(format_rows(rows, fmt), nl=False)


@click.command("rm")
@click.argument("run_ids", nargs=-1)
@_STORE
@click.option("--experiment", "-e", default=None, help="Delete every run of this experiment.")
def rm_cmd(run_ids: tuple[str, ...], store: str | None, experiment: str | None) -> None:
    """Delete runs (ids or unique prefixes) or a whole experiment, with their artifacts."""
    if bool(run_ids) == bool(experiment):
        raise MnistlabError("rm: give run ids or --experiment NAME (not both)")
    st = open_store(store)
    if experiment and experiment not in st.experiments():
        from mnistlab.errors import StoreError, did_you_mean

        raise StoreError(f'no runs of experiment "{experiment}"{did_you_mean(experiment, st.experiments())}')
    gone = st.rm(list(run_ids) or None, experiment=experiment)
    click.echo(f"deleted {len(gone)} run{'s' * (len(gone) != 1)}")


COMMANDS: list[click.Command] = [run_cmd, runs_cmd, show_cmd, compare_cmd, rm_cmd]
