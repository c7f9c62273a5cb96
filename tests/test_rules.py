"""The model lifecycle from DESIGN.md as a transition table."""

from __future__ import annotations

import pytest

from storage import rules

ALLOWED = [
    ("draft", "submitted"),
    ("submitted", "approved"),
    ("submitted", "returned"),
    ("submitted", "rejected"),
    ("returned", "submitted"),
    ("approved", "in_progress"),
    ("approved", "completed"),
    ("in_progress", "completed"),
    ("completed", "evaluated"),
]


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_allowed_transitions(current, new):
    rules.check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [(a, b) for a in rules.STATUSES for b in rules.STATUSES if (a, b) not in ALLOWED],
)
def test_every_other_transition_is_refused(current, new):
    with pytest.raises(rules.TransitionError):
        rules.check_transition(current, new)


def test_every_status_has_a_label():
    from language.texts import load_catalog

    catalog = load_catalog("vi")
    assert all(f"status-{status}" in catalog for status in rules.STATUSES)
    assert all(f"category-{code}" in catalog for code in rules.CATEGORIES)
    assert all(f"kind-{kind}" in catalog for kind in rules.KINDS)
    assert all(f"role-{role}" in catalog for role in rules.ROLES)
