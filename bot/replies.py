"""An update's answer as the inbox keeps it (storage/inbox.py, `reply`): written in the update's
unit of work, so that a process killed after the commit and before the answer went out has it
sent by the next worker (bot/inbox.py). What is kept is what the person reads: each message's
text, buttons and the photos people sent (by their keys). A file or a chart made for the answer
is not kept (the bytes of an export or of someone's personal data have no place in the inbox):
after such a crash the message comes without it, and the person asks for it again."""

from __future__ import annotations

from typing import Any

from handlers.core.types import Choice, Outbound, Picture, Result


def kept(result: Result, *, chat: str, attempt: int) -> dict[str, Any] | None:
    """The answer to keep, None when there is nothing to send. `attempt`: the inbox row's
    attempts when it was handled (later ones are the answer's own)."""
    shown = [_message(m) for m in result.messages if m.text or m.pictures]
    if not shown:
        return None
    return {"chat": chat, "attempt": attempt, "messages": shown}


def messages(reply: dict[str, Any]) -> list[Outbound]:
    return [_outbound(message) for message in reply.get("messages") or []]


def _message(message: Outbound) -> dict[str, Any]:
    kept: dict[str, Any] = {"text": message.text}
    if message.choices:
        kept["choices"] = [[[c.label, c.data] for c in row] for row in message.choices]
    if message.free_text:
        kept["free_text"] = True
    if message.track:
        kept["track"] = message.track
    if message.pictures:
        kept["pictures"] = [[p.media_key, p.file_id] for p in message.pictures]
    return kept


def _outbound(kept: dict[str, Any]) -> Outbound:
    return Outbound(
        kept.get("text") or "",
        [[Choice(label, data) for label, data in row] for row in kept.get("choices") or []],
        free_text=bool(kept.get("free_text")),
        track=kept.get("track"),
        pictures=[Picture(key, file_id) for key, file_id in kept.get("pictures") or []],
    )
