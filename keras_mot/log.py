"""keras_mot's loggers: library messages go through `logging`, under the `"keras_mot"` logger.

One logger shows by default: `"keras_mot.prepared"` (named after the module that uses it), which
carries the lint table that `PreparedModel.compile(lint="table")` prints before training. It
writes INFO records to the current `sys.stdout` with a plain `%(message)s` format and does not
propagate (no doubled lines when the application configures the root logger). To silence or
re-route it:

Example:
    >>> import logging
    >>> logging.getLogger("keras_mot.prepared").setLevel(logging.WARNING)   # silence the table
    >>> qmodel.compile("adam", "mse", lint="off")                          # or skip the lint
    >>> show_compile_lint(False)   # hand it to the application's logging (propagate, no handler)
"""

import logging
import sys

COMPILE = "keras_mot.prepared"
# What a caller asked for with `verbose=True`: `mot.export`'s summary line. Named, like COMPILE, after
# the module that owns the output (a logger name that reads as a module path names a real one).
VERBOSE = "keras_mot.export.api"


class StdoutHandler(logging.StreamHandler):
    """A `StreamHandler` writing to whatever `sys.stdout` is when a record is emitted.

    (A plain `StreamHandler(sys.stdout)` keeps the stream of import time, so redirecting or
    capturing stdout later would miss the message.)

    Example:
        >>> logging.getLogger("my_app").addHandler(StdoutHandler())
    """

    def emit(self, record):
        # Not `setStream`: it flushes the previous stream, which may be closed by now (a
        # replaced or captured stdout).
        self.stream = sys.stdout
        super().emit(record)


def _show_on_stdout(name, show):
    logger = logging.getLogger(name)
    for handler in [h for h in logger.handlers if isinstance(h, StdoutHandler)]:
        logger.removeHandler(handler)
    if show:
        handler = StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    logger.propagate = not show
    return logger


def verbose_logger():
    """The `"keras_mot.export.api"` logger: output a caller asked for with `verbose=True` (the
    export's summary line). Shown on stdout by default, like the compile-time lint table.

    Example:
        >>> verbose_logger().info("exported")
    """
    return logging.getLogger(VERBOSE)


def show_compile_lint(show=True):
    """Whether keras_mot's own handler prints the compile-time lint table (default: it does).

    `show=False` removes that handler and lets the records propagate to the application's
    logging configuration instead.

    Example:
        >>> show_compile_lint(False)
    """
    return _show_on_stdout(COMPILE, show)


def compile_logger():
    """The `"keras_mot.prepared"` logger (its default stdout handler is set up on import)."""
    return logging.getLogger(COMPILE)


show_compile_lint(True)
_show_on_stdout(VERBOSE, True)
