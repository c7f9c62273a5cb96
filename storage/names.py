"""A person's name folded for searching (lower case, no diacritics: "tran van binh" finds
"Trần Văn Bình"), kept in `members.name_folded` beside the name: set whenever the name is set
through the ORM (a form, /toi, the demo), so that /phutrach and /quantri search and page
100,000 people in SQL instead of reading them all. A bulk UPDATE of `full_name` must set it too
(storage/retention.py does)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from language.vietnamese import fold
from storage.models import Member


def folded_name(name: str | None) -> str | None:
    return fold(name) if name else None


@event.listens_for(Member.full_name, "set", propagate=True)
def _keep_folded(target: Member, value: Any, _old: Any, _initiator: Any) -> None:
    target.name_folded = folded_name(value)
