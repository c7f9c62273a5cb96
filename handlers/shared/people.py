"""Choosing a person among thousands, and what follows a change of someone's role: they are
told through the outbox and their command menu is refreshed. Shared by /phutrach, /quantri and
/xoadulieu."""

from __future__ import annotations

from handlers.core.context import Ctx
from handlers.core.notify import payload, queue
from handlers.core.options import people_options
from handlers.forms import engine
from handlers.forms.spec import FormSpec, Option
from storage.models import Conversation, Member
from storage.records.people import identities_of, named_people

PERSON_PAGE = 8


async def choose_person(
    ctx: Ctx, conv: Conversation, form: FormSpec, *, admins: bool | None
) -> list[Option]:
    """Everyone named while the person is being chosen; afterwards only the one chosen (the
    summary shows their name): thousands of rows are read only when needed."""
    step = engine.current_step(form, conv.state)
    chosen = conv.state["answers"].get("person")
    if step.kind == "ask" and step.spec is not None and step.spec.name == "person":
        rows = await named_people(ctx.session, admins=admins)
    elif chosen and str(chosen).isdigit():
        rows = await named_people(ctx.session, ids=[int(chosen)])
    else:
        rows = []
    return people_options(rows, ctx.t("person-no-unit"))


async def roles_changed(ctx: Ctx, member_id: int) -> None:
    for identity in await identities_of(ctx.session, member_id=member_id):
        ctx.result.roles_changed.append((identity.channel, identity.external_id))


async def tell(ctx: Ctx, conv: Conversation, member_id: int, text: str) -> None:
    """Through the outbox; one message per person and applied form (its row's version)."""
    if member_id == ctx.member.id:
        return  # the reply says it already
    key = f"role:{ctx.member.id}:{conv.version}:{member_id}"
    await queue(ctx, key=key, member_id=member_id, payload=payload(text), priority=3)


def name_of(ctx: Ctx, member: Member) -> str:
    return member.full_name or ctx.t("person-unnamed", id=member.id)
