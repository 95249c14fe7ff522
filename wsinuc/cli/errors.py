"""Turn user-caused errors into one line on stderr and a non-zero exit."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import TypeVar

import typer

from wsinuc.errors import WsinucError

F = TypeVar("F", bound=Callable)

EXIT_USER_ERROR = 2
EXIT_SLIDES_FAILED = 1
"""A cohort ran to its end but some of its slides failed or were skipped."""
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_USER_ERROR) -> typer.Exit:
    """Print ``wsinuc: error: <message>`` on stderr and return the exit to raise."""
    typer.echo(f"wsinuc: error: {message}", err=True)
    return typer.Exit(code)


def reports_errors(command: F) -> F:
    """Decorate a CLI command so that user errors end in one line, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except WsinucError as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            name = exc.filename or ""
            what = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            raise fail(f"{name}: {what}" if name else what) from None
        except KeyboardInterrupt:
            raise fail("interrupted", EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]
