"""Models ("mô hình"): a person's registrations, their codes, details and status.
Not to be confused with the ORM classes in `storage.models`. Keyword-only; never commit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from storage import rules
from storage.models import Model


async def title_taken(
    session: AsyncSession,
    *,
    campaign_id: int,
    owner_id: int,
    title_key: str,
    except_model: int | None = None,
) -> bool:
    query = select(Model.id).where(
        Model.campaign_id == campaign_id,
        Model.owner_id == owner_id,
        Model.title_key == title_key,
    )
    if except_model is not None:
        query = query.where(Model.id != except_model)
    return (await session.scalar(query)) is not None


async def assign_model_code(session: AsyncSession, *, model: Model) -> None:
    """Give a new model its code, "MH<id>" — or, if an imported paper record already has that
    code (in any case: "mh12" is MH12 to an import), the first free "MH<id>-<n>"."""
    base = f"MH{model.id}"
    # The usual case in one statement: set when the code in each of its spellings is free.
    spellings = {prefix + str(model.id) for prefix in ("MH", "mh", "Mh", "mH")}
    taken = select(Model.id).where(Model.code.in_(spellings)).exists()
    usual = await session.execute(
        update(Model)
        .where(Model.id == model.id, ~taken)
        .values(code=base)
        .execution_options(synchronize_session=False)
    )
    if usual.rowcount:  # type: ignore[attr-defined]
        set_committed_value(model, "code", base)
        return
    used = set(
        await session.scalars(
            select(func.upper(Model.code)).where(
                or_(func.upper(Model.code) == base, func.upper(Model.code).like(f"{base}-%"))
            )
        )
    )
    code, n = base, 1
    while code in used:
        n += 1
        code = f"{base}-{n}"
    model.code = code
    await session.flush()


def model_code(model: Model) -> str:
    """The one number a model goes by wherever it is shown or typed: its code ("MH12")."""
    return model.code or f"MH{model.id}"


_SEPARATED = re.compile(r"MH[\s.\-_]+(?=[0-9])")


async def model_by_code(session: AsyncSession, *, text: str) -> int | None:
    """The id of the model a person means by its code, however typed: "MH12", "mh12", "MH 12",
    "MH-12" ("MH12-2" keeps its own hyphen); None when there is none."""
    key = "".join(_SEPARATED.sub("MH", text.strip().upper(), count=1).split())
    if not key:
        return None
    found = await session.scalar(select(Model.id).where(func.upper(Model.code) == key).limit(1))
    if found is None and (plain := re.fullmatch(r"MH([0-9]{1,9})", key)):
        # A model from before codes were given goes by "MH<id>" all the same.
        found = await session.scalar(
            select(Model.id).where(Model.id == int(plain[1]), Model.code.is_(None))
        )
    return found


async def models_of(session: AsyncSession, *, owner_id: int) -> Sequence[Model]:
    result = await session.scalars(
        select(Model)
        .options(selectinload(Model.campaign))
        .where(Model.owner_id == owner_id)
        .order_by(Model.created_at.desc(), Model.id.desc())
    )
    return result.all()


async def model_details(session: AsyncSession, *, model_id: int) -> Model | None:
    return await session.scalar(
        select(Model)
        .options(
            selectinload(Model.targets), selectinload(Model.field), selectinload(Model.campaign)
        )
        .where(Model.id == model_id)
    )


async def reportable_models(session: AsyncSession, *, owner_id: int) -> Sequence[Model]:
    """Models their owner reports progress on: approved or under way."""
    result = await session.scalars(
        select(Model)
        .options(selectinload(Model.campaign), selectinload(Model.targets))
        .where(
            Model.owner_id == owner_id,
            Model.status.in_((rules.APPROVED, rules.IN_PROGRESS)),
        )
        .order_by(Model.id)
    )
    return result.all()


async def advance_status(
    session: AsyncSession, *, model_id: int, old: str, new: str, now: datetime
) -> bool:
    """Move a model from one status to the next unless someone moved it first."""
    rules.check_transition(old, new)
    result = await session.execute(
        update(Model)
        .where(Model.id == model_id, Model.status == old)
        .values(status=new, updated_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
