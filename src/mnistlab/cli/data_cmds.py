"""`mnistlab` commands for datasets: `datasets` and `show-data`."""

from __future__ import annotations

from pathlib import Path

import click

from mnistlab import datasets
from mnistlab.cli._output import Column, emit, format_option

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding <dataset>/ subfolders with the IDX files (default: $MNISTLAB_DATA_DIR, the cache, system folders).",
)


DATASET_COLUMNS = (Column("name", "name"), Column("classes", "classes", right=True),
                   Column("train", "train", "{:,}".format, right=True), Column("test", "test", "{:,}".format, right=True),
                   Column("location", "location"), Column("status", "status"))


@click.command("datasets")
@data_dir_option
@format_option()
def datasets_cmd(data_dir: Path | None, fmt: str) -> None:
    """List the datasets, where their files were found, and whether they verified."""
    rows = []
    for info in datasets.list_datasets():
        status = datasets.dataset_status(info.name, data_dir)
        rows.append({"name": info.name, "classes": info.num_classes, "train": info.train_size, "test": info.test_size,
                     "location": status.location, "status": "verified" if status.verified else status.problem})
    emit(rows, DATASET_COLUMNS, fmt, title="datasets")


def _image_format(path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
        raise click.BadParameter(f"{path}: use a .png, .svg, .pdf or .jpg file name", param_hint="--output")


@click.command("show-data")
@click.argument("dataset")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True)
@click.option("--rows", type=click.IntRange(1, 20), default=5, show_default=True)
@click.option("--cols", type=click.IntRange(1, 20), default=5, show_default=True)
@click.option("--index", type=click.IntRange(min=0), default=0, show_default=True,
              help="Image drawn alone with a colour bar.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Grid image file [default: DATASET-samples.png].")
@data_dir_option
def show_data_cmd(dataset: str, split: str, rows: int, cols: int, index: int, output: Path | None,
                  data_dir: Path | None) -> None:
    """Save a labelled grid of samples and one raw image with a colour bar."""
    from mnistlab import plots

    output = output or Path(f"{dataset}-samples.png")
    _image_format(output)
    ds = datasets.load_dataset(dataset, data_dir)
    images = ds.train_images if split == "train" else ds.test_images
    labels = ds.train_labels if split == "train" else ds.test_labels
    if index >= len(images):
        raise click.BadParameter(f"{index} is past the last image ({len(images) - 1})", param_hint="--index")
    n = rows * cols
    grid = plots.plot_sample_grid(images[:n], labels[:n], ds.info.class_names, rows=rows, cols=cols)
    single_path = output.with_name(f"{output.stem}-image-{index}{output.suffix}")
    label = ds.info.class_names[int(labels[index])]
    single = plots.plot_image(images[index], title=f"{dataset} {split}[{index}]: {label}")
    for fig, path in ((grid, output), (single, single_path)):
        try:
            fig.savefig(path, dpi=100)
        except OSError as exc:
            raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
        click.echo(f"saved {path}")


COMMANDS: list[click.Command] = [datasets_cmd, show_data_cmd]
