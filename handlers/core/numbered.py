"""Choices on a channel without buttons (Zalo, the terminal): the options of a reply are numbered,
and a typed reply is read against the person's current menu, the numbered options of the last
reply that had any. The menu is kept in the database, written in the unit of work of the reply,
so a restart or another replica reads "2" the same way. Back, skip and cancel are words, not
numbers; messages the bot sends on its own name the command to type instead of options, so they
never replace the menu of a form in progress."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core import buttons
from handlers.core.context import Ctx
from handlers.core.types import Choice, Outbound
from language.texts import Texts
from storage.records.conversations import get_conversation
from storage.records.menus import get_menu, put_menu

# A form's own keys, typed as words: the commands they stand for.
KEYS = {"b": "/quaylai", "s": "/boqua", "x": "/huy"}
WORDS = {"quaylai": "b", "quay lai": "b", "boqua": "s", "bo qua": "s", "huy": "x"}
NUMBER = re.compile(r"(#)?\s*\[?\s*(#)?(\d{1,4})\s*\]?\s*[.)]?")


@dataclass(frozen=True)
class Menu:
    options: tuple[Choice, ...] = ()
    # A typed number is itself an answer: options are picked with "#N".
    free_text: bool = False
    # The form keys (back, skip, cancel) the reply offered, read as words.
    keys: tuple[str, ...] = ()


def menu_of(message: Outbound) -> Menu:
    """The numbered options of a message: its choices without the form's own keys."""
    options, keys = [], []
    for choice in (c for row in message.choices for c in row):
        step = buttons.FORM.decode(choice.data)
        if step is not None and step.action in KEYS:
            keys.append(step.action)
        else:
            options.append(choice)
    return Menu(tuple(options), message.free_text, tuple(keys))


def plain(text: str) -> str:
    """Lower case without diacritics, letters and digits only: "Cá nhân" -> "ca nhan"."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D")).casefold()
    text = "".join(ch if ch.isalnum() else " " for ch in text if not unicodedata.combining(ch))
    return " ".join(text.split())


@dataclass(frozen=True)
class Reading:
    choice: str | None = None  # the data of the option picked
    text: str | None = None  # what goes on as typed text (a form key becomes its command)
    refused: int | None = None  # a number outside the menu


def read(menu: Menu | None, text: str) -> Reading:
    """What a typed reply means against the current menu."""
    text = text.strip()
    word = WORDS.get(plain(text))
    if word is not None:
        return Reading(text=KEYS[word])
    if menu is None or not menu.options or text.startswith("/"):
        # A command is a command: "/duyet" is not the «✅ Duyệt» of the last card shown.
        return Reading(text=text)
    number = NUMBER.fullmatch(text)
    if number is not None:
        hashed = bool(number.group(1) or number.group(2))
        if menu.free_text and not hashed:
            return Reading(text=text)  # a numeric answer
        n = int(number.group(3))
        if 1 <= n <= len(menu.options):
            return Reading(choice=menu.options[n - 1].data)
        return Reading(refused=n)
    if not menu.free_text:
        key = plain(text)
        found = [option for option in menu.options if plain(option.label) == key]
        if key and len(found) == 1:
            return Reading(choice=found[0].data)
    return Reading(text=text)


def _stored(data: dict[str, Any] | None) -> tuple[Menu | None, str | None]:
    if not data:
        return None, None
    options = tuple(Choice(label, choice) for label, choice in data.get("options", []))
    return Menu(options, bool(data.get("free_text"))), data.get("explained")


async def read_reply(ctx: Ctx) -> bool:
    """Turn a typed reply into the option it names. False: refused (a number outside the menu),
    the menu said again and nothing else done."""
    inbound = ctx.inbound
    if inbound.choice is not None or not inbound.text or inbound.attachment:
        return True
    menu, _ = _stored(await get_menu(ctx.session, identity_id=ctx.identity.id))
    reading = read(menu, inbound.text)
    if reading.refused is not None and menu is not None:
        text = ctx.t("numbered-out-of-menu", number=reading.refused, count=len(menu.options))
        ctx.result.say(text, [[option] for option in menu.options], free_text=menu.free_text)
        return False
    ctx.inbound = replace(inbound, text=reading.text, choice=reading.choice)
    return True


async def remember(ctx: Ctx) -> None:
    """Store the menu of this reply (the last message with choices), in its unit of work; the
    form keys are explained the first time a person meets them in a form."""
    shown = [message for message in ctx.result.messages if message.choices]
    if not shown:
        return
    message = shown[-1]
    menu = menu_of(message)
    _, explained = _stored(await get_menu(ctx.session, identity_id=ctx.identity.id))
    conv = await get_conversation(ctx.session, member_id=ctx.member.id)
    # Explained under the first message of the form that has options to number, so that "Gõ số
    # để chọn" never stands under a question that has none (a name, say).
    if menu.keys and menu.options and conv is not None:
        form = f"{conv.form}:{conv.started_at.isoformat() if conv.started_at else ''}"
        if form != explained:
            explained = form
            words = ", ".join(ctx.t(f"numbered-key-{key}") for key in KEYS)
            hint = ctx.t("numbered-explain", words=words)
            message.text = f"{message.text}\n{hint}" if message.text else hint
    data = {
        "options": [[option.label, option.data] for option in menu.options],
        "free_text": menu.free_text,
        "explained": explained,
    }
    await put_menu(ctx.session, identity_id=ctx.identity.id, menu=data, now=ctx.now)


async def shown_on_its_own(
    session: AsyncSession, *, identity_id: int, message: Outbound, now: datetime
) -> None:
    """A message of the bot's own shown with numbered options (the terminal, when no form is in
    progress): its options become the menu."""
    _, explained = _stored(await get_menu(session, identity_id=identity_id))
    menu = menu_of(message)
    data = {
        "options": [[option.label, option.data] for option in menu.options],
        "free_text": menu.free_text,
        "explained": explained,
    }
    await put_menu(session, identity_id=identity_id, menu=data, now=now)


async def forget(ctx: Ctx) -> None:
    """No options to read a number against any more (the question they answered is settled and
    nothing new was asked): "1" typed next is text, not the old question's first option."""
    _, explained = _stored(await get_menu(ctx.session, identity_id=ctx.identity.id))
    data = {"options": [], "free_text": False, "explained": explained}
    await put_menu(ctx.session, identity_id=ctx.identity.id, menu=data, now=ctx.now)


def typed_command(data: str) -> str | None:
    """The command a person types for a button (where a channel has none), when it has one."""
    from handlers.core.commands import registry

    button = registry().buttons.get(buttons.prefix_of(data))
    value = button.kind.decode(data) if button is not None else None
    if button is None or value is None:
        return None
    typed = button.command or button.typed
    return typed(value) if typed is not None else None


def typed_instead(message: Outbound, texts: Texts) -> Outbound:
    """A message the bot sends on its own, for a channel without buttons: each option that has a
    typed command becomes a line naming it; it carries numbered options only where one has
    none, which no message of the bot's own has."""
    lines, kept = [], []
    for choice in (c for row in message.choices for c in row):
        command = typed_command(choice.data)
        if command is None:
            kept.append(choice)
        else:
            lines.append(texts("numbered-type-command", command=command, label=choice.label))
    if not lines:
        return message
    text = "\n".join([message.text, *lines]) if message.text else "\n".join(lines)
    return replace(message, text=text, choices=[kept] if kept else [])
