"""``wsinuc train --detach``: the same command in its own session, logged to the run folder."""

from __future__ import annotations

import os
import sys
import time

from wsinuc.training.detach import detached_command, spawn_detached, without_flag


def test_the_child_runs_the_same_command_without_detach_and_verbose():
    command = detached_command(["train", "--out", "r", "--detach", "--steps", "5"])
    assert command[:3] == [sys.executable, "-m", "wsinuc"]
    assert command[3:] == ["train", "--out", "r", "--steps", "5", "--verbose"]
    assert without_flag(["a", "--detach"]) == ["a"]


def test_spawn_writes_the_pid_and_the_log_and_leaves_the_session(tmp_path):
    code = "import os, sys; print('sid-differs', os.getsid(0) != int(sys.argv[1]))"
    pid = spawn_detached([sys.executable, "-c", code, str(os.getsid(0))], tmp_path)
    assert int((tmp_path / "train.pid").read_text()) == pid
    for _ in range(200):
        if "sid-differs" in (tmp_path / "train.log").read_text():
            break
        time.sleep(0.05)
    assert "sid-differs True" in (tmp_path / "train.log").read_text()
