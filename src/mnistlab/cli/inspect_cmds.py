"""`mnistlab plot` and `mnistlab report`: figures and the HTML report from recorded runs."""

from __future__ import annotations

from pathlib import Path

import click

from click.core import ParameterSource

from mnistlab.cli._common import (FIGURE_FORMATS, FIGURE_FORMATS_SAID, FiniteRange, IntRange, PathArg, check_output,
                                  data_dir_option, open_store, replacing,
                                  save_figure, store_option)
from mnistlab.errors import OutputError, StoreError
from mnistlab.files import display_name



def _parse_indices(text: str) -> list[int]:
    try:  # an empty one between commas too (helper-146: 1,,2 was read as 1,2)
        values = [int(v) for v in text.split(",")] if text.strip() else []
    except ValueError:
        raise OutputError(f"--images must be comma-separated image indices like 0,23,28, got {text!r}") from None
    if not values:
        raise OutputError("--images needs at least one image index")
    from mnistlab.views import check_feature_images

    check_feature_images(values)  # as figure_for checks it, but before the store opens
    return values


def _filter_index(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    """``--filter``: a whole number at least 0, or ``all`` (None: every filter of one layer)."""
    if value.strip().lower() == "all":
        return None
    try:
        index = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a filter index (0, 1, ...) nor all") from None
    if index < 0:
        raise click.BadParameter(f"{value!r}: a filter index is 0 or more")
    return index


@click.command("plot")
@click.argument("kind")
@click.argument("target", metavar="EXPERIMENT_OR_RUN...", nargs=-1, required=True)
@click.option("-o", "--output", type=PathArg(), required=True, help=f"Output file: {FIGURE_FORMATS_SAID}.")
@store_option("store_path")
@data_dir_option("for images, labels and predictions")
@click.option("--variant", "variants", multiple=True,
              help="Pick a variant of an experiment; repeat it to draw several (history, compare, params, time).")
@click.option("--images", "images", default=None,
              help="feature-maps: test image indices [default: 0,23,28, MNIST's 7, 5 and 0; where two of them "
                   "share a class, the first test images of three classes].")
@click.option("--filter", "filter_index", default="0", show_default=True, callback=_filter_index,
              help="feature-maps: filter index, or all: every filter of one layer (the last of --layers, the first "
                   "unless given) for one image, the image first.")
@click.option("--layers", type=IntRange(0, 64), default=4, show_default=True,
              help="feature-maps: how many conv/pool layers (0 = all).")
@click.option("--index", type=int, default=0, show_default=True, help="image: which image.")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="samples/image: which set.")
@click.option("--max-images", type=IntRange(1, 200), default=25, show_default=True, help="misclassified: how many.")
@click.option("--dpi", type=IntRange(20, 600), default=100, show_default=True,
              help="Dots per inch of a .png or .jpg (a .svg or .pdf is drawn in lines and text).")
@click.option("--font-scale", type=FiniteRange(0.5, 4.0), default=1.0, show_default=True,
              help="Every text this many times its size, as seaborn's font_scale (1.5 reads on a projector).")
@click.option("--size", metavar="WxH", default=None, callback=lambda ctx, param, v: _inches(v),
              help="The figure's width and height in inches (matplotlib's figsize), e.g. 7x3 for a paper's full "
                   "width; the layout fits its text to them.")
@click.option("--quick", is_flag=True, help="With a .toml file: draw its --quick smoke runs instead.")
@click.option("--each-seed", is_flag=True, help="history: each run's own curves, not a variant's mean +- sd over "
              "its seeds.")
@click.option("--normalize", type=click.Choice(["true", "pred", "all"]), default=None,
              help="confusion: each cell's share of its row (true: the recall on the diagonal), column (pred: the "
                   "precision) or the whole, its count below, as scikit-learn's normalize.")
def plot_cmd(kind: str, target: tuple[str, ...], output: str, store_path: str | None, data_dir: Path | None,  # noqa: PLR0913
             variants: tuple[str, ...],
             images: str | None, filter_index: int | None, layers: int, index: int, split: str, max_images: int, dpi: int,
             font_scale: float, size: tuple[float, float] | None, quick: bool, each_seed: bool,
             normalize: str | None) -> None:
    """Draw one figure KIND for a recorded run or experiment and save it.

    EXPERIMENT_OR_RUN: an experiment file, its recorded name, or a run id (or unique prefix);
    for compare, params, time and history, also several run ids (the runs `mnistlab compare ID
    ID ...` shows). A figure of one model (misclassified, confusion, per-class, feature-maps,
    filters) draws a variant's best run by test accuracy, or its committee, and says which.

    KIND: history, compare, params, time, samples, image, misclassified, confusion, per-class,
    feature-maps, filters; of a search, optimization-history, parallel-coordinates, importance, intermediate-values
    (Optuna's figures). Example: mnistlab plot confusion seed000 --variant cnn -o cm.png
    """
    from mnistlab import views
    from mnistlab.plots import resize, scale_fonts

    views.check_kind(kind)  # before opening the store: a typo fails fast
    _refuse_options_of_other_kinds(kind)
    if len(target) > 1 and variants:
        raise OutputError("--variant picks a variant of one experiment, not of chosen run ids")
    if len(target) > 1 and quick:
        raise OutputError("--quick draws an experiment file's smoke runs, not chosen run ids")
    out = check_output(output, FIGURE_FORMATS)
    indices = None if images is None else _parse_indices(images)
    if filter_index is None and click.get_current_context().get_parameter_source("layers") != ParameterSource.COMMANDLINE:
        layers = 1  # every filter: of the first layer unless --layers says which
    if filter_index is None and indices is not None and len(indices) != 1:
        raise OutputError(f"--filter all draws every filter for one image: give one --images index, not {len(indices)}")
    try:
        drawing = views.draw(kind, open_store(store_path), target[0] if len(target) == 1 else target,
                             variant=variants, data_dir=data_dir,
                             images=indices, filter_index=filter_index, layers=layers or None,
                             index=index, split=split, max_images=max_images, quick=quick, each_seed=each_seed,
                             normalize=normalize)
    except StoreError as exc:  # helper-140: `plot samples mnist` for a dataset's images
        from mnistlab.data.registry import is_registered

        if kind not in ("samples", "image") or len(target) != 1 or not is_registered(target[0]):
            raise
        raise StoreError(f"{exc}; {target[0]} is a dataset: `mnistlab show-data {target[0]}` draws its images "
                         "(plot samples draws those of an experiment's dataset)") from None
    replaced = replacing(out)
    if size is not None:  # (before the fonts: their scale grows the figure by sqrt(scale) from the size given)
        resize(drawing.figure, *size)
    save_figure(scale_fonts(drawing.figure, font_scale), out, dpi=dpi)
    click.echo(f"wrote {display_name(out)}{replaced}" + (f": {drawing.drawn}" if drawing.drawn else ""))


def _inches(value: str | None) -> tuple[float, float] | None:
    """``--size WxH`` as (width, height) in inches, each from 1 to 50; a usage error otherwise."""
    if value is None:
        return None
    parts = value.lower().replace(",", "x").split("x")
    try:
        width, height = (float(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"{value!r} is no size: give width x height in inches, e.g. 7x3",
                                 param_hint="'--size'") from None
    if not (1 <= width <= 50 and 1 <= height <= 50):
        raise click.BadParameter(f"{value!r}: width and height are inches from 1 to 50", param_hint="'--size'")
    return width, height


# The options that apply to some kinds only (the rest apply to every kind): given with another, refused
OPTION_KINDS = {"images": ("--images", ("feature-maps",)), "filter_index": ("--filter", ("feature-maps",)),
                "layers": ("--layers", ("feature-maps",)), "index": ("--index", ("image",)),
                "split": ("--split", ("samples", "image")), "max_images": ("--max-images", ("misclassified",)),
                "each_seed": ("--each-seed", ("history",)), "normalize": ("--normalize", ("confusion",))}


def _refuse_options_of_other_kinds(kind: str) -> None:
    """OutputError for an option given on the command line that ``kind`` does not use (helper-129:
    `plot samples --index 5` drew the grid as if it were not there)."""
    ctx = click.get_current_context()
    for name, (flag, kinds) in OPTION_KINDS.items():
        if kind not in kinds and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            raise OutputError(f"{flag} applies to plot {' and '.join(kinds)}, not to plot {kind}")


@click.command("report")
@click.argument("experiment", nargs=-1, required=True)
@click.option("-o", "--output", type=PathArg(), default="report.html", show_default=True, help="Output HTML file.")
@store_option("store_path")
@data_dir_option("for the misclassified images")
@click.option("--quick", is_flag=True, help="With a .toml file: report its --quick smoke runs instead.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Draw this many figures at once, in forked processes (default: one a core this process may use, at most 8).")
@click.option("--top", type=click.IntRange(1, None), metavar="K",
              help="Sections (figures) for the K best rows by test accuracy only; the table holds every row.")
def report_cmd(experiment: tuple[str, ...], output: str, store_path: str | None, data_dir: Path | None, quick: bool,
               jobs: int | None, top: int | None) -> None:
    """Write one self-contained HTML report for EXPERIMENT (opens offline in any browser).

    EXPERIMENT: an experiment file, its recorded name, or one of its run ids; the report shows
    what `mnistlab compare EXPERIMENT` shows, a section for each variant and committee. Several
    experiments (names or files: a class's) make one page, their rows in one table.
    """
    from mnistlab.report import write_report

    from mnistlab.comparison import resolve_experiment

    out = check_output(output, (".html", ".htm"))
    st, replaced = open_store(store_path), replacing(out)
    write_report(st, experiment, out, data_dir=data_dir, quick=quick, jobs=jobs, top=top)
    click.echo(f"wrote {display_name(out)}{replaced}")
    for given in experiment:  # (helper-226: a run id's report showed another run without a word)
        if (ref := resolve_experiment(st, given, quick=quick)).run is not None:
            click.echo(f"note: {given} is a run of experiment {ref.name}: the report is of the experiment, each "
                       "variant's runs at its latest settings (`mnistlab show` and `plot` take the run alone)", err=True)


COMMANDS: list[click.Command] = [plot_cmd, report_cmd]
