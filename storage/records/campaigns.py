"""Campaigns: the periods of the movement, the one open or taking registrations today, and the
conferences units hold for them. Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Campaign, Conference, Model


async def open_campaign(session: AsyncSession, *, today: date) -> Campaign | None:
    return await session.scalar(
        select(Campaign)
        .where(Campaign.starts_on <= today, Campaign.ends_on >= today)
        .order_by(Campaign.starts_on.desc(), Campaign.id.desc())
        .limit(1)
    )


async def registration_campaign(session: AsyncSession, *, today: date) -> Campaign | None:
    """The campaign taking registrations today (its window, or else its whole period)."""
    opens = func.coalesce(Campaign.registration_opens_on, Campaign.starts_on)
    closes = func.coalesce(Campaign.registration_closes_on, Campaign.ends_on)
    return await session.scalar(
        select(Campaign)
        .where(opens <= today, closes >= today)
        .order_by(Campaign.starts_on.desc(), Campaign.id.desc())
        .limit(1)
    )


async def add_campaign(
    session: AsyncSession, *, code: str, name: str, starts_on: date, ends_on: date, now: datetime
) -> Campaign:
    campaign = Campaign(code=code, name=name, starts_on=starts_on, ends_on=ends_on, created_at=now)
    session.add(campaign)
    await session.flush()
    return campaign


async def campaign_by_code(session: AsyncSession, *, code: str) -> Campaign | None:
    return await session.scalar(select(Campaign).where(func.upper(Campaign.code) == code.upper()))


async def recent_campaigns(session: AsyncSession, *, limit: int = 12) -> Sequence[Campaign]:
    result = await session.scalars(
        select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc()).limit(limit)
    )
    return result.all()


async def campaign_for_update(session: AsyncSession, *, campaign_id: int) -> Campaign | None:
    """The campaign with its row locked until the unit of work ends (PostgreSQL; SQLite writes
    one at a time anyway), read afresh: two admins changing its questions at once both count."""
    return await session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def all_campaigns(session: AsyncSession) -> Sequence[Campaign]:
    """Every campaign, the newest first."""
    return (await session.scalars(select(Campaign).order_by(Campaign.starts_on.desc()))).all()


async def campaigns_exist(session: AsyncSession) -> bool:
    return await session.scalar(select(Campaign.id).limit(1)) is not None


async def campaign_for_reporting(session: AsyncSession, *, campaign_id: int) -> Campaign | None:
    """The campaign read afresh under a shared lock until the unit of work ends: reports do not
    wait for each other, only for a change of the campaign's rhythm (/suadot)."""
    return await session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )


async def conference_of(
    session: AsyncSession, *, unit_id: int, campaign_id: int, fresh: bool = False
) -> Conference | None:
    """The conference a unit held for a campaign, if recorded; `fresh` reads it again from the
    database (another admin recorded it a moment ago)."""
    query = select(Conference).where(
        Conference.unit_id == unit_id, Conference.campaign_id == campaign_id
    )
    if fresh:
        query = query.execution_options(populate_existing=True)
    return await session.scalar(query)


async def campaigns_in_units(session: AsyncSession, *, unit_ids: set[int]) -> Sequence[Campaign]:
    """The campaigns that models of these units were registered in."""
    models = select(Model.campaign_id).where(Model.unit_id.in_(unit_ids))
    return (await session.scalars(select(Campaign).where(Campaign.id.in_(models)))).all()
