"""A run's tags and note: the user's own words on a recorded run (MLflow's run tags and description,
W&B's tags and notes), added after it ran::

    mnistlab note 3fa9c01b2e -m "lr too high: diverged at epoch 3" --tag bad
    mnistlab runs --tag best                 # the runs tagged so
    mnistlab show 3fa9c01b2e                 # says its tags and note

They live in the run's folder, ``runs/<run id>/notes.json`` (``{"note": "...", "tags": [...]}``,
written whole), beside what the run recorded and never in it: a note is no part of what trained, so
it changes no run key, and deleting the run (``mnistlab rm``) deletes it. The folders are the lab
notebook; the database indexes what trained, and a rebuilt database (``mnistlab reindex``) keeps
every note, since it never held them.

A tag is a short label (at most :data:`MAX_TAG` characters, printable, without commas or leading
and trailing spaces; its case is kept, and matched exactly); a note is free text (at most
:data:`MAX_NOTE` characters, lines allowed, no other control characters: a terminal would obey them).
"""

from __future__ import annotations

import json
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnistlab.errors import SpecError, StoreError, StoreWarning, clip, first_line, user_level
from mnistlab.files import write_atomic

if TYPE_CHECKING:
    from mnistlab.store import RunRecord, RunStore

__all__ = ["MAX_NOTE", "MAX_TAG", "MAX_TAGS", "NOTES_FILE", "Notes", "check_note", "check_tag", "read_notes", "tag_named",
           "tagged", "tags_said", "write_notes"]

NOTES_FILE = "notes.json"
MAX_TAG, MAX_TAGS, MAX_NOTE = 64, 50, 10_000


@dataclass(frozen=True)
class Notes:
    """A run's ``note`` ("" for none) and ``tags`` (in the order they were added)."""

    note: str = ""
    tags: tuple[str, ...] = ()
    #: the file's other keys (written by hand, or by a later mnistlab): kept as they are when it is written again
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __bool__(self) -> bool:
        return bool(self.note or self.tags)

    def said(self) -> str:
        """One line for a card or a report: ``tags a, b; note: text`` (a note's lines joined by " / ")."""
        note = " / ".join(line for line in self.note.splitlines() if line.strip())
        return "; ".join(([f"tags {tags_said(self.tags)}"] if self.tags else []) + ([f"note: {note}"] if note else []))


def _printable(text: str, allowed: str = "") -> bool:
    return not any(unicodedata.category(c).startswith("C") and c not in allowed for c in text)


def check_tag(tag: str) -> str:
    """``tag`` as kept; SpecError (one line) for an empty one, one too long, or one with a comma, a
    control character or spaces around it."""
    if not isinstance(tag, str) or not tag.strip():
        raise SpecError("--tag: a tag is a short label, such as best or baseline; got an empty one")
    if tag != tag.strip():
        raise SpecError(f"--tag {clip(tag.strip(), 40)!r}: without spaces around it (a tag is matched exactly)")
    if len(tag) > MAX_TAG:
        raise SpecError(f"--tag: at most {MAX_TAG} characters, got {len(tag)} ({clip(tag, 40)!r}): a longer text is a note (-m)")
    if "," in tag or not _printable(tag):
        raise SpecError(f"--tag {clip(tag, 40)!r}: a tag has no commas (give --tag once for each) and no control characters")
    return unicodedata.normalize("NFC", tag)  # one form for tags that look alike (helper-204: two cafés)


def tag_named(tag: str) -> str:
    """A tag as a choice names it (``runs --tag``, ``--untag``, ``rm --keep-tag``): any a run may carry,
    one written by hand in its notes file too (a comma in it, say: note 52's leftover), NFC as kept;
    SpecError for an empty one."""
    if not isinstance(tag, str) or not tag.strip():
        raise SpecError("--tag: a tag is a short label, such as best or baseline; got an empty one")
    return unicodedata.normalize("NFC", tag)


def tags_said(tags: Sequence[str]) -> str:
    """``tags`` as one text, joined by ", " (the ``tags`` column of ``runs`` and its CSV); a tag that
    holds a comma, a quote or spaces at its ends (one written by hand in a notes file: note 53's
    leftover, where "a, b" read as two tags) in double quotes, its quotes and backslashes escaped as JSON
    writes them."""
    return ", ".join(json.dumps(t, ensure_ascii=False) if ("," in t or '"' in t or t != t.strip()) else t for t in tags)


def check_note(text: str) -> str:
    """``text`` as kept, its lines' trailing spaces and the blank lines around it left out; SpecError
    (one line) for one too long or with a control character other than a line break or a tab."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    kept = "\n".join(lines).strip("\n")
    if len(kept) > MAX_NOTE:
        raise SpecError(f"-m: a note of at most {MAX_NOTE:,} characters, got {len(kept):,}")
    if not _printable(kept, "\n\t"):
        raise SpecError("-m: a note with a control character (a terminal would obey it); write plain text")
    return kept


def _path(store: RunStore, run_id: str) -> Path:
    return store.artifact_dir(run_id, must_exist=False) / NOTES_FILE


def read_notes(store: RunStore, run_id: str) -> Notes:
    """The tags and note of the run ``run_id`` (a whole id, as the store holds it); empty for none.
    A notes file that cannot be read or parsed reads as none, with a StoreWarning naming it."""
    notes, why = _read(_path(store, run_id))
    if why:
        warnings.warn(f"{_path(store, run_id)}: {why}: read as none", StoreWarning, stacklevel=user_level())
    return notes


def _read(path: Path) -> tuple[Notes, str]:
    """The notes in ``path`` and "" (none where there is no file), or no notes and why the file
    cannot be read as notes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Notes(), ""
    except (OSError, UnicodeError, ValueError, RecursionError) as exc:
        return Notes(), f"its notes cannot be read ({first_line(exc)})"
    note, tags = (data.get("note", ""), data.get("tags", [])) if isinstance(data, dict) else (None, None)
    if not isinstance(note, str) or not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return Notes(), 'its notes are not mnistlab\'s ({"note": text, "tags": [...]})'
    extra = {k: v for k, v in data.items() if k not in ("note", "tags")}
    return Notes(note, tuple(dict.fromkeys(unicodedata.normalize("NFC", t) for t in tags)), extra), ""  # (one form:
    # tags written before they were kept so, or by hand, helper-205)


def write_notes(store: RunStore, run_ids: str | Sequence[str], *, note: str | None = None, add: Sequence[str] = (),
                remove: Sequence[str] = (), clear: bool = False) -> list[Notes]:
    """Change the notes of each run of ``run_ids`` (one id, or several) and return them, in order:
    ``clear`` drops a run's note and tags first, ``note`` replaces its note ("" drops it), ``add``
    tags are added (once each, in order), ``remove`` tags taken away (SpecError for one a run does
    not carry; of several runs, one none of them carries). Every run is checked before any is
    written (helper-203: the first had changed when the second refused). Raises StoreError for an
    unknown run id, a store that cannot be written, or a notes file that cannot be read (mended by
    hand, it is not written over; ``clear`` sets it aside as ``notes.json.unreadable``, helper-202:
    a hand-written note was lost), SpecError for a bad tag or note; nothing changes then."""
    ids = [store.get(r).run_id for r in ([run_ids] if isinstance(run_ids, str) else run_ids)]
    if store.read_only:
        raise StoreError(f"{store.root}: cannot write notes: the store is read-only here")
    added, taken = [check_tag(t) for t in add], [tag_named(t) for t in remove]
    if both := [t for t in added if t in taken]:
        raise SpecError(f"--tag {both[0]!r} and --untag {both[0]!r}: choose one")
    text = check_note(note) if note is not None else None
    unique = list(dict.fromkeys(ids))
    if len(unique) > 1 and (absent := [t for t in taken if not any(t in read_notes(store, r).tags for r in unique)]):
        raise SpecError(f"--untag {absent[0]!r}: none of these runs has that tag")
    planned = [_planned(store, run_id, text, added, taken, clear, lenient=len(unique) > 1) for run_id in unique]
    for path, after, damaged in planned:
        _write(path, after, damaged)
    done = {path.parent.name: after for path, after, _ in planned}
    return [done[run_id] for run_id in ids]


def _planned(store: RunStore, run_id: str, text: str | None, added: Sequence[str], taken: Sequence[str],
             clear: bool, lenient: bool = False) -> tuple[Path, Notes, bool]:
    """What :func:`write_notes` writes for one run: (its notes file, its notes after, whether the file
    there now is damaged, to be set aside); raises as :func:`write_notes` does, writing nothing
    (``lenient``: a tag to take away that this run has not is no mistake)."""
    path = _path(store, run_id)
    if not path.parent.is_dir():  # (helper-265: "cannot write the notes: No such file or directory")
        raise StoreError(f"run {run_id}'s folder is gone (removed by hand?), so it holds no notes: `mnistlab rm {run_id}` "
                         "deletes its record")
    before, why = _read(path)
    if why and not clear:
        raise StoreError(f"{path}: {why}: mend it by hand, or `mnistlab note {run_id} --clear` to set it aside "
                         f"(as {NOTES_FILE}.unreadable) and start afresh")
    if clear:  # (the file's other keys stay: they are neither note nor tags)
        before = Notes(extra=before.extra)
    if missing := [t for t in taken if t not in before.tags and not lenient]:
        raise SpecError(f"--untag {missing[0]!r}: run {run_id} has no such tag"
                        + (f" (its tags: {', '.join(before.tags)})" if before.tags else " (it has none)"))
    tags = tuple(t for t in dict.fromkeys([*before.tags, *added]) if t not in taken)
    if len(tags) > MAX_TAGS:
        raise SpecError(f"--tag: at most {MAX_TAGS} tags on a run; run {run_id} would have {len(tags)}")
    return path, Notes(before.note if text is None else text, tags, before.extra), bool(why)


def _write(path: Path, notes: Notes, damaged: bool) -> None:
    """``notes`` into ``path``, whole (none: the file removed); a ``damaged`` file there set aside first."""
    try:
        if damaged:  # set aside under a name of its own: an earlier one is kept too (helper-204: overwritten)
            aside = next(p for n in range(1, 1000) if not (p := path.with_name(
                f"{NOTES_FILE}.unreadable" + (f"-{n}" if n > 1 else ""))).exists())
            path.replace(aside)
            warnings.warn(f"{path}: unreadable, set aside as {aside.name}", StoreWarning, stacklevel=user_level())
        if notes or notes.extra:
            text = json.dumps({**notes.extra, "note": notes.note, "tags": list(notes.tags)}, ensure_ascii=False,
                              indent=1) + "\n"
            write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), through=False)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write the notes: {exc.strerror or first_line(exc)}") from None


def tagged(store: RunStore, records: Iterable[RunRecord], tags: Sequence[str]) -> list[RunRecord]:
    """Those of ``records`` that carry every tag of ``tags`` (all of them where none is given)."""
    wanted = [tag_named(t) for t in tags]
    if not wanted:
        return list(records)
    return [r for r in records if set(wanted) <= set(read_notes(store, r.run_id).tags)]

