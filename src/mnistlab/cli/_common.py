"""Options and helpers shared by the command modules."""

from __future__ import annotations

import math
import os
import shlex
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mnistlab._toml import inline_value, toml_value
from mnistlab.errors import OutputError, SpecError, SpecWarning, user_level
from mnistlab.files import check_output_path, data_dir_astray, write_output

if TYPE_CHECKING:  # RunStore is imported late at run time (see open_store)
    from mnistlab.store import RunStore

F = TypeVar("F", bound=Callable[..., object])


class PathArg(click.Path):
    """:class:`click.Path` refusing an empty value, which click takes as the current folder: `--store
    "$STORE"` with the variable unset would make a store of the folder the command runs in."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(_refuse_empty(value, "path", param, ctx), param, ctx)


def dataset_arg(ctx: click.Context, param: click.Parameter, value: str | None) -> str | dict[str, Any] | None:
    """The callback of `--dataset`: a name or a path, or the user's data written inline as a run
    config writes it (``'{ folder = "digits/train", test = "digits/test" }'``; JSON too)."""
    return inline_value(_refuse_empty(value, "value", param, ctx), "dataset", '{ folder = "digits/train", test = "digits/test" }')


def model_arg(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> Any:
    """The callback of `--model` (and `summary`'s MODEL): a preset name or a spec file, or a spec
    written inline, as JSON (``'{"conv": [32], "dense": [128]}'``) or as a TOML inline table or
    array, as a run config writes it (``'{ conv = [32], dense = [128], outputs = 3 }'``)."""
    return inline_value(_refuse_empty(value, "value", param, ctx), "model", "{ conv = [32], dense = [128] }", arrays=True)


def _refuse_empty(value: Any, what: str, param: click.Parameter | None, ctx: click.Context | None) -> Any:
    """``value``, unless it is an empty (or blank) string: click.BadParameter naming the ``what``."""
    if isinstance(value, str) and not value.strip():
        raise click.BadParameter(f"an empty {what} (an unset shell variable?)", ctx=ctx, param=param)
    return value


def one_variant(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> str | None:
    """The callback of a `--variant` that names one variant: given twice, click would keep the last
    without a word, so it is declared ``multiple`` and a second name refused here (the same name
    twice is that name)."""
    names = list(dict.fromkeys(value))
    if len(names) > 1:
        raise click.BadParameter(f"given {len(names)} variants ({', '.join(names)}): this command takes one",
                                 ctx=ctx, param=param)
    return names[0] if names else None


def experiment_file(path: str | Path) -> bool:
    """Whether ``path`` is a TOML file that :func:`is_experiment` (not a model spec or a run config)."""
    from mnistlab._toml import load_toml

    p = Path(path)
    try:
        if p.suffix.lower() != ".toml" or not p.is_file():
            return False
    except (OSError, ValueError):  # a name too long, a NUL: the caller's reader says what is wrong
        return False
    return is_experiment(load_toml(p))


def is_experiment(doc: Mapping[str, Any]) -> bool:
    """Whether a TOML file's table is an experiment's: a ``[base]`` that has a model (its mistakes
    :func:`variant_configs` reports)."""
    return isinstance(doc.get("base"), dict) and "model" in doc["base"]


def variant_configs(path: str | Path, variant: str | None) -> dict[str, Any]:
    """The :class:`~mnistlab.config.RunConfig` of each variant of the experiment file ``path``, by
    name (``variant``: of that variant alone), validated whole as `mnistlab run` does. Raises SpecError
    for a variant name the file lacks, with a "did you mean" and the names it has."""
    from mnistlab.config import parse_run_config
    from mnistlab.errors import did_you_mean
    from mnistlab.experiments import grid_family, load_experiment

    exp = load_experiment(path)
    by_name = {v.name: v for v in exp.variants}
    chosen = (exp.variants if variant is None else [by_name[variant]] if variant in by_name
              else [by_name[n] for n in grid_family(variant, by_name)])  # an entry with a grid of its own: all of it
    if not chosen:
        raise SpecError(f'{path}: no variant is named "{variant}"{did_you_mean(str(variant), list(by_name))}; '
                        f"the variants: {', '.join(by_name)}")
    return {v.name: parse_run_config(v.config, source=str(path)) for v in chosen}


def store_option(name: str = "store") -> Callable[[F], F]:
    """The `--store` option every store-reading command takes (passed on as ``name``)."""
    return click.option("--store", name, type=PathArg(), default=None,
                        help="Run store folder (default: $MNISTLAB_STORE or ./mnistlab-runs).")


def jobs_option(what: str) -> Callable[[F], F]:
    """`--jobs/-j`: how many of ``what`` (cells, trials) train at once, in processes splitting the cores."""
    return click.option("--jobs", "-j", type=IntRange(1, 256), default=1, show_default=True,
                        help=f"Train this many {what} at once, in separate processes splitting the cores.")


def data_dir_option(purpose: str = "", *, remote: bool = False) -> Callable[[F], F]:
    """`--data-dir`, the folder holding the datasets, as every command takes it (a Path or None);
    ``purpose`` ends the help text (e.g. "for the misclassified images"). It must exist, but with
    ``remote`` (commands that can train on Ray) :func:`check_backend_flags` checks it, once it is known
    whether the cells train here."""
    why = f", {purpose}" if purpose else ""
    return click.option("--data-dir", type=PathArg(exists=not remote, file_okay=False, path_type=Path), default=None,
                        callback=None if remote else _check_data_dir_variable,
                        help=f"Folder holding <dataset>/ subfolders with the IDX files{why} (default: "
                             "$MNISTLAB_DATA_DIR, the cache, system folders).")


def _check_data_dir_variable(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Without --data-dir, a warning line when $MNISTLAB_DATA_DIR names no folder (a typo there
    would otherwise only show as datasets "not found", or a download). Not for the commands that
    can train on Ray (there the variable may name the workers' folder), nor while the shell
    completes a word."""
    import warnings

    from mnistlab.errors import DataWarning

    if value is None and not ctx.resilient_parsing and (astray := data_dir_astray()) is not None:
        warnings.warn(f"{astray}: it is searched in vain", DataWarning, stacklevel=user_level())
    return value


class IntRange(click.IntRange):
    """click's IntRange, named "integer" in its errors: ``--jobs two`` is "'two' is not a valid
    integer" (click says "not a valid integer range"); out of range it says the range, as click does."""

    name = "integer"


def check_backend_flags(backend: str | None, address: str | None, data_dir: Path | None) -> None:
    """Usage errors (exit 2) of `run` and `search`: ``--address`` without Ray, and a ``--data-dir``
    that is no folder here (through Ray Client, ``--address ray://...``, it names a path on the
    workers, which this machine may lack)."""
    if backend == "local" and address is not None:
        raise click.UsageError("--address needs --backend ray")
    if address is not None and address.strip() and address != "auto":  # its form, before anything (a --dry-run too)
        from mnistlab.backends import address_parts

        address_parts(address)
    if data_dir is not None and not (address or "").startswith("ray://") and not data_dir.is_dir():
        raise click.BadParameter(f"Directory '{data_dir}' does not exist.", param_hint="'--data-dir'")


def check_output(path: str | Path, allowed: tuple[str, ...]) -> Path:
    """``path`` as a Path, once its suffix is one of ``allowed`` (lower case, with the dot) and it
    can be written (:func:`~mnistlab.files.check_output_path`: not a folder, its folder exists):
    checked before any work, so a typo costs nothing. Raises OutputError."""
    if Path(path).is_dir() or str(path).endswith(("/", os.sep)):  # `-o out` for `-o out/report.html`
        raise OutputError(f"cannot write {str(path)!r}: it is a folder; give a file in it "
                          f"({str(Path(path))}{os.sep}<name>{allowed[0]})")
    if Path(path).suffix.lower() not in allowed:
        raise OutputError(f"cannot write {str(path)!r}: the file name must end in {', '.join(allowed)}")
    return check_output_path(path)


def replacing(path: str | Path) -> str:
    """What a command's "wrote FILE" line adds where ``path`` is there before it writes (call it
    first): a figure or report written over an earlier one says so (helper-226, helper-229)."""
    return " (replacing the file there)" if Path(path).is_file() else ""


#: The figure files the commands write: matplotlib's formats a paper or a slide takes (helper-244: .eps refused)
FIGURE_FORMATS = (".png", ".pdf", ".svg", ".eps", ".jpg", ".jpeg", ".tif", ".tiff")
FIGURE_FORMATS_SAID = ".png, .pdf, .svg, .eps, .jpg or .tiff"


def save_figure(fig: Any, path: str | Path, *, dpi: int = 100) -> None:
    """Save a matplotlib figure whole (:func:`~mnistlab.files.write_output`; the format from the
    suffix), the command that drew it in its metadata where the format has room
    (:func:`~mnistlab.plots.figure_metadata`). OutputError, one line, when the file cannot be
    written (a full disk)."""
    from mnistlab.plots import figure_metadata, save

    metadata = figure_metadata(Path(path).suffix, f"drawn by: {command_line()}")
    write_output(path, lambda tmp: save(fig, tmp, dpi=dpi, **({"metadata": metadata} if metadata else {})))


def command_line() -> str:
    """The command running, as typed (``mnistlab plot history paper -o h.pdf``; the arguments `main`
    was given), for a file's record of what wrote it."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    argv = obj.get("argv") if isinstance(obj, dict) else None
    return "mnistlab " + shlex.join(str(a) for a in (argv if argv is not None else sys.argv[1:]))


def _finite(kind: click.ParamType, value: object, v: float, param: click.Parameter | None,
            ctx: click.Context | None) -> float:
    """``v`` (parsed from ``value``) when finite, else ``kind``'s usage error (exit 2): click's
    FloatRange lets nan through (nan compares False with both bounds) and inf past an open bound."""
    if not math.isfinite(v):
        kind.fail(f"{value!r} is not a finite number", param, ctx)
    return v


class FiniteRange(click.FloatRange):
    """click's FloatRange of finite numbers only: it lets nan through (nan compares False with both
    bounds) and inf past an open bound."""

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """``value`` as a finite float within the range, or a usage error (exit 2)."""
        return _finite(self, value, float(super().convert(value, param, ctx)), param, ctx)  # type: ignore[arg-type]


class Amount(click.ParamType):
    """A finite number of CPUs or GPUs: above 0 (``above=True``) or at least 0; nan and inf are
    refused at parse time (:func:`_finite`)."""

    name = "float"

    def __init__(self, *, above: bool) -> None:
        self.above = above

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """``value`` as a float, or a usage error (exit 2) naming the bound."""
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if _finite(self, value, v, param, ctx) < 0 or (self.above and v == 0):
            self.fail(f"{value!r} must be {'above' if self.above else 'at least'} 0", param, ctx)
        return v


class TomlNumber(click.ParamType):
    """A number or a list of numbers written as in a config file, its type kept: ``2`` an int,
    ``2.0`` and ``0.1`` floats, ``[0.9, 1.2]`` a list (Keras's ImageDataGenerator ranges mean other
    things in each form); the config's validation then checks it. Anything else is a usage error."""

    name = "number|[list]"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """``value`` parsed as a TOML number or array, or a usage error (exit 2)."""
        if not isinstance(value, str):
            return value
        try:
            parsed = toml_value(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, (int, float, list)) or isinstance(parsed, bool):
            self.fail(f"{value!r} is not a number or a [list] of numbers", param, ctx)
        return parsed


def backend_options(what: str) -> Callable[[F], F]:
    """`--backend`, `--address`, `--cpus-per-cell` and `--gpus-per-cell` of the commands that train
    ``what`` (cells, trials): each, when given, overrides the experiment file's [resources]."""
    def add(f: F) -> F:
        for opt in reversed([
            click.option("--backend", type=click.Choice(["local", "ray"]), default=None,
                         help=f"Where the {what} train: this machine, or Ray tasks (the store stays on this "
                              "machine) [default: the file's [resources] backend, else local]."),
            click.option("--address", default=None, metavar="auto|HOST:PORT|ray://HOST:PORT",
                         help="With --backend ray: the Ray cluster to join [default: the file's, else start a "
                              "local one sized to this machine]."),
            click.option("--cpus-per-cell", type=Amount(above=True), default=None,
                         help=f"With --backend ray: the CPUs each of the {what}' Ray tasks reserves "
                              "[default: the file's, else 1]."),
            click.option("--gpus-per-cell", type=Amount(above=False), default=None,
                         help=f"With --backend ray: the GPUs (a fraction up to 1 allowed) each of the {what}' Ray "
                              "tasks reserves [default: the file's, else 0]."),
        ]):
            f = opt(f)
        return f
    return add


def trains_here(resources: Any, backend: str | None) -> bool:
    """Whether the cells of an experiment with ``resources`` (its [resources] table) train on this
    machine: the local backend, as :func:`mnistlab.backends.runner_for` chooses it (``--backend``
    first, then the file's), not Ray's workers (whose files and folders may be elsewhere)."""
    return (backend or resources.backend or "local") != "ray"


def backend_and_store(resources: Any, cells: Sequence[Any], store: str | None, *, read_only_ok: bool = False,
                      **flags: Any) -> tuple[Any, RunStore]:
    """The runner (:func:`mnistlab.backends.runner_for` with the backend flags) and the store a
    `run` or `search` writes, in that order: a Ray that does not answer, or cells larger than its
    cluster (:meth:`~mnistlab.backends.RayRunner.check_fits`), leave no store folder behind, and a
    store that cannot be made closes the runner again. ``read_only_ok``: :func:`open_store`'s."""
    from mnistlab.backends import close, runner_for

    runner = runner_for(resources, **flags)
    if runner is None and (own := sorted({str(c.variant) for c in cells if c.cpus is not None or c.gpus is not None})):
        warnings.warn(f"variant{'s' * (len(own) > 1)} {', '.join(own)}: resources (cpus, gpus) apply with --backend "
                      "ray: the local backend ignores them", SpecWarning, stacklevel=user_level())  # as it says of the flags
    try:
        if runner is not None:
            runner.check_fits(cells)
        return runner, open_store(store, create=True, read_only_ok=read_only_ok)
    except BaseException:
        close(runner)
        raise


def store_flag(root: Path) -> str:
    """:func:`mnistlab.store.store_flag` (the store loaded when called: --help stays fast)."""
    from mnistlab.store import store_flag as flag

    return flag(root)


def open_store(path: str | None, *, create: bool = False, read_only_ok: bool = False) -> RunStore:
    """The RunStore at ``path`` (imported here, late, so that `--help` stays fast).

    Only `mnistlab run` creates a store: a reading command pointed at a wrong path says so.
    ``read_only_ok`` (with ``create``): a store there that cannot be written opens read-only
    (:meth:`~mnistlab.store.RunStore.to_record`): `mnistlab run` of an experiment it holds finished
    prints the table (:func:`~mnistlab.execute.run_experiment`). Runs
    left ``running`` by a process of this host that has ended (``kill -9``, a closed terminal) are
    marked ``interrupted`` first (where the store cannot be written, its reads give them so), so
    that no command shows them as running.
    """
    from mnistlab.errors import StoreError
    from mnistlab.store import RunStore

    st = RunStore.to_record(path) if create and read_only_ok else RunStore(path, create=create)
    try:  # (read-only, or a write that fails: its reads show them ended all the same, helper-189)
        st.note_stale() if st.read_only else st.mark_stale()
    except StoreError:  # busy or damaged: the command itself says what it can of the store
        pass
    return st


def status_said(status: str, message: str | None) -> tuple[str, str]:
    """A run's or trial's status and message, said once: ``(tail, rest)``, where ``tail`` reads on
    from the status word (" by Ctrl-C or a stop signal after 2 complete epochs" after
    "interrupted", for a message that repeats the word; " because ...", " before ...") and
    ``rest`` is a message that does not (shown after a colon or in brackets). Either may be empty."""
    said = (message or "").strip()
    if said.startswith(status):
        tail = said.removeprefix(status).lstrip()
        if tail.startswith(("by ", "because ", "before ", "after ", "in ", "while ")):
            return f" {tail}", ""
    return "", said
