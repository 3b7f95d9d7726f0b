"""Atomic output directories: build in a hidden sibling, rename into place at the end.

A failure removes the partial directory (and any parent directories this created), so an export
either fully exists or does not exist at all. What a killed process leaves behind is handled by
the next export to the same path, and logged (logger "keras_mot"):

- `.NAME.partial-PID-*`: a build whose process is gone (kill -9, power loss) is removed; one
  whose process still runs (a concurrent export) is left alone.
- `.NAME.old-*`: an overwrite moves the previous export aside, renames the new one into place,
  then deletes the old one. Killed between the two renames, `NAME` is missing: the next export
  first restores the newest previous export, so the path never stays empty because of a crash.
  With `NAME` in place, leftover `.old-*` copies are deleted.
"""

import logging
import os
import shutil
import tempfile

from keras_mot.errors import ExportError, format_error

MARKER = "report.json"  # a directory holding this is a previous keras_mot export
_logger = logging.getLogger(__name__)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def _siblings(path, kind):
    parent, name = os.path.dirname(path), os.path.basename(path)
    prefix = f".{name}.{kind}-"
    try:
        entries = os.listdir(parent)
    except OSError:
        return []
    return sorted(
        (os.path.join(parent, e) for e in entries if e.startswith(prefix)),
        key=lambda p: os.path.getmtime(p) if os.path.exists(p) else 0,
    )


def _partial_pid(entry, path):
    rest = os.path.basename(entry)[len(f".{os.path.basename(path)}.partial-") :]
    head = rest.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def recover(path):
    """Cleans what interrupted exports to `path` left (see module doc); returns what it did.

    Example:
        >>> recover("out/")       # after a kill -9 between the two renames of an overwrite
        ['restored the previous export from out/../.out.old-x1y2']
    """
    path = os.path.abspath(os.fspath(path))
    done = []
    for entry in _siblings(path, "partial"):
        pid = _partial_pid(entry, path)
        if pid is not None and pid != os.getpid() and _alive(pid):
            continue  # another process is exporting here right now
        shutil.rmtree(entry, ignore_errors=True)
        done.append(f"removed {entry} (left by an interrupted export)")
    olds = [e for e in _siblings(path, "old") if os.path.isfile(os.path.join(e, MARKER))]
    if olds and not os.path.exists(path):
        os.rename(olds[-1], path)
        done.append(
            f"restored the previous export from {olds[-1]} (an overwrite was "
            "interrupted before the new export landed)"
        )
        olds = olds[:-1]
    for entry in _siblings(path, "old"):
        if os.path.exists(path):
            shutil.rmtree(entry, ignore_errors=True)
            done.append(f"removed {entry} (previous export already replaced)")
    for line in done:
        _logger.warning("keras_mot export: %s", line)
    return done


def _missing_parents(path):
    created, parent = [], os.path.dirname(path)
    while parent and not os.path.exists(parent):
        created.append(parent)
        parent = os.path.dirname(parent)
    return created


class AtomicDirectory:
    """Context manager yielding a temporary directory that becomes `path` on success.

    Args:
        path: final directory. If it exists it must be empty or a previous keras_mot export
            (holding `report.json`), and `overwrite` must be true; it is replaced at the end.
        overwrite: allow replacing an existing export.

    Example:
        >>> with AtomicDirectory("out/") as tmp:
        ...     write_files(tmp)          # an exception here leaves no "out/"
    """

    def __init__(self, path, overwrite=True):
        self.path = os.path.abspath(os.fspath(path))
        self.overwrite = overwrite
        self.tmp = None
        self._created = []
        self.recovered = []

    def check(self):
        """Raises `ExportError` when `path` may not be (re)placed."""
        if os.path.isfile(self.path):
            raise ExportError(
                format_error(
                    "The export directory is an existing file.",
                    received=repr(self.path),
                    fix="Pass a directory path.",
                )
            )
        if os.path.isdir(self.path) and os.listdir(self.path):
            if not os.path.isfile(os.path.join(self.path, MARKER)):
                raise ExportError(
                    format_error(
                        "The export directory exists and is not a keras_mot export; not replacing it.",
                        received=repr(self.path),
                        fix="Pass a new or empty directory.",
                    )
                )
            if not self.overwrite:
                raise ExportError(
                    format_error(
                        "The export directory already holds an export.",
                        received=repr(self.path),
                        fix="Pass overwrite=True or another directory.",
                    )
                )

    def __enter__(self):
        self.recovered = recover(self.path)
        self.check()
        self._created = _missing_parents(self.path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        name = os.path.basename(self.path.rstrip(os.sep)) or "export"
        self.tmp = tempfile.mkdtemp(prefix=f".{name}.partial-{os.getpid()}-", dir=os.path.dirname(self.path))
        return self.tmp

    def _commit(self):
        old = None
        if os.path.exists(self.path):
            old = tempfile.mkdtemp(
                prefix=f".{os.path.basename(self.path)}.old-", dir=os.path.dirname(self.path)
            )
            os.rmdir(old)
            os.rename(self.path, old)
        try:
            os.rename(self.tmp, self.path)
        except BaseException:
            if old is not None:  # put the previous export back before reporting the failure
                os.rename(old, self.path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def rollback(self):
        """Removes the temporary directory and the parents this created."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        for parent in self._created:
            try:
                os.rmdir(parent)
            except OSError:
                break

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self._commit()
            except BaseException:
                self.rollback()
                raise
        else:
            self.rollback()
        return False
