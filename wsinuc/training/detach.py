"""Run ``wsinuc train`` detached from the terminal that started it.

``wsinuc train ... --detach`` starts the same command again, without
``--detach``, in a new session (``setsid``: closing the terminal or an SSH
connection does not stop it) with stdin closed and stdout/stderr appended to
``<out>/train.log``, writes the child's process id to ``<out>/train.pid`` and
returns at once. Stop it with ``kill $(cat <out>/train.pid)`` and continue it
later with ``--resume``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

LOG_NAME = "train.log"
PID_NAME = "train.pid"
FLAG = "--detach"


def without_flag(argv: Sequence[str], flag: str = FLAG) -> list[str]:
    """``argv`` with every ``flag`` removed (the command the detached child runs)."""
    return [arg for arg in argv if arg != flag]


def detached_command(argv: Sequence[str]) -> list[str]:
    """The child's command line: this Python running ``wsinuc`` with ``argv`` minus ``--detach``.

    ``--verbose`` is added (one log line per epoch instead of a progress bar,
    which a log file cannot show).
    """
    args = without_flag(argv)
    verbose = [] if "--verbose" in args or "-v" in args else ["--verbose"]
    return [sys.executable, "-m", "wsinuc", *args, *verbose]


def spawn_detached(command: Sequence[str], out_dir: Path) -> int:
    """Start ``command`` in its own session, logging to ``out_dir/train.log``; return its pid.

    The pid is also written to ``out_dir/train.pid`` (temporary name, then renamed).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / LOG_NAME).open("ab") as log:
        child = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=os.environ.copy(),
        )
    tmp = out_dir / (PID_NAME + ".tmp")
    tmp.write_text(f"{child.pid}\n")
    os.replace(tmp, out_dir / PID_NAME)
    return child.pid
