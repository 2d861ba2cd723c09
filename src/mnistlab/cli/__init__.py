"""The `mnistlab` command: argument parsing only; every command calls the library.

Commands live in one small module per area (data, models, training, experiments, inspection) so
that each stays a screen long. `main` turns user errors into one line and a non-zero exit.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import warnings
from pathlib import Path

import click

from mnistlab.errors import MnistlabError, clip, first_line, number_hint, said_afresh, show_warning
from mnistlab.files import COMMAND_VARIABLE, command_line

from ._output import closed_output_ignored, usable_streams

from . import data_cmds, experiment_cmds, inspect_cmds, model_cmds, predict_cmds, search_cmds, train_cmds


class _Stopped(Exception):
    """A Ctrl-C (KeyboardInterrupt) in a command, carried past click's ``main``, which writes a line
    break of its own before it says "Aborted!": the console script's SIGINT handler
    (``mnistlab_launch``) writes one where standard error is a terminal, and nothing else wants one."""


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mnistlab")
def cli() -> None:
    """Train, compare and inspect small image classifiers on the MNIST family.

    Exit status: 0 done; 1 done, but a run failed, diverged or was not recorded whole; 2 a mistake
    in the input or a store that cannot be used (nothing done); 130/143 Ctrl-C/SIGTERM; 141 the
    output closed while `train`, `run` or `search` worked (a listing piped into `head` ends 0).
    """


for _module in (data_cmds, model_cmds, train_cmds, experiment_cmds, search_cmds, inspect_cmds, predict_cmds):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


MORE_MISTAKES = 20  # a file's mistakes printed past the first (the rest counted)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status. Output to a closed pipe goes
    nowhere: a listing piped into `head` ends as it would have; `run`, `train` and `search` stop
    their work on it (:func:`~mnistlab.cli._output.closed_output_stops`, exit 141)."""
    usable_streams()  # closed ones, a locale that cannot spell a name
    # The commands write figures to files (plots.py draws without pyplot: no window ever opens), so the
    # user's MPLBACKEND is of no use here; one matplotlib does not know ("qt5") failed every figure
    # at its import, naming no variable (helper-162). Set while the command runs: a notebook calling
    # main() keeps its own after (helper-164).
    # The command line a run records (env["command"], MLflow's source and entry point; note 58: none was
    # stored), through the environment: a sweep's cells train in spawned processes.
    saved = {key: os.environ.get(key) for key in ("MPLBACKEND", COMMAND_VARIABLE)}
    os.environ["MPLBACKEND"] = "agg"
    os.environ[COMMAND_VARIABLE] = command_line(sys.argv[1:] if argv is None else argv)
    try:
        with closed_output_ignored():  # a reader gone (`| head`) never turns into a traceback or a silent exit 1
            return _main(argv)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _flag_said(exc: click.ClickException) -> str:
    """click's message for a bad flag, on one line; a number written with a decimal comma (a German
    user's ``--lr 0,001``: helper-184) is told to take a decimal point."""
    said = " ".join(exc.format_message().split())
    given = re.search(r"'([^']*)' is not a valid float", said)
    if isinstance(exc, click.BadParameter) and given and (hint := number_hint(given[1])):
        said += f" ({hint})"
    command = exc.ctx.info_name if isinstance(exc, click.UsageError) and exc.ctx is not None else None
    if command == "search" and said.startswith("Got unexpected extra argument"):  # (helper-193: a class's files)
        said += ('; `search` takes one experiment file: check several with a loop, '
                 'for f in *.toml; do mnistlab search --dry-run "$f"; done')
    return said


def _main(argv: list[str] | None) -> int:
    debug = bool(os.environ.get("MNISTLAB_DEBUG"))
    try:
        os.getcwd()
    except FileNotFoundError:  # helper-162: torch's MKL then dies ("oneMKL FATAL ERROR: Cannot load"), run half-made
        click.echo("error: the current folder no longer exists (deleted while the shell was in it?): cd to one that "
                   "does, then run the command again", err=True)
        return 2
    said_afresh()  # each command says its warnings once (main may be called again in one process: tests, notebooks)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            cli.main(args=argv, prog_name="mnistlab", standalone_mode=False,
                     obj={"argv": list(argv) if argv is not None else sys.argv[1:]})  # (what a figure says drew it)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:  # `mnistlab` alone: its help, whole, as click prints it
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), err=True)
        return exc.exit_code
    except click.ClickException as exc:  # bad flags: click's own one-line message
        click.echo(f"error: {_flag_said(exc)}", err=True)
        return exc.exit_code
    except MnistlabError as exc:
        if debug:
            raise
        click.echo(_words_clipped(f"{exc.label}: {exc}" if exc.label else str(exc)), err=True)
        more = exc.more
        for other in more[:MORE_MISTAKES]:  # the file's other mistakes, one line each
            click.echo(_words_clipped(f"error: {other}"), err=True)
        if len(more) > MORE_MISTAKES:
            click.echo(f"error: ... and {len(more) - MORE_MISTAKES} more mistakes like these", err=True)
        return exc.exit_code
    except (KeyboardInterrupt, _Stopped):
        click.echo("interrupted", err=True)
        return 130
    except Warning as exc:  # `python -W error`: a warning the user made an error is one line too
        if debug:
            raise
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        return 1
    except (ImportError, MemoryError, RuntimeError, OSError, ValueError) as exc:
        return _unforeseen(exc, debug)
    except Exception as exc:  # noqa: BLE001 - only Ray's own errors are said here; the rest is re-raised
        if debug or not _from_ray(exc):
            raise
        forced = "--force" in (sys.argv[1:] if argv is None else argv)
        click.echo(f"error: {_ray_gone(exc, forced)}", err=True)
        return 1
    return 0


def _unforeseen(exc: Exception, debug: bool) -> int:
    """One line and the exit status for an error past the input's checks, called in ``_main``'s
    ``except`` (a bare ``raise`` re-raises ``exc``, with its traceback: a bug, or ``debug``): a library
    that cannot load (helper-189: torch under `ulimit -v`), memory run out (helper-172), a system
    error (a full disk) or a value that slipped past validation."""
    if debug:
        raise
    if isinstance(exc, ImportError):
        if (exc.name or "").startswith("mnistlab"):
            raise
        click.echo(f"error: cannot load {_library(exc)} ({clip(first_line(exc), 160)}): too little memory "
                   "for it (a `ulimit -v`?) or a broken install (reinstall it); nothing was done", err=True)
        return 2
    if isinstance(exc, (MemoryError, RuntimeError)):  # MemoryError: numpy's; RuntimeError: torch's allocators
        if not _out_of_memory(exc):
            raise
        click.echo(f"error: out of memory ({_said(exc)}): what is recorded stays; a smaller batch, model or data "
                   "subset, or fewer --jobs, needs less", err=True)
        return 1
    click.echo(f"error: {_said(exc)}", err=True)  # (OSError, ValueError)
    return 1


def _library(exc: ImportError) -> str:
    """The library an ImportError failed to load: the package its file is in (``torch`` for
    ``.../site-packages/torch/lib/libtorch_cpu.so``), else its module's top name."""
    parts = Path(exc.path).parts if exc.path else ()
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1]
    return (exc.name or "a library").split(".")[0]


LONGEST_WORD = 240  # characters of one word (a path, a name the user gave) an error line shows whole


def _words_clipped(line: str) -> str:
    """``line`` with each word longer than :data:`LONGEST_WORD` cut in its middle (``abc...xyz``): a
    path or name given 5,000 characters long is no use said whole (helper-172, helper-174: `predict
    RUN <5000 x>.png`, `train --config ...` echoed them), its start and end still say which it is."""
    half = LONGEST_WORD // 2 - 2
    return re.sub(rf"\S{{{LONGEST_WORD + 1},}}", lambda m: f"{m.group()[:half]}...{m.group()[-half:]}", line)


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says memory ran out: a MemoryError (numpy's ``Unable to allocate ...``), torch's
    ``OutOfMemoryError`` (CUDA) or its CPU allocator's ``can't allocate memory`` (no torch import here)."""
    return (isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"
            or "can't allocate memory" in str(exc) or "out of memory" in str(exc).lower())


# Ray's errors that mean the cluster (a node, a worker, an actor, the object store) went away under
# a command; another of Ray's (a RayTaskError: an exception raised inside a task) is no outage
RAY_GONE = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "NodeDiedError", "WorkerCrashedError",
            "RaySystemError", "ObjectLostError", "OwnerDiedError", "ObjectReconstructionFailedError")


def _from_ray(exc: BaseException) -> bool:
    """Whether ``exc`` says that Ray's cluster went away (:data:`RAY_GONE`, from ``ray.exceptions``),
    told by its class's name and module so that Ray need not be imported (helper-137: any error of
    Ray's, a task's own bug among them, was said to be an outage)."""
    return any(cls.__module__.split(".")[0] == "ray" and cls.__name__ in RAY_GONE for cls in type(exc).__mro__)


def _ray_gone(exc: BaseException, forced: bool = False) -> str:
    """Ray's error, raised while a command drove it (helper-134: `ray stop` mid-sweep gave 67 lines
    of traceback), in one line: what happened, in Ray's first words, and what to do (``forced``: the
    command had --force, which run again would train every cell afresh: helper-185)."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    again = "the same command without --force" if forced else "the same command"
    return (f"the Ray cluster stopped working while this command used it ({type(exc).__name__}: {first[:200]}); "
            f"run {again} again once it is back: finished runs are kept, the others continue from their "
            "last checkpoints, where they reached one")


def _said(exc: BaseException) -> str:
    """An unforeseen error in words: the system's for an OSError (``No space left on device``,
    naming the file when it has one), else its type and message."""
    if isinstance(exc, OSError) and exc.strerror:
        from mnistlab.files import display_name

        names = [clip(display_name(os.fsdecode(f) if isinstance(f, bytes) else f), 120)  # (a name too long for the
                 for f in (exc.filename, exc.filename2) if f is not None]  # system: 5,000 characters, helper-172)
        hint = (" (this process may open too few files: raise the limit, `ulimit -n 4096`, or give fewer --jobs)"
                if exc.errno == errno.EMFILE else "")  # (helper-189: said bare)
        return (f"{' -> '.join(names)}: {exc.strerror}" if names else exc.strerror) + hint
    said = clip(exc, 300)
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
