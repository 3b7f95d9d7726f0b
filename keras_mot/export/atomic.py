"""Atomic output directories: build in a hidden sibling, rename into place at the end.

A failure removes the partial directory (and any parent directories this created), so an export
either fully exists or does not exist at all.
"""

import os
import shutil
import tempfile

from keras_mot.errors import ExportError, format_error

MARKER = "report.json"  # a directory holding this is a previous keras_mot export


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

    def check(self):
        """Raises `ExportError` when `path` may not be (re)placed."""
        if os.path.isfile(self.path):
            raise ExportError(format_error("The export directory is an existing file.",
                                           received=repr(self.path),
                                           fix="Pass a directory path."))
        if os.path.isdir(self.path) and os.listdir(self.path):
            if not os.path.isfile(os.path.join(self.path, MARKER)):
                raise ExportError(format_error(
                    "The export directory exists and is not a keras_mot export; not replacing it.",
                    received=repr(self.path), fix="Pass a new or empty directory."))
            if not self.overwrite:
                raise ExportError(format_error(
                    "The export directory already holds an export.", received=repr(self.path),
                    fix="Pass overwrite=True or another directory."))

    def __enter__(self):
        self.check()
        self._created = _missing_parents(self.path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        name = os.path.basename(self.path.rstrip(os.sep)) or "export"
        self.tmp = tempfile.mkdtemp(prefix=f".{name}.partial-", dir=os.path.dirname(self.path))
        return self.tmp

    def _commit(self):
        old = None
        if os.path.exists(self.path):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(self.path)}.old-",
                                   dir=os.path.dirname(self.path))
            os.rmdir(old)
            os.rename(self.path, old)
        os.rename(self.tmp, self.path)
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
