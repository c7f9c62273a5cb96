"""Choosing a person among thousands, and what follows a change of someone's role: they are
told through the outbox and their command menu is refreshed. Shared by /phutrach, /quantri and
/xoadulieu."""

from __future__ import annotations

from handlers.core.context import Ctx
from handlers.core.notify import payload, queue
from handlers.core.options import people_options
from handlers.forms import engine
from handlers.forms.spec import FieldSpec, FormSpec, Option, Paged
from storage.models import Conversation, Member
from storage.records.people import identities_of, named_people, search_people

PERSON_PAGE = 8


def person_field(when: tuple[str, str]) -> FieldSpec:
    """The question "which person?", asked when the answer `when` names was given; its options
    come from `choose_person` under the source "people"."""
    return FieldSpec(
        "person",
        "choice",
        "label-person",
        "ask-person",
        source="people",
        page_size=PERSON_PAGE,
        when=(when,),
    )


async def choose_person(
    ctx: Ctx, conv: Conversation, form: FormSpec, *, admins: bool | None
) -> list[Option]:
    """While the person is being chosen, the page of people the form shows (its search and
    page, searched and paged by the database), and those matching what was typed now;
    afterwards only the one chosen (the summary shows their name)."""
    step = engine.current_step(form, conv.state)
    chosen = conv.state["answers"].get("person")
    no_unit = ctx.t("person-no-unit")
    if step.kind == "ask" and step.spec is not None and step.spec.name == "person":
        size = step.spec.page_size

        async def search(query: str | None, page: int) -> tuple[int, list[Option]]:
            async def load() -> tuple[int, list[Option]]:
                total, rows = await search_people(
                    ctx.session, query=query, admins=admins, limit=size, offset=page * size
                )
                if page and not rows and total:  # past the last page: the last one
                    return await search(query, (total - 1) // size)
                return total, people_options(rows, no_unit)

            return await ctx.once(f"people:{admins}:{page}:{query}", load)

        total, shown = await search(conv.state.get("query"), conv.state.get("page", 0))
        typed = (ctx.inbound.text or "").strip()
        if not typed or typed.startswith("/") or ctx.inbound.choice is not None:
            return Paged(shown, total=total)
        typed_total, found = await search(typed, 0)
        return Paged(shown, total=total, typed=typed, typed_found=found, typed_total=typed_total)
    if chosen and str(chosen).isdigit():
        return people_options(await named_people(ctx.session, ids=[int(chosen)]), no_unit)
    return []


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
