"""/quantri: the admins; an admin grants admin rights to a member or revokes them. The last admin
cannot be removed; people in DVK_ADMIN_IDS come back at their next message, which the admin who
removes them is told."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.core import conversation, menu
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, Option
from handlers.shared.people import choose_person, name_of, person_field, roles_changed, tell
from language import vn
from storage.models import Conversation, Member
from storage.records.audit import add_audit_entry
from storage.records.people import all_admins, identities_of, lock_admins


class AdminsFlow(AdminFlow):
    form = FormSpec(
        "admins",
        "form-admins",
        (
            FieldSpec(
                "action",
                "choice",
                "label-admin-action",
                "ask-admin-action",
                options=(
                    Option("grant", "admin-action-grant"),
                    Option("revoke", "admin-action-revoke"),
                ),
            ),
            person_field(("action", "grant")),
            FieldSpec(
                "admin",
                "choice",
                "label-admin",
                "ask-admin-revoke",
                source="admins",
                when=(("action", "revoke"),),
            ),
        ),
    )

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        action = conv.state["answers"].get("action")
        options: dict[str, list[Option]] = {}
        if action == "grant":
            options["people"] = await choose_person(ctx, conv, self.form, admins=False)
        elif action == "revoke":
            options["admins"] = [
                Option(str(m.id), _admin_label(ctx, m)) for m in await _admins(ctx)
            ]
        return FormEnv(options=options)

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        revoking = spec.name == "admin" or (spec.name == "action" and value == "revoke")
        if revoking and len(await _admins(ctx)) <= 1:
            raise vn.InputError("error-last-admin")

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        if answers["action"] == "grant":
            await _grant(ctx, conv, int(answers["person"]))
        else:
            await _revoke(ctx, conv, int(answers["admin"]))


register(AdminsFlow())


async def _admins(ctx: Ctx) -> Sequence[Member]:
    return sorted(await all_admins(ctx.session), key=lambda m: (name_of(ctx, m), m.id))


def _admin_label(ctx: Ctx, member: Member) -> str:
    you = f" {ctx.t('person-you')}" if member.id == ctx.member.id else ""
    return f"{name_of(ctx, member)}{you}"


async def _grant(ctx: Ctx, conv: Conversation, person_id: int) -> None:
    person = await ctx.session.get(Member, person_id)
    if person is None:
        raise vn.InputError("error-choice")
    await ctx.session.refresh(person, ["is_admin"])
    if person.is_admin:
        raise vn.InputError("admin-already", name=name_of(ctx, person))
    person.is_admin = True
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="admin.granted",
        object_type="member",
        object_id=person.id,
    )
    ctx.say("admin-granted", name=name_of(ctx, person))
    await tell(
        ctx,
        conv,
        person.id,
        ctx.t("admin-granted-notice") + "\n\n" + menu.help_section(ctx.t, Role.ADMIN),
    )
    await roles_changed(ctx, person.id)


async def _revoke(ctx: Ctx, conv: Conversation, person_id: int) -> None:
    # Locked (PostgreSQL): of two admins removing each other at once, the second sees the first.
    admins = await lock_admins(ctx.session)
    person = await ctx.session.get(Member, person_id)
    if person is None or person_id not in admins:
        raise vn.InputError("admin-not-admin", name=name_of(ctx, person) if person else "")
    if len(admins) <= 1:
        raise vn.InputError("error-last-admin")
    await ctx.session.refresh(person, ["is_admin"])
    person.is_admin = False
    await add_audit_entry(
        ctx.session,
        at=ctx.now,
        actor_id=ctx.member.id,
        action="admin.revoked",
        object_type="member",
        object_id=person.id,
    )
    if person.id == ctx.member.id:
        ctx.say("admin-revoked-self")
    else:
        ctx.say("admin-revoked", name=name_of(ctx, person))
        await tell(ctx, conv, person.id, ctx.t("admin-revoked-notice"))
    identities = await identities_of(ctx.session, member_id=person.id)
    if any(i.external_id in ctx.config.bootstrap_admins.get(i.channel, set()) for i in identities):
        ctx.say("admin-revoked-bootstrap", name=name_of(ctx, person))
    await roles_changed(ctx, person.id)


async def start(ctx: Ctx) -> None:
    admins = await _admins(ctx)
    lines = [ctx.t("admins-head", count=vn.format_number(len(admins)))]
    lines += [f"• {_admin_label(ctx, m)}" for m in admins]
    ctx.result.say("\n".join(lines))
    await conversation.start(ctx, "admins")


COMMANDS = (Command(("quantri",), Role.ADMIN, lambda ctx, conv, a: start(ctx), opens="admins"),)
