"""What mnistlab knows about each dataset before reading a file: the registry of the MNIST family.

Each entry names its classes, split sizes, canonical file names, mirrors and checksums, and where
each checksum comes from. Two kinds of checksum:

- ``sha256``: of the decompressed payload (the IDX bytes). The only check that survives a
  re-compressed mirror (the MNIST ``.gz`` files in circulation differ byte for byte while their
  contents match). Computed here from the real files for mnist and fashion-mnist.
- ``md5``: of a file as published for download (``.gz``, ``.npz``, ``.zip``), copied from a
  public dataset definition (named beside each). It checks a download from the original host;
  a re-compressed copy fails it. Payload checksums of the other datasets could not be computed
  here (no internet, no files): never invented, they are left out until someone with the files
  records them.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeGuard

from mnistlab.errors import DataError, did_you_mean

SPLIT_FILES = ("train_images", "train_labels", "test_images", "test_labels")

CANONICAL_FILES = MappingProxyType({
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
})

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class DatasetInfo:
    """What mnistlab knows about a dataset before reading any file.

    ``files`` maps each of :data:`SPLIT_FILES` to its canonical file name: without ``.gz`` for
    ``format="idx"`` (both the gzipped and the plain file are found), with ``.npz`` for
    ``format="npz"`` (one array under ``arr_0``). ``alt_files`` is a second layout in the other
    format (KMNIST ships both). ``archive`` names a zip holding the files (gzipped, under
    ``archive_dir``): EMNIST's six datasets share one. Datasets with the same ``folder`` share
    their files on disk (default folder: the name). Decoding: ``label_column`` picks one column of
    2-D labels (QMNIST's), ``label_offset`` is subtracted from labels (EMNIST letters run 1-26),
    ``transpose`` swaps each image's rows and columns (EMNIST stores them transposed),
    ``test_range`` keeps test images ``[start, stop)`` (QMNIST's last 50,000). ``metric`` is what
    the dataset is judged by: ``"accuracy"`` or ``"balanced_accuracy"`` (Kuzushiji-49).
    ``romanized`` are the class names in Latin letters, for fonts without the dataset's script.
    """

    name: str
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    files: Mapping[str, str]  # split-file key -> canonical file name
    sha256: Mapping[str, str]  # split-file key -> SHA-256 of the decompressed payload (when known)
    mirrors: tuple[str, ...] = ()  # base URLs; the download file's name is appended
    image_shape: tuple[int, int] = (28, 28)
    description: str = ""
    system_dirs: tuple[str, ...] = ()
    format: str = "idx"
    alt_files: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    archive: str = ""
    archive_dir: str = ""
    folder: str = ""
    md5: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # download file name -> MD5 as published
    checksum_source: str = ""
    label_column: int | None = None
    label_offset: int = 0
    transpose: bool = False
    test_range: tuple[int, int] | None = None
    metric: str = "accuracy"
    romanized: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def dir_name(self) -> str:
        """The folder name its files live in (shared by datasets cut from the same files)."""
        return self.folder or self.name

    def download_names(self) -> list[str]:
        """The file names fetched from a mirror: the archive, else each file (IDX gzipped)."""
        if self.archive:
            return [self.archive]
        suffix = ".gz" if self.format == "idx" else ""
        return [self.files[key] + suffix for key in SPLIT_FILES]


_REGISTRY: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset to the registry (name is the key users type)."""
    _REGISTRY[info.name] = info
    return info


def list_datasets() -> list[DatasetInfo]:
    """Every registered dataset, in registration order."""
    return list(_REGISTRY.values())


def is_registered(dataset: object) -> TypeGuard[str]:
    """Whether ``dataset`` (a run's ``dataset``: a name, a path or a table) names a registered dataset."""
    return isinstance(dataset, str) and dataset in _REGISTRY


def get_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; an unknown name raises DataError with a hint."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(_REGISTRY)
        raise DataError(f"unknown dataset {name!r}{did_you_mean(str(name), _REGISTRY)}; known: {known}") from None


# ------------------------------------------------------------------------------- the family
_TORCHVISION = "torchvision/datasets/mnist.py (pytorch/vision), MD5 of the published files"

register_dataset(DatasetInfo(
    name="mnist",
    description="handwritten digits 0-9 (LeCun et al.)",
    class_names=tuple(string.digits),
    train_size=60_000,
    test_size=10_000,
    files=CANONICAL_FILES,
    sha256={
        "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    checksum_source="SHA-256 of the decompressed files, computed from the real files",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    system_dirs=("/usr/share/datasets/mnist",),
))

register_dataset(DatasetInfo(
    name="fashion-mnist",
    description="Zalando clothing images in 10 classes (Xiao et al.)",
    class_names=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    train_size=60_000,
    test_size=10_000,
    files=CANONICAL_FILES,
    sha256={
        "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    checksum_source="SHA-256 of the decompressed files, computed from the real files",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
))

# Kuzushiji-MNIST (Clanuwat et al. 2018): ten hiragana, one per row of the syllabary.
register_dataset(DatasetInfo(
    name="kmnist",
    description="Kuzushiji-MNIST: 10 cursive Japanese hiragana (Clanuwat et al.)",
    class_names=tuple("おきすつなはまやれを"),
    romanized=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    train_size=60_000,
    test_size=10_000,
    files=CANONICAL_FILES,
    alt_files={"train_images": "kmnist-train-imgs.npz", "train_labels": "kmnist-train-labels.npz",
               "test_images": "kmnist-test-imgs.npz", "test_labels": "kmnist-test-labels.npz"},
    sha256={},  # payload checksums could not be computed here without the files
    md5={"train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
         "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
         "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
         "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134"},
    checksum_source=_TORCHVISION + " (class KMNIST)",
    mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
))

# EMNIST (Cohen et al. 2017): one zip of every split's gzipped IDX files under gzip/. The images
# are stored transposed. The zip's old address (https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/
# gzip.zip) now answers with an HTML page: downloads are sniffed before they are parsed.
_EMNIST_SPLITS = {
    # split: (class names, train size, test size, label offset)
    "balanced": (string.digits + string.ascii_uppercase + "abdefghnqrt", 112_800, 18_800, 0),
    "byclass": (string.digits + string.ascii_uppercase + string.ascii_lowercase, 697_932, 116_323, 0),
    "bymerge": (string.digits + string.ascii_uppercase + "abdefghnqrt", 697_932, 116_323, 0),
    "digits": (string.digits, 240_000, 40_000, 0),
    "letters": (tuple(u + lo for u, lo in zip(string.ascii_uppercase, string.ascii_lowercase)), 124_800, 20_800, 1),
    "mnist": (string.digits, 60_000, 10_000, 0),
}
for _split, (_names, _train, _test, _offset) in _EMNIST_SPLITS.items():
    register_dataset(DatasetInfo(
        name=f"emnist-{_split}",
        description=f"EMNIST {_split}: NIST SD19 handwriting in MNIST's format (Cohen et al.)",
        class_names=tuple(_names),
        train_size=_train,
        test_size=_test,
        files={"train_images": f"emnist-{_split}-train-images-idx3-ubyte",
               "train_labels": f"emnist-{_split}-train-labels-idx1-ubyte",
               "test_images": f"emnist-{_split}-test-images-idx3-ubyte",
               "test_labels": f"emnist-{_split}-test-labels-idx1-ubyte"},
        sha256={},  # payload checksums could not be computed here without the 536 MiB zip
        archive="gzip.zip",
        archive_dir="gzip/",
        folder="emnist",
        md5={"gzip.zip": "58c8d27c78d21e728a6bc7b3cc06412e"},
        checksum_source=_TORCHVISION + " (class EMNIST)",
        mirrors=("https://biometrics.nist.gov/cs_links/EMNIST/",),
        transpose=True,
        label_offset=_offset,
    ))

# QMNIST (Yadav & Bottou 2019): MNIST's reconstruction. Labels are int32 IDX with 8 columns (the
# class first); the 60,000 test images begin with MNIST's 10,000.
for _name, _range, _test in (("qmnist", None, 60_000), ("qmnist-test50k", (10_000, 60_000), 50_000)):
    register_dataset(DatasetInfo(
        name=_name,
        description=("QMNIST: MNIST reconstructed, with its full 60,000-image test set" if _range is None else
                     "QMNIST tested on its last 50,000 test images (those not in MNIST's test set)"),
        class_names=tuple(string.digits),
        train_size=60_000,
        test_size=_test,
        files={"train_images": "qmnist-train-images-idx3-ubyte", "train_labels": "qmnist-train-labels-idx2-int",
               "test_images": "qmnist-test-images-idx3-ubyte", "test_labels": "qmnist-test-labels-idx2-int"},
        sha256={},  # payload checksums could not be computed here without the files
        md5={"qmnist-train-images-idx3-ubyte.gz": "ed72d4157d28c017586c42bc6afe6370",
             "qmnist-train-labels-idx2-int.gz": "0058f8dd561b90ffdd0f734c6a30e5e4",
             "qmnist-test-images-idx3-ubyte.gz": "1394631089c404de565df7b7aeaf9412",
             "qmnist-test-labels-idx2-int.gz": "5b5b05890a5e13444e108efe57b788aa"},
        checksum_source=_TORCHVISION + " (class QMNIST)",
        mirrors=("https://raw.githubusercontent.com/facebookresearch/qmnist/master/",),
        folder="qmnist",
        label_column=0,
        test_range=_range,
    ))

# Kuzushiji-49: 49 hiragana (the iteration mark last), imbalanced, so judged by balanced accuracy.
register_dataset(DatasetInfo(
    name="kuzushiji-49",
    description="Kuzushiji-49: 49 cursive hiragana, imbalanced; scored by balanced accuracy (Clanuwat et al.)",
    class_names=tuple("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわゐゑをんゝ"),
    romanized=("a", "i", "u", "e", "o", "ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "se", "so",
               "ta", "chi", "tsu", "te", "to", "na", "ni", "nu", "ne", "no", "ha", "hi", "fu", "he", "ho",
               "ma", "mi", "mu", "me", "mo", "ya", "yu", "yo", "ra", "ri", "ru", "re", "ro",
               "wa", "wi", "we", "wo", "n", "(iter)"),
    train_size=232_365,
    test_size=38_547,
    format="npz",
    files={"train_images": "k49-train-imgs.npz", "train_labels": "k49-train-labels.npz",
           "test_images": "k49-test-imgs.npz", "test_labels": "k49-test-labels.npz"},
    sha256={},  # payload checksums could not be computed here without the files
    md5={"k49-train-imgs.npz": "7ac088b20481cf51dcd01ceaab89d821",
         "k49-train-labels.npz": "44a8e1b893f81e63ff38d73cad420f7a",
         "k49-test-imgs.npz": "d352e201d846ce6b94f42c990966f374",
         "k49-test-labels.npz": "4da6f7a62e67a832d5eb1bd85c5ee448"},
    checksum_source=("a torchvision-style K49MNIST dataset class in a public repository (torchvision itself "
                     "has no Kuzushiji-49); MD5 of the published .npz files"),
    mirrors=("http://codh.rois.ac.jp/kmnist/dataset/k49/",),
    metric="balanced_accuracy",
))
