"""Domain rules that belong to records: roles, categories, model statuses and their transitions."""

from __future__ import annotations

ROLE_MEMBER = "member"
ROLE_COORDINATOR = "coordinator"
ROLES = (ROLE_MEMBER, ROLE_COORDINATOR)

CATEGORIES = (
    "can_bo",
    "dang_vien",
    "cong_chuc",
    "vien_chuc",
    "doan_vien",
    "hoi_vien",
    "nguoi_lao_dong",
)

KIND_COLLECTIVE = "collective"
KIND_INDIVIDUAL = "individual"
KINDS = (KIND_COLLECTIVE, KIND_INDIVIDUAL)

DRAFT = "draft"
SUBMITTED = "submitted"
APPROVED = "approved"
RETURNED = "returned"
REJECTED = "rejected"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
EVALUATED = "evaluated"
STATUSES = (DRAFT, SUBMITTED, APPROVED, RETURNED, REJECTED, IN_PROGRESS, COMPLETED, EVALUATED)

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({SUBMITTED}),
    SUBMITTED: frozenset({APPROVED, RETURNED, REJECTED}),
    RETURNED: frozenset({SUBMITTED}),
    APPROVED: frozenset({IN_PROGRESS, COMPLETED}),
    IN_PROGRESS: frozenset({COMPLETED}),
    COMPLETED: frozenset({EVALUATED}),
    REJECTED: frozenset(),
    EVALUATED: frozenset(),
}


class TransitionError(ValueError):
    pass


def check_transition(current: str, new: str) -> None:
    if new not in TRANSITIONS.get(current, frozenset()):
        raise TransitionError(f"{current} -> {new}")


JOIN_PENDING = "pending"
JOIN_ACCEPTED = "accepted"
JOIN_REFUSED = "refused"

COMMENDATION_LEVELS = ("co_so", "dang_uy_khoi", "bcd_tinh", "ubnd_tinh")
PROPOSED = "proposed"
DECIDED = "decided"
