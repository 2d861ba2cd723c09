"""`mnistlab` commands for datasets: `datasets` and `show-data`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from mnistlab import datasets
from mnistlab.cli._common import (FIGURE_FORMATS, FIGURE_FORMATS_SAID, IntRange, PathArg, check_output, data_dir_option,
                                  dataset_arg, save_figure)
from mnistlab.cli._output import Column, emit, format_option
from mnistlab.files import display_name


def _size(n: int) -> str:
    return "" if not n else f"{n / 2**20:,.1f} MiB"


DATASET_COLUMNS = (Column("name", "name", whole=True), Column("classes", "classes", right=True),
                   Column("train", "train", "{:,}".format, right=True), Column("test", "test", "{:,}".format, right=True),
                   Column("location", "location", fold=True), Column("size", "size", _size, right=True, drop=2),
                   Column("status", "status"), Column("check", "checked by", drop=1),
                   # each added last: readers of the CSV by position (helper-175)
                   Column("found_by", "found by", drop=3), Column("problem", "problem", fold=True))


@click.command("datasets")
@data_dir_option()
@format_option()
def datasets_cmd(data_dir: Path | None, fmt: str) -> None:
    """List every dataset, where its files are, their size on disk, and whether they verified.

    Checked by "sha256": the decompressed payload's checksum; "md5": the files as published;
    "structure": no checksum is known, so only their format, shapes and labels (status "checked").
    Status "not found" (it downloads on first use) or "damaged" (the problem says why: exit status 1).
    """
    from mnistlab.errors import DamagedData

    rows = []
    for info in datasets.list_datasets():
        status = datasets.dataset_status(info.name, data_dir)
        shown = "not found" if status.location is None else "damaged"
        if status.verified:
            shown = "verified" if status.check in ("sha256", "md5") else "checked"
        rows.append({"name": info.name, "classes": info.num_classes, "train": info.train_size, "test": info.test_size,
                     "location": status.location, "found_by": status.found_by or None, "size": status.size or None,
                     "status": shown, "check": status.check or None,
                     "problem": None if status.verified or status.location is None else status.problem})
    problems = any(r["problem"] for r in rows)  # a column of "-" only takes a narrow terminal's room
    emit(rows, DATASET_COLUMNS if problems or fmt != "table" else DATASET_COLUMNS[:-1], fmt, title="datasets")
    if damaged := [str(r["name"]) for r in rows if r["status"] == "damaged"]:  # (helper-173: listed, and exit 0)
        one = len(damaged) == 1
        raise DamagedData(f"{len(damaged)} dataset{'' if one else 's'} damaged ({', '.join(damaged)}): "
                          f"{'its problem says' if one else 'their problems say'} why; delete "
                          f"{'its' if one else 'their'} files to have them downloaded again, or fix --data-dir")


@click.command("show-data")
@click.argument("dataset", metavar="DATASET", callback=dataset_arg)
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Which set the images come from.")
@click.option("--rows", type=IntRange(1, 20), default=5, show_default=True, help="Rows of the grid.")
@click.option("--cols", type=IntRange(1, 20), default=5, show_default=True, help="Columns of the grid.")
@click.option("--index", type=IntRange(min=0), default=0, show_default=True,
              help="Image drawn alone with a colour bar.")
@click.option("-o", "--output", type=PathArg(dir_okay=False, path_type=Path), default=None,
              help=f"Grid image file, {FIGURE_FORMATS_SAID} [default: DATASET-samples.png]; the image of --index "
                   "goes beside it, as NAME-image-INDEX.png.")
@data_dir_option()
def show_data_cmd(dataset: str | dict[str, Any], split: str, rows: int, cols: int, index: int, output: Path | None,
                  data_dir: Path | None) -> None:
    """Save a labelled grid of samples and one raw image with a colour bar.

    DATASET is a registered name (`mnistlab datasets`), or your own data: a .csv, an .npz or a
    folder of class folders, or a TOML inline table as `train --dataset` takes it
    ('{ folder = "digits/train", test = "digits/test" }', '{ idx = "my-mnist" }'). Labels show in
    the dataset's own script where the font has it
    (hiragana for the Kuzushiji sets), romanised otherwise. The grid shows the first images in the
    order training takes them (a folder's shuffled, as Keras's image_dataset_from_directory does), or
    the first of each class in turn where the first ones miss classes. A CSV without its label
    column (a competition's test.csv) shows its images in order, each titled by its row: the
    ImageId a submission gives it.
    """
    from mnistlab import plots

    from mnistlab.data.userdata import KINDS, dataset_label

    label_of = dataset_label(dataset)
    stem = Path(dataset if isinstance(dataset, str) else next(
        (str(v) for k, v in dataset.items() if k in KINDS), "")).stem
    output = check_output(output or Path(f"{stem or 'data'}-samples.png"),
                          FIGURE_FORMATS)
    unlabelled = _unlabelled_csv(dataset)
    if unlabelled is not None:  # a competition's test.csv: its images alone (helper-214: refused)
        import numpy as np

        images, labels, split = unlabelled, np.arange(len(unlabelled)), "unlabelled (by ImageId)"
        names: Sequence[str] = [f"#{i + 1}" for i in range(len(unlabelled))]  # each row: its ImageId
    else:
        ds = datasets.load_dataset(dataset, data_dir)
        names = datasets.display_names(ds.info)
        images = ds.train_images if split == "train" else ds.test_images
        labels = ds.train_labels if split == "train" else ds.test_labels
    if index >= len(images):
        raise click.BadParameter(f"{index} is past the last image ({len(images) - 1})", param_hint="--index")
    shown = plots.sample_indices(labels, rows * cols)
    grid = plots.plot_sample_grid(images[shown], labels[shown], names, rows=rows, cols=cols,
                                  title=f"{label_of}, {split} set")  # as `plot samples` titles it (helper-140)
    single_path = output.with_name(f"{output.stem}-image-{index}{output.suffix}")
    label = names[int(labels[index])]
    single = plots.plot_image(images[index], title=f"{label_of} {split}[{index}]: {label}")
    for fig, path in ((grid, output), (single, single_path)):
        save_figure(fig, path)
        click.echo(f"wrote {display_name(path)}")


def _unlabelled_csv(dataset: str | dict[str, Any]) -> Any:
    """The images of ``dataset`` where it is one CSV file without its label column (a Kaggle test.csv,
    images to predict), uint8 (N, S, S); None for any other dataset. DataError as
    :func:`~mnistlab.data.userdata.read_csv`."""
    from mnistlab.data.userdata import unlabelled_csv_images

    table = dataset if isinstance(dataset, dict) else {"csv": dataset} if dataset.lower().endswith(".csv") else {}
    if not table or set(table) - {"csv", "label"}:
        return None
    return unlabelled_csv_images(Path(str(table["csv"])), str(table.get("label", "label")))


COMMANDS: list[click.Command] = [datasets_cmd, show_data_cmd]
