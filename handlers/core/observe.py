"""What the core tells about its work as it goes, for the process's metrics: the bot's layer
puts an observer that counts (bot/ops/metrics.py) in `Core.observer`; this one ignores it all,
so the core, the command line and tests run the same without one."""

from __future__ import annotations

from collections.abc import Sequence


class Observer:
    def update_handled(self, channel: str, seconds: float, form_steps: Sequence[str]) -> None:
        """An update of `channel` was handled in `seconds`; the forms each answer it gave
        moved on (one entry per step taken, usually none or one)."""

    def job_started(self) -> None:
        """Work that outlasts a reply (handlers/core/jobs.py) began."""

    def job_ended(self) -> None:
        """It ended, however it ended."""
