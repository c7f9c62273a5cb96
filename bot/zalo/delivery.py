"""Zalo's delivery: the Bot Platform calls an `Outbound` becomes, for replies and the outbox alike.
Zalo has only texts and pictures by URL; bot/delivery.py numbers the choices, splits long texts
and says where a file cannot go. Zalo's errors become the sender's (bot/sender.py)."""

from __future__ import annotations

from typing import Any

from bot.channels import ZALO_CAPABILITIES, Capabilities
from bot.delivery import (
    NO_MESSAGE_ID,
    ChatId,
    Output,
    Publish,
    Rejected,
    RetryLater,
    Track,
    Transient,
    Transport,
    Unreachable,
    outbox_transport,
)
from bot.media_links import Media
from bot.zalo import api as zalo
from handlers.core.types import Choice
from language.texts import Texts

# Zalo's 429 names no wait ("Quota exceeded", or too fast): the outbox pauses this long and the
# message stays queued.
QUOTA_PAUSE = 600.0


class ZaloOutput(Output):
    def __init__(
        self,
        api: zalo.ZaloApi,
        capabilities: Capabilities = ZALO_CAPABILITIES,
        *,
        texts: Texts | None = None,
        track: Track | None = None,
        publish: Publish | None = None,
        media: Media | None = None,
    ) -> None:
        super().__init__(capabilities, texts=texts, track=track, publish=publish, media=media)
        self.api = api
        # Messages Zalo accepted through this output: each counts against the month's quota.
        self.accepted = 0

    async def send_text(self, chat_id: ChatId, text: str, choices: list[list[Choice]]) -> str:
        # An empty part (a message that is only a picture's caption) is not a Zalo message.
        if not text.strip():
            return NO_MESSAGE_ID
        sent = await _translated(self.api.send_message(str(chat_id), text))
        self.accepted += 1
        return sent

    async def send_photo_url(self, chat_id: ChatId, url: str) -> None:
        await _translated(self.api.send_photo(str(chat_id), url))
        self.accepted += 1


async def _translated(call: Any) -> Any:
    """Zalo's errors as the sender's: 429 later (never lost), 403 unreachable, 400 refused,
    the rest (no answer, 5xx, an unexpected code) worth trying again."""
    try:
        return await call
    except zalo.QuotaExceeded as error:
        raise RetryLater(QUOTA_PAUSE) from error
    except zalo.Unreachable as error:
        raise Unreachable(str(error)) from error
    except zalo.NetworkError as error:
        raise Transient(str(error)) from error
    except zalo.ZaloError as error:
        if error.code == 400:
            raise Rejected(str(error)) from error
        raise Transient(str(error)) from error
    except ValueError as error:  # over the text limit: the fallback splits, so a bug
        raise Rejected(str(error)) from error


def zalo_transport(
    api: zalo.ZaloApi, *, texts: Texts | None = None, publish: Publish | None = None
) -> Transport:
    """The outbox's delivery on Zalo. Its numbered options are not remembered: a reminder must
    not replace the options of a form the person is answering (docs/zalo.md). A digest's chart
    goes as a signed link (`publish`, None without DVK_PUBLIC_URL), as replies' pictures do.
    Returns how many Zalo messages it took (a long text is several), each counted against the
    quota."""

    async def send(chat_id: str, payload: dict[str, Any]) -> int:
        # One output per message: its count is this message's.
        output = ZaloOutput(api, texts=texts, publish=publish)
        await outbox_transport(output)(chat_id, payload)
        return output.accepted

    return send
