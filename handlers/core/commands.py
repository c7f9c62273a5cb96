"""Commands and buttons as the features declare them: each feature module ends with its `COMMANDS`
and `BUTTONS`, saying who may use each (its role) and what it opens. `handlers/features.py` lists
the features; the router, `/help` and the command menus all read the one registry built from
them, so they cannot disagree. The role is checked in one place (`holds`), in the database, at
the moment of the action."""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from handlers.core import conversation
from handlers.core.buttons import Kind
from handlers.core.context import Ctx
from storage.models import Conversation

T = TypeVar("T")
V = TypeVar("V", bound=tuple[Any, ...])
# Record ids typed: ASCII digits, and few enough to fit a 32-bit column.
ID_RE = re.compile(r"[0-9]{1,9}")


class Role(enum.Enum):
    """Who may use a command or a button, and what the others are told."""

    ANYONE = "anyone"
    MEMBER = "member"
    STAFF = "staff"  # a coordinator of some unit, or an admin
    ADMIN = "admin"

    @property
    def refusal(self) -> str:
        return "error-not-member" if self is Role.MEMBER else "error-not-allowed"


async def holds(ctx: Ctx, role: Role) -> bool:
    if role is Role.MEMBER:
        return await ctx.is_member()
    if role is Role.STAFF:
        return await ctx.is_admin() or await ctx.is_coordinator()
    if role is Role.ADMIN:
        return await ctx.is_admin()
    return True


async def _arguments(ctx: Ctx, args: str) -> str:
    return args


@dataclass(frozen=True)
class Command(Generic[T]):
    names: tuple[str, ...]  # the first is shown; the others are aliases
    role: Role
    # What it does, given what `read` made of its arguments.
    run: Callable[[Ctx, Conversation | None, T], Awaitable[None]]
    # Its arguments read before anything opens; None: it has answered already (a usage hint).
    read: Callable[[Ctx, str], Awaitable[T | None]] = _arguments  # type: ignore[assignment]
    # The form it starts: a form left open is resumed or discarded first (drafts.busy).
    opens: str | None = None
    # Whether the open form of that name is this same one, so it is simply resumed.
    same: Callable[[Conversation, T], bool] | None = None
    # It shows something: a form left open is mentioned after it.
    shows: bool = False
    menu: bool = True  # in the command menu of those who hold its role
    help: bool = True  # a line of its own in /help (`help-cmd-<name>`), when in the menu
    last: bool = False  # at the end of its menu (the form keys everyone has)
    # Usable before agreeing to the personal-data notice (handlers/core/consent.py).
    before_consent: bool = False

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass(frozen=True)
class Button(Generic[V]):
    kind: Kind[V]
    role: Role
    press: Callable[[Ctx, Conversation | None, V], Awaitable[None]] | None = None
    # A button that stands for a typed command (so an open form is dealt with the same way).
    command: Callable[[V], str] | None = None
    opens: str | None = None
    when: Callable[[V], bool] | None = None  # opens that form only for these values
    same: Callable[[Conversation, V], bool] | None = None
    # Where it has no `command`: what a person types instead on a channel without buttons, named
    # in the messages the bot sends on its own there (handlers/core/numbered.py).
    typed: Callable[[V], str] | None = None
    # Pressable before agreeing to the personal-data notice (handlers/core/consent.py).
    before_consent: bool = False


def form(
    name: str,
    role: Role,
    flow: str,
    read: Callable[[Ctx, str], Awaitable[str | None]] = _arguments,
) -> Command[str]:
    """A command that starts a form and nothing else."""

    async def run(ctx: Ctx, conv: Conversation | None, args: str) -> None:
        await conversation.start(ctx, flow)

    return Command((name,), role, run, read=read, opens=flow)


def id_or(usage: str) -> Callable[[Ctx, str], Awaitable[int | None]]:
    """Arguments that must be a record id; anything else is answered with `usage`."""

    async def read(ctx: Ctx, args: str) -> int | None:
        if ID_RE.fullmatch(args):
            return int(args)
        ctx.say(usage)
        return None

    return read


class Registry:
    def __init__(self, features: Iterable[Any]) -> None:
        self.listed: list[Command[Any]] = []
        self.commands: dict[str, Command[Any]] = {}
        self.buttons: dict[str, Button[Any]] = {}
        for feature in features:
            for command in getattr(feature, "COMMANDS", ()):
                self._add_command(command)
            for button in getattr(feature, "BUTTONS", ()):
                if button.kind.prefix in self.buttons:
                    raise ValueError(f"button {button.kind.prefix} declared twice")
                if (button.press is None) == (button.command is None):
                    raise ValueError(f"button {button.kind.prefix}: press or command, not both")
                self.buttons[button.kind.prefix] = button

    def _add_command(self, command: Command[Any]) -> None:
        for name in command.names:
            if name in self.commands:
                raise ValueError(f"/{name} declared twice")
            self.commands[name] = command
        if command.menu:
            self.listed.append(command)


def registry() -> Registry:
    """Every declared command and button. The features import core, so core reads their list
    only when asked (the router asks when it is built, before the first update)."""
    from handlers.features import REGISTRY

    return REGISTRY
