"""User-facing errors.

Every problem a user can cause (a missing file, an unreadable slide, a
missing pixel size, an out-of-range option) raises a :class:`WsinucError`
subclass whose message is one line naming the file or option and the
problem. The CLI prints that line and exits non-zero; library callers can
catch the class.
"""

from __future__ import annotations

from pathlib import Path


class WsinucError(Exception):
    """Base class of errors caused by user input; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class SlideError(WsinucError):
    """A slide (or image) file is missing, unreadable or not supported."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


class MissingMppError(SlideError):
    """The slide does not record a usable pixel size."""

    def __init__(self, path: str | Path, detail: str = "") -> None:
        hint = (
            "the slide does not record its pixel size (microns per pixel)"
            + (f" ({detail})" if detail else "")
            + "; pass --mpp with the pixel size in um/px, e.g. --mpp 0.25 for 40x"
        )
        super().__init__(path, hint)


class DatasetError(WsinucError):
    """A dataset file is missing or malformed (e.g. corrupt XML)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


class OptionError(WsinucError):
    """An option value is out of range or inconsistent."""

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        super().__init__(f"{option}: {problem}")
