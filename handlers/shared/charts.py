"""Chart images for digests and statistics, drawn with matplotlib's object API (no pyplot
state, no screen), in a thread of their own (`drawn`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any, TypeVar

# One thread draws every chart: drawing takes long enough to stall the event loop, and
# matplotlib is not safe to use from several threads at once.
_DRAWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")
T = TypeVar("T")


async def drawn(draw: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`draw(*args, **kwargs)` run in the chart thread, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_DRAWER, functools.partial(draw, *args, **kwargs))


def plain(text: str) -> str:
    """The text as matplotlib shows it literally: an unescaped pair of `$` would start
    mathematics (and a name like "Số $\\sqrt{x$" would fail to draw); an escaped one is a dollar
    sign, and without mathematics a backslash is only a backslash."""
    return text.replace("$", r"\$")


def _bars(rows: list[Any], draw: Callable[[Any, list[int]], None], *, title: str) -> bytes:
    """A horizontal bar chart, one row per item (at most 20), drawn by `draw(axes, positions)`
    with the first column as labels. PNG bytes."""
    # Imported here: matplotlib takes a second to load, and only charts need it.
    from matplotlib.figure import Figure

    rows = rows[:20]
    figure = Figure(figsize=(8, 1.6 + 0.42 * max(len(rows), 1)), dpi=100)
    axes = figure.subplots()
    positions = list(range(len(rows)))
    draw(axes, positions)
    names = [plain(row[0] if len(row[0]) <= 38 else row[0][:37] + "…") for row in rows]
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_title(plain(title))
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="lower right")
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def reports_chart(
    rows: list[tuple[str, int, int]], *, title: str, expected: str, received: str
) -> bytes:
    """Bars per unit: reports expected against received."""
    rows = rows[:20]

    def draw(axes: Any, positions: list[int]) -> None:
        axes.barh(
            [p + 0.2 for p in positions],
            [e for _, e, _ in rows],
            height=0.4,
            color="#c7d5e0",
            label=plain(expected),
        )
        axes.barh(
            [p - 0.2 for p in positions],
            [r for _, _, r in rows],
            height=0.4,
            color="#b5261e",
            label=plain(received),
        )

    return _bars(rows, draw, title=title)


def fields_chart(
    rows: list[tuple[str, int, int]], *, title: str, collective: str, individual: str
) -> bytes:
    """Bars per field of activity: collectives and individuals stacked."""
    rows = rows[:20]

    def draw(axes: Any, positions: list[int]) -> None:
        collectives = [c for _, c, _ in rows]
        axes.barh(positions, collectives, height=0.6, color="#b5261e", label=plain(collective))
        axes.barh(
            positions,
            [i for _, _, i in rows],
            left=collectives,
            height=0.6,
            color="#e8a33d",
            label=plain(individual),
        )

    return _bars(rows, draw, title=title)
