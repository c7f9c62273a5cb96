"""One `dvk run` per SQLite file (bot/ops/runlock.py): while a real `dvk run` serves a file, a
second one is refused with a message and exit code 2 before it touches anything, `dvk chat`
still runs beside it, and the lock goes with the process, even one killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.ops.runlock import AlreadyServed, lock_path, serving
from language.texts import Texts
from tests.conftest import TOKEN
from tests.fakebotapi import FakeBotApi, running
from tests.test_run_process import dvk_environ

STARTUP_TIMEOUT = 20.0
T = Texts("vi")


def refusal_of(path: Path, pid: object) -> str:
    return T("cli-already-running", path=path, pid=pid)


def dvk(command: list[str], environ: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *command],
        cwd=cwd,  # no .env there
        env=environ,
        input="",  # `dvk chat` reads end of input and ends
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_dvk_run_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "served.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    log_path = tmp_path / "first-run.log"
    with running(FakeBotApi(token=TOKEN)) as api, log_path.open("wb") as log:
        environ = dvk_environ(url, api.url)
        first = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            api.watch(first)
            api.wait_for(
                lambda: "getUpdates" in [c.method for c in api.calls],
                STARTUP_TIMEOUT,
                "the first bot to start polling",
            )
            calls_before = len(api.calls)

            second = dvk(["run"], environ, tmp_path)
            assert second.returncode == 2, second.stderr
            assert refusal_of(database, first.pid) in second.stderr
            assert "Traceback" not in second.stderr
            # Refused before asking Telegram anything (the first process keeps polling).
            assert "getMe" not in [c.method for c in api.calls[calls_before:]]

            # The terminal chat opens the same file beside the running bot.
            beside = dvk(["chat", "--as", "ban"], environ, tmp_path)
            assert beside.returncode == 0, beside.stderr
            assert str(database) not in beside.stderr

            # The kernel drops the lock with the process, however it ends.
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            with serving(database):
                assert lock_path(database).read_text() == f"{os.getpid()}\n"
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(5)
            print(log_path.read_text(errors="replace"))  # shown by pytest when the test fails


def test_the_lock_is_per_file_and_only_for_sqlite(tmp_path: Path) -> None:
    served, other = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    with serving(served):
        # flock is per open file, so this process's second attempt is refused like another's.
        with pytest.raises(AlreadyServed) as refused, serving(served):
            pass
        assert (refused.value.database, refused.value.holder) == (served, str(os.getpid()))
        with serving(other):
            assert lock_path(other).exists()
        with serving(None):  # a server database (PostgreSQL): nothing is locked
            pass
    with serving(served):  # released when the first block ended
        pass
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "a.sqlite3.run-lock",
        "b.sqlite3.run-lock",
    ]
