"""Importing mnistlab has no side effects: ``pytest --doctest-modules`` imports every module of the
package, and so does any tool that walks it, so an import must not build the native kernel, write
a cache or a run store, or draw anything."""

from __future__ import annotations

import os
import subprocess
import sys

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
