"""Reading the user's own data (a class folder of PNGs, a CSV, an .npz) with mnistlab vs the few lines
a user would write with Pillow or NumPy, side by side in one run, idle and with one busy process.

    python bench/bench_userdata.py --data-dir ../shared/datasets [--images 6000] [--repeats 3]

The images are the first N MNIST training images, written once into a temporary folder in each
form. Each figure is the median of the repeats; "first" is a read in a fresh process with an empty
cache (nothing hashed or kept yet), "later" a read in another fresh process once the first has
kept its decoded copy (:mod:`mnistlab.data.read_cache`: what each cell of a sweep, `plot`,
`report` or `card` pays), "again" a second read in the first process (`check_run_data`, then a cell
in the same process). mnistlab's read also checks every file, hashes it (SHA-256 for the run's key
and provenance), splits off a stratified test set and resizes to the model's input.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_keras import busy_load  # noqa: E402  (one home for the competing busy process)

# Each reader as a user would write it (imports first, then the timed read), and as mnistlab reads
# it; each in a fresh process, printing its seconds.
BASELINES = {
    "folder": ("import numpy as np; from PIL import Image; from pathlib import Path\n"
               "t = time.perf_counter()\n"
               "files = sorted(p for d in sorted(Path(SRC).iterdir()) for p in sorted(d.iterdir()))\n"
               "x = np.stack([np.asarray(Image.open(p).convert('L')) for p in files])\n"
               "y = np.array([p.parent.name for p in files])\n"
               "print(time.perf_counter() - t)"),
    "csv": ("import numpy as np\n"
            "t = time.perf_counter()\n"
            "a = np.loadtxt(SRC, delimiter=',', skiprows=1, dtype=np.uint8)\n"
            "x, y = a[:, 1:].reshape(-1, 28, 28), a[:, 0]\n"
            "print(time.perf_counter() - t)"),
    "npz": ("import numpy as np\n"
            "t = time.perf_counter()\n"
            "with np.load(SRC) as f: x, y = f['x_train'], f['y_train']\n"
            "print(time.perf_counter() - t)"),
}
MNISTLAB = ("from mnistlab.datasets import load_dataset\n"
            "t = time.perf_counter(); load_dataset(SRC); first = time.perf_counter() - t\n"
            "t = time.perf_counter(); load_dataset(SRC); again = time.perf_counter() - t\n"
            "print(first, again)")


def write_forms(root: Path, images: np.ndarray, labels: np.ndarray) -> dict[str, Path]:
    """The same images as class folders of PNGs, a Kaggle-style CSV and a Keras-layout .npz."""
    from PIL import Image

    folder = root / "digits"
    for i, (img, label) in enumerate(zip(images, labels)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / str(label) / f"{i:05d}.png")
    csv = root / "digits.csv"
    flat = images.reshape(len(images), -1)
    header = "label," + ",".join(f"pixel{i}" for i in range(flat.shape[1]))
    np.savetxt(csv, np.column_stack([labels, flat]), fmt="%d", delimiter=",", header=header, comments="")
    npz = root / "digits.npz"
    np.savez(npz, x_train=images, y_train=labels)
    return {"folder": folder, "csv": csv, "npz": npz}


def _python(code: str, src: Path, cache: Path | None = None) -> str:
    """Run ``code`` in a fresh interpreter with ``SRC`` set (and the user cache at ``cache``); its stdout."""
    env = {**os.environ, **({"XDG_CACHE_HOME": str(cache)} if cache is not None else {})}
    out = subprocess.run([sys.executable, "-c", f"import time\nSRC = {str(src)!r}\n{code}"], capture_output=True,
                         text=True, check=True, env=env)
    return out.stdout


def measure(form: str, src: Path, repeats: int) -> tuple[float, float, float, float]:
    """(baseline s, mnistlab first read s, a later process's read s, the first process's second
    read s), medians, alternating runs; each repeat starts with an empty cache."""
    base, first, later, again = [], [], [], []
    for _ in range(repeats):
        base.append(float(_python(BASELINES[form], src)))
        with tempfile.TemporaryDirectory() as cache:
            a, b = map(float, _python(MNISTLAB, src, Path(cache)).split())
            later.append(float(_python(MNISTLAB, src, Path(cache)).split()[0]))
        first.append(a)
        again.append(b)
    return statistics.median(base), statistics.median(first), statistics.median(later), statistics.median(again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from mnistlab.datasets import load_dataset

    ds = load_dataset("mnist", args.data_dir)
    images, labels = np.asarray(ds.train_images[: args.images]), np.asarray(ds.train_labels[: args.images])
    with tempfile.TemporaryDirectory() as tmp:
        forms = write_forms(Path(tmp), images, labels)
        print(f"{args.images} MNIST images; median of {args.repeats}; seconds")
        print(f"{'form':<8} {'load':<16} {'user code':>10} {'mnistlab':>9} {'ratio':>6} {'later':>8} {'ratio':>6} "
              f"{'again':>8} {'ratio':>6}")
        for load in (0, 1):
            with busy_load(load):
                for form, src in forms.items():
                    base, first, later, again = measure(form, src, args.repeats)
                    print(f"{form:<8} {'idle' if not load else '1 busy process':<16} {base:>10.3f} {first:>9.3f} "
                          f"{first / base:>5.2f}x {later:>8.3f} {later / base:>5.2f}x {again:>8.3f} "
                          f"{again / base:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
