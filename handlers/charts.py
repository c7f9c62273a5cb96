"""Chart images for digests, drawn with matplotlib's object API (no pyplot state, no screen)."""

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
