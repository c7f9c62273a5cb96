"""The command menu and /help of each role, both read from the declared commands."""

from __future__ import annotations

from typing import Any

from handlers.core.commands import Command, Role, registry
from language.texts import Texts

# The menu's sections: everyone's (what a member does, shown to newcomers too), a coordinator's
# (also an admin's) and an admin's.
SECTIONS = {
    "MEMBER": (Role.ANYONE, Role.MEMBER),
    "COORDINATOR": (Role.STAFF,),
    "ADMIN": (Role.ADMIN,),
}


def section(name: str) -> list[Command[Any]]:
    roles = SECTIONS[name]
    commands = [command for command in registry().listed if command.role in roles]
    return sorted(commands, key=lambda command: command.last)


def commands_for(*, is_admin: bool, is_coordinator: bool) -> list[str]:
    names = [command.name for command in section("MEMBER")]
    if is_coordinator or is_admin:
        names += [command.name for command in section("COORDINATOR")]
    if is_admin:
        names += [command.name for command in section("ADMIN")]
    return names


def __getattr__(name: str) -> tuple[str, ...]:
    """MEMBER, COORDINATOR, ADMIN: the names in each section of the menu."""
    if name not in SECTIONS:
        raise AttributeError(name)
    return tuple(command.name for command in section(name))


def _lines(t: Texts, commands: list[Command[Any]], *, admin: bool = False) -> list[str]:
    lines = []
    # A role's own commands first, then those everyone has.
    for command in sorted(commands, key=lambda command: command.role is Role.ANYONE):
        if command.help:
            key = f"help-cmd-{command.name}"
            # Some coordinator commands reach every unit for an admin, and say so.
            lines.append(t(key + "-admin" if admin and t.has(key + "-admin") else key))
    return lines


def help_section(t: Texts, role: Role) -> str:
    """What one role may do, a line per command: MEMBER, STAFF (a coordinator) or ADMIN (also
    every coordinator's command, across all units)."""
    if role is Role.MEMBER:
        return "\n".join([t("help-member"), *_lines(t, section("MEMBER"))])
    if role is Role.STAFF:
        return "\n".join([t("help-coordinator"), *_lines(t, section("COORDINATOR"))])
    commands = section("COORDINATOR") + section("ADMIN")
    # Everyone's commands that do more for an admin (for someone else) say so here too.
    commands += [c for c in section("MEMBER") if t.has(f"help-cmd-{c.name}-admin")]
    return "\n".join([t("help-admin"), *_lines(t, commands, admin=True)])


def help_text(t: Texts, *, member: bool, staff: bool, admin: bool) -> str:
    sections = [help_section(t, Role.MEMBER)] if member else []
    if admin:
        sections.append(help_section(t, Role.ADMIN))
    elif staff:
        sections.append(help_section(t, Role.STAFF))
    return "\n\n".join(sections or [t("help-guest")]) + "\n\n" + t("help-forms")
