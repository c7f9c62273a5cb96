"""/xoadulieu: a person withdraws their consent and has their personal data erased (Decree
13/2023's right to deletion), after a confirmation that says what will happen and what is kept.
An admin may do it for someone else, for a request that came on paper: the person is chosen as
in /phutrach, and the erasure is audited by id, never by name. Nobody else can reach another
person's data: "whose" is checked at each step and again when the erasure is applied. The work
itself is storage/retention.py `erase_person`, one unit of work; photo files are deleted once it
has committed, so a failure half-way leaves everything as it was."""

from __future__ import annotations

from typing import Any

from handlers.core import conversation
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.shared.invites import audit_revoked
from handlers.shared.people import choose_person, name_of, person_field
from language import vn
from storage.media import deleting
from storage.models import Conversation, Member
from storage.records.audit import add_audit_entry
from storage.records.invites import revoke_orphaned
from storage.records.people import identities_of, lock_admins
from storage.retention import erase_person

FORM = "erase"
MINE, OTHER = "mine", "other"


class EraseFlow(Flow):
    # Someone who declines a changed notice is offered this: it must work before agreeing.
    before_consent = True
    form = FormSpec(
        FORM,
        "form-erase",
        (
            FieldSpec(
                "whose",
                "choice",
                "label-erase-whose",
                "ask-erase-whose",
                options=(Option(MINE, "erase-whose-mine"), Option(OTHER, "erase-whose-other")),
            ),
            person_field(("whose", OTHER)),
        ),
        confirm_label="button-erase-confirm",
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        options: dict[str, list[Option]] = {}
        if conv.state["answers"].get("whose") == OTHER and await ctx.is_admin():
            options["people"] = await choose_person(ctx, conv, self.form, admins=None)
        return FormEnv(options=options)

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if spec.name == "whose" and value == OTHER and not await ctx.is_admin():
            raise vn.InputError("error-not-allowed")

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if answers.get("whose") == OTHER:
            # Checked again: the admin right may have been taken away since the choice.
            if not await ctx.is_admin():
                raise vn.InputError("error-not-allowed")
            await _erase(ctx, int(answers["person"]))
        else:
            await _erase(ctx, ctx.member.id)


register(EraseFlow())


async def _erase(ctx: Ctx, person_id: int) -> None:
    asking = person_id == ctx.member.id
    person = await ctx.session.get(Member, person_id)
    if person is None or (not asking and person.full_name is None):
        raise vn.InputError("error-choice")
    # Locked (PostgreSQL): two admins erasing each other at once leave one.
    admins = await lock_admins(ctx.session)
    if person_id in admins and len(admins) <= 1:
        raise vn.InputError("erase-last-admin")
    name = name_of(ctx, person)
    identities = [
        (i.channel, i.external_id) for i in await identities_of(ctx.session, member_id=person_id)
    ]
    erased = await erase_person(
        ctx.session, member_id=person_id, now=ctx.now, left=ctx.t("member-left"), asking=asking
    )
    # The links they handed out as a coordinator would go on admitting people in their name.
    await audit_revoked(
        ctx, await revoke_orphaned(ctx.session, creator_id=person_id), reason="erased"
    )
    # By id only: the log must not keep what was just erased.
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id if not asking else person_id,
        action="personal.erased",
        object_type="member",
        object_id=person_id,
        details={"by": "self" if asking else "admin", "commendations_kept": erased.commendations},
    )
    store = ctx.config.channels.media_store()
    if store is not None and erased.media_keys:
        ctx.result.after_commit.append(deleting(store, erased.media_keys))
    ctx.result.roles_changed += identities
    kept = ctx.t("erase-kept")
    if erased.commendations:
        kept += "\n" + ctx.t("erase-kept-commendations", count=erased.commendations)
    if asking:
        ctx.result.say(ctx.t("erase-done-self") + "\n" + kept)
    else:
        ctx.result.say(ctx.t("erase-done-other", name=name, id=person_id) + "\n" + kept)


async def start(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    ctx.say("erase-explain")
    if await ctx.is_admin():
        await conversation.start(ctx, FORM)
    else:
        # Only their own: the form opens at its confirmation.
        await conversation.start(ctx, FORM, answers={"whose": MINE}, fixed=("whose",))


COMMANDS = (Command(("xoadulieu",), Role.ANYONE, start, opens=FORM, before_consent=True),)
