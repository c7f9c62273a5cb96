"""One person's updates one at a time, in the order they were given; different people's side by
side, at most `bound` running at once. A person's updates wait in their own queue (that queue does
not take a place in the bound while it waits), and the queue is dropped as soon as it is empty,
so the memory follows the people being handled now, not everyone ever seen."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

Job = Callable[[], Awaitable[Any]]
# DVK_CONCURRENT_UPDATES (bot/config.py) unless set.
DEFAULT_BOUND = 16


class PersonOrder:
    def __init__(self, bound: int = DEFAULT_BOUND) -> None:
        self.bound = bound
        self._slots = asyncio.Semaphore(bound)
        self._queues: dict[str, deque[tuple[Job, asyncio.Future[Any]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = 0

    @property
    def people(self) -> int:
        """How many people have an update running or waiting."""
        return len(self._queues)

    def submit(self, person: str, job: Job) -> asyncio.Future[Any]:
        """Queue `job` after the person's earlier ones; its future has the job's outcome."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        queue = self._queues.get(person)
        if queue is None:
            queue = self._queues[person] = deque()
            task = loop.create_task(self._work(person, queue), name=f"person:{person}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queue.append((job, done))
        return done

    async def run(self, person: str, job: Job) -> Any:
        return await self.submit(person, job)

    async def _work(self, person: str, queue: deque[tuple[Job, asyncio.Future[Any]]]) -> None:
        try:
            while queue:
                job, done = queue[0]
                async with self._slots:
                    self.running += 1
                    try:
                        outcome = await job()
                    except Exception as error:
                        if not done.done():
                            done.set_exception(error)
                    else:
                        if not done.done():
                            done.set_result(outcome)
                    finally:
                        self.running -= 1
                queue.popleft()
        finally:
            # No await between the last look at the queue and this: nothing is queued in between.
            if self._queues.get(person) is queue:
                del self._queues[person]
            for _, done in queue:
                done.cancel()

    async def join(self) -> None:
        """Wait until every queued job has run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
