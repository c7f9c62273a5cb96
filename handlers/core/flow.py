"""A flow is a form plus what to do around it: where its options come from, which answers need
the database to be checked, and what happens when it is confirmed."""

from __future__ import annotations

from typing import ClassVar

from handlers.core.context import Ctx
from handlers.forms.engine import FinalAnswers
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec
from storage.conversation_state import Value
from storage.models import Conversation


class Flow:
    # The form's name and title; a flow whose questions depend on the record (a report asks one
    # value per target of its model) builds the full form in `form_for`.
    form: ClassVar[FormSpec]
    # Its steps are answered before agreeing to the personal-data notice (handlers/core/consent.py):
    # the form of a command declared `before_consent`.
    before_consent: ClassVar[bool] = False

    def form_for(self, conv: Conversation) -> FormSpec:
        return self.form

    async def refresh(self, ctx: Ctx, conv: Conversation) -> bool:
        """Bring a form built from stored data up to date before a step is taken (an admin
        added or removed a question meanwhile); True when it changed."""
        return False

    async def prompt(
        self, ctx: Ctx, conv: Conversation, spec: FieldSpec, params: dict[str, object]
    ) -> str:
        """The question of a step as shown now, with what it may name (`params`: the unit
        expected, the flow's own values); an import on a channel that cannot send files shows a
        fresh upload link instead."""
        return ctx.t(spec.prompt, **params) if ctx.t.has(spec.prompt) else spec.prompt

    async def env(self, ctx: Ctx, conv: Conversation) -> FormEnv:
        return FormEnv(context=dict(conv.context))

    async def check(
        self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Value
    ) -> None:  # pragma: no cover - most flows have no database checks
        """Raise vn.InputError when an answer is not acceptable against stored data."""

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        """Checked again at every step: a role can be taken away in the middle of a form."""
        return True

    async def attachment(self, ctx: Ctx, conv: Conversation) -> bool:
        """A file sent while this form is open (`ctx.inbound` tells which): True when the flow
        dealt with it itself; otherwise the form's steps take it (photos)."""
        return False

    async def preview(self, ctx: Ctx, conv: Conversation, note: str | None) -> bool:
        """Show a summary of the flow's own instead of the list of answers (a broadcast shows
        the message as it will arrive) and return True; its buttons come from
        `conversation.button`, so they act as the standard ones do."""
        return False

    async def complete(self, ctx: Ctx, conv: Conversation, answers: FinalAnswers) -> None:
        raise NotImplementedError


FLOWS: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    FLOWS[flow.form.name] = flow
    return flow


class AdminFlow(Flow):
    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_admin()
