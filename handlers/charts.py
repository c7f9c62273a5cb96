"""Chart images for digests and statistics, drawn with matplotlib's object API (no pyplot
state, no screen)."""

from __future__ import annotations

from io import BytesIO


def reports_chart(
    rows: list[tuple[str, int, int]], *, title: str, expected: str, received: str
) -> bytes:
    """Horizontal bars per unit: reports expected against received. Returns PNG bytes."""
    # Imported here: matplotlib takes a second to load, and only digests need it.
    from matplotlib.figure import Figure

    rows = rows[:20]
    height = 1.6 + 0.42 * max(len(rows), 1)
    figure = Figure(figsize=(8, height), dpi=100)
    axes = figure.subplots()
    names = [name if len(name) <= 38 else name[:37] + "…" for name, _, _ in rows]
    positions = list(range(len(rows)))
    axes.barh(
        [p + 0.2 for p in positions],
        [e for _, e, _ in rows],
        height=0.4,
        color="#c7d5e0",
        label=expected,
    )
    axes.barh(
        [p - 0.2 for p in positions],
        [r for _, _, r in rows],
        height=0.4,
        color="#b5261e",
        label=received,
    )
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_title(title)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="lower right")
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def fields_chart(
    rows: list[tuple[str, int, int]], *, title: str, collective: str, individual: str
) -> bytes:
    """Horizontal bars per field of activity: collectives and individuals stacked. PNG bytes."""
    from matplotlib.figure import Figure

    rows = rows[:20]
    figure = Figure(figsize=(8, 1.6 + 0.42 * max(len(rows), 1)), dpi=100)
    axes = figure.subplots()
    names = [name if len(name) <= 38 else name[:37] + "…" for name, _, _ in rows]
    positions = list(range(len(rows)))
    collectives = [c for _, c, _ in rows]
    axes.barh(positions, collectives, height=0.6, color="#b5261e", label=collective)
    axes.barh(
        positions,
        [i for _, _, i in rows],
        left=collectives,
        height=0.6,
        color="#e8a33d",
        label=individual,
    )
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_title(title)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="lower right")
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
