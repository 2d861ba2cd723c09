"""Importing mnistlab has no side effects: ``pytest --doctest-modules`` imports every module of the
package, and so does any tool that walks it, so an import must not build the native kernel, write
a cache or a run store, or draw anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_IMPORT_ALL = """
import importlib, pkgutil, sys
import mnistlab
names = [m.name for m in pkgutil.walk_packages(mnistlab.__path__, "mnistlab.") if m.name != "mnistlab.__main__"]
for name in names:
    importlib.import_module(name)
from mnistlab.accel import conv_pool
print(len(names), conv_pool._status)  # None: no attempt yet to build or load the kernel
"""


def test_importing_every_module_has_no_side_effects(tmp_path):
    work, cache, home = tmp_path / "work", tmp_path / "cache", tmp_path / "home"
    work.mkdir()
    # matplotlib keeps its own font cache: give it a folder of its own, so that only mnistlab is watched.
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "HOME": str(home), "MNISTLAB_STORE": str(work / "store"),
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(tmp_path / "matplotlib")}
    proc = subprocess.run([sys.executable, "-c", _IMPORT_ALL], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    count, status = proc.stdout.split()
    assert int(count) > 20  # every module, accel/ and cli/ included
    assert status == "None"
    assert not cache.exists() and not home.exists()
    assert list(work.iterdir()) == []


RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "best-mnist.toml"
_LIGHT = """
import json, sys
from mnistlab.cli import main
commands = json.loads(sys.argv[1])
for args in commands:
    print(json.dumps([args, main(args), "torch" in sys.modules]), flush=True)
"""


def test_help_listings_and_the_store_commands_do_not_load_torch(recorded, data_dir, tmp_path) -> None:
    """`mnistlab --help`, each command's help, the commands that read the store or the dataset
    list, the model summaries and the figures and report of stored results do not wait for torch
    (2-4 s of a 0.3-1 s command); torch loads inside the commands that train, predict, draw a
    model's insides (feature maps, filters) or export (note 29: `--help` took 4.8 s under the CI's
    load, 3.4 of them torch; helper-96: `mnistlab models` 3.9 s, `plot history` up to 7.6 s)."""
    import json

    from mnistlab.cli import cli

    root, ids = recorded
    store = ["--store", str(root)]
    broken = tmp_path / "broken.toml"
    broken.write_text("[base\n")
    commands = [["--help"], ["--version"], *([name, "--help"] for name in cli.commands),
                ["runs", *store], ["show", ids["cnn0"], *store], ["note", ids["cnn0"], *store], ["compare", "tiny", *store],
                ["datasets"], ["rm", "no-such-run", *store],
                ["models"], ["summary", "resnet20"], ["summary", str(RECIPE)],  # from the spec alone
                *(["plot", kind, ids["cnn0"], "-o", str(tmp_path / f"{kind}.png"), "--data-dir", str(data_dir), *store]
                  for kind in ("history", "compare", "confusion", "misclassified", "samples")),  # stored figures
                ["report", "tiny", "-o", str(tmp_path / "r.html"), "--data-dir", str(data_dir), *store],
                # a missing or broken experiment file says so first (helper-173: `run typo.toml` took 6 s)
                ["run", str(tmp_path / "typo.toml")], ["search", str(tmp_path / "typo.toml")],
                ["watch", str(tmp_path / "typo.toml"), *store], ["run", str(broken)]]
    proc = subprocess.run([sys.executable, "-c", _LIGHT, json.dumps(commands)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MNISTLAB_DEBUG": ""})
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("[")]
    assert [args for args, _, _ in results] == commands, proc.stderr[-2000:]
    assert [args for args, status, _ in results if status != 0] == [["rm", "no-such-run", *store], *commands[-4:]]
    assert [args for args, _, torch_loaded in results if torch_loaded] == []


def test_the_public_names_load_on_first_use() -> None:
    """``import mnistlab`` is light (PEP 562): each public name loads its module when first asked
    for and is that module's own object, whichever module was imported first (``preprocess`` is
    both a function and its module's name: the function stays); ``dir`` (a notebook's completion)
    offers the public names, not the package's helpers; a wrong name is an AttributeError, as for
    any module."""
    code = """
import importlib, importlib.util, json, sys
import mnistlab
before = "torch" in sys.modules
for module in ("mnistlab.preprocessing", "mnistlab.export", "mnistlab.card"):  # a submodule first, then the names
    importlib.import_module(module)
homes = {name: mnistlab._HOMES.get(name) for name in mnistlab.__all__ if name != "__version__"}
wrong = [name for name, home in homes.items()
         if home is None or getattr(mnistlab, name) is not getattr(importlib.import_module("mnistlab." + home), name)]
offered = {name for name in dir(mnistlab) if not name.startswith("__")}
listed = offered >= set(mnistlab.__all__) - {"__version__"} and {"plots", "preprocessing", "metrics"} <= offered and all(
    name in mnistlab.__all__ or importlib.util.find_spec("mnistlab." + name) for name in offered)
try:
    mnistlab.trian
except AttributeError as exc:
    said = str(exc)
print(json.dumps([before, wrong, listed, said, callable(mnistlab.preprocess)]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == '[false, [], true, "module \'mnistlab\' has no attribute \'trian\'", true]', \
        proc.stderr[-2000:]


def test_a_module_of_the_package_is_an_attribute_after_import_mnistlab() -> None:
    """helper-191: the README's `mnistlab.models.build_model(spec)` after `import mnistlab` was an
    AttributeError; a module loads when first asked for, as SciPy's do. A private or unknown name
    stays an AttributeError, and `mnistlab.preprocess` the function."""
    code = """
import json
import mnistlab
said = []
for name in ("_toml", "nosuch"):
    try:
        getattr(mnistlab, name)
    except AttributeError as exc:
        said.append(str(exc))
dotted = [hasattr(mnistlab, name) for name in ("nosuch.sub", ".", "models.nosuch")]  # (helper-192: ModuleNotFoundError)
models = mnistlab.models
print(json.dumps([models.build_model is mnistlab.build_model, mnistlab.store.__name__, said,
                  callable(mnistlab.preprocess), dotted]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == ('[true, "mnistlab.store", ["module \'mnistlab\' has no attribute \'_toml\'", '
                                   '"module \'mnistlab\' has no attribute \'nosuch\'"], true, [false, false, false]]'), \
        proc.stderr[-2000:]


# Ctrl-C, pressed while the module named by the script's first argument is being imported (its
# import half done); the script's own lines follow (a notebook's cells: a try, then the next one)
_CTRL_C_WHILE_IMPORTING = """
import importlib.abc, os, signal, sys

class CtrlC(importlib.abc.MetaPathFinder):
    pressed = False

    def find_spec(self, name, path=None, target=None):
        if name == sys.argv[1] and not CtrlC.pressed:
            CtrlC.pressed = True
            os.kill(os.getpid(), signal.SIGINT)
        return None

"""


def _ctrl_c_while_importing(module: str, cells: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh Python running ``cells`` with a Ctrl-C pressed inside the first import of ``module``."""
    return subprocess.run([sys.executable, "-c", _CTRL_C_WHILE_IMPORTING + cells, module, *args], capture_output=True,
                          text=True, timeout=300)


def test_ctrl_c_while_a_public_name_loads_torch_leaves_it_whole_for_the_next_try() -> None:
    """helper-96: a Ctrl-C in the first ``mnistlab.train`` (which imports torch, seconds) left torch
    half-imported, and the next try failed ("partially initialized module 'torch'") or crashed the
    interpreter. The stop now waits for the import, then comes: the next try finds it whole."""
    proc = _ctrl_c_while_importing("torch.nn", """
sys.meta_path.insert(0, CtrlC())
import mnistlab
try:
    mnistlab.train
except KeyboardInterrupt:
    print("interrupted", CtrlC.pressed, flush=True)
train = mnistlab.train  # the notebook's second try
import torch
print("again", float((torch.zeros(2) + 1).sum()), flush=True)
""")
    assert (proc.returncode, proc.stdout) == (0, "interrupted True\nagain 2.0\n"), proc.stderr[-800:]


def test_ctrl_c_while_the_first_optimizer_is_built_leaves_the_process_able_to_train(data_dir) -> None:
    """helper-98: torch's first optimizer imports its compiler and sympy (2-3 s of a run's start); a
    Ctrl-C then left sympy half-imported and every later run failed ("module 'sympy' has no
    attribute 'core'") until the notebook's kernel restarted. The import is now whole first."""
    proc = _ctrl_c_while_importing("sympy.polys", """
import mnistlab
mnistlab.train  # torch loaded, its compiler (and sympy) not yet
sys.meta_path.insert(0, CtrlC())
kw = dict(epochs=1, data_dir=sys.argv[2], progress="none", subset=120)
try:
    mnistlab.train("mnist", "seed000-dense", **kw)
except KeyboardInterrupt:
    print("interrupted", CtrlC.pressed, flush=True)
print("again", mnistlab.train("mnist", "seed000-dense", **kw).status, flush=True)  # the notebook's next cell
""", str(data_dir))
    assert (proc.returncode, proc.stdout) == (0, "interrupted True\nagain finished\n"), proc.stderr[-800:]


def test_the_old_module_name_still_reads_with_a_deprecation_warning() -> None:
    """helper-237/-240: `import mnistlab.preprocess as pp` gives the function (the package's name for
    it), and `pp.recipe_for` an AttributeError; the module is mnistlab.preprocessing, and the old
    spelling `from mnistlab.preprocess import recipe_for` still works, saying so."""
    code = """
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as said:
    from mnistlab.preprocess import recipe_for
from mnistlab.preprocess import list_images, as_drawn, MAX_SIDE  # (not in its __all__: helper-242)
import mnistlab, mnistlab.preprocessing
print(json.dumps([recipe_for is mnistlab.preprocessing.recipe_for and as_drawn is mnistlab.preprocessing.as_drawn,
                  callable(mnistlab.preprocess),
                  [str(w.message) for w in said if w.category is DeprecationWarning]]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == ('[true, true, ["the module mnistlab.preprocess is now mnistlab.preprocessing '
                                   '(mnistlab.preprocess is the function)"]]'), proc.stderr[-2000:]
