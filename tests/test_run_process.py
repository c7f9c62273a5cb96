"""The real `dvk run` process, polling a fake Bot API over HTTP: a person joins through an invite
and registers a model, and the model is in the database; a token Telegram rejects is reported
in one line that does not show it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from string import Formatter
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.demo import INVITES, seed
from language.texts import Texts, load_catalog
from storage import models, rules
from storage.db import Database
from storage.records.invites import create_invite, invite_by_code
from storage.records.units import unit_by_code
from tests.conftest import TOKEN
from tests.fakebotapi import ApiCall, FakeBotApi, Person, running

ROOT = Path(__file__).resolve().parent.parent
USER_ID = 4242
STARTUP_TIMEOUT = 20.0
STEP_TIMEOUT = 10.0
TOKEN_REJECTED = "Telegram từ chối token (hãy kiểm tra DVK_TELEGRAM_TOKEN)."
T = Texts("vi")
CATALOG = load_catalog("vi")


def shows(key: str) -> Callable[[str], bool]:
    """Whether a text contains the catalog message `key`, whatever fills its placeholders."""
    literals = [literal for literal, *_ in Formatter().parse(CATALOG[key])]
    pattern = re.compile(".*?".join(re.escape(literal) for literal in literals), re.S)
    return lambda text: pattern.search(text) is not None


def refused(text: str) -> bool:
    return text.startswith("⚠️") or text == T("error-internal")


def vn_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def converse(api: FakeBotApi, process: subprocess.Popen[bytes], today: date, invite: str) -> None:
    api.watch(process)
    api.wait_for(
        lambda: "getUpdates" in [c.method for c in api.calls],
        STARTUP_TIMEOUT,
        "the bot to start polling",
    )

    person = Person(api, USER_ID, "Bốn", timeout=STEP_TIMEOUT)

    def expect(key: str) -> dict:
        return person.expect(shows(key), key, refuse=refused)

    # Joining through the invite link.
    person.say(f"/start {invite}")
    person.press(expect("consent-notice"), T("button-consent-yes"))
    assert "Chi bộ Văn phòng" in expect("invite-hello")["text"]
    expect("ask-full-name")
    person.say("Nguyễn Văn Bốn")
    category = expect("ask-category")
    person.press(category, T("category-cong_chuc"))
    phone = expect("ask-phone")
    # The answered question was kept readable, with the answer and without live buttons.
    edited = api.messages[category["message_id"]]
    assert edited["text"].endswith("→ " + T("category-cong_chuc"))
    assert "reply_markup" not in edited
    person.press(phone, T("button-skip"))
    assert "Nguyễn Văn Bốn" in expect("welcome-joined")["text"]
    expect("help-member")

    # Registering a model.
    person.say("/dangky")
    expect("register-intro")
    person.press(expect("ask-kind"), T("kind-individual"))
    expect("ask-title")
    person.say("Vận động xây nhà đại đoàn kết")
    person.press(expect("ask-field"))
    expect("ask-approach")
    person.say("Vận động cán bộ, doanh nghiệp góp công, góp của cùng các hộ gia đình.")
    expect("ask-objectives")
    person.say("Xây dựng năm căn nhà đại đoàn kết cho hộ nghèo trong năm.")
    expect("ask-indicator")
    person.say("nhà đại đoàn kết")
    expect("ask-measure")
    person.say("căn")
    expect("ask-target-value")
    person.say("5")
    person.press(expect("form-more"), T("button-no-more"))
    expect("ask-model-start")
    person.say(vn_date(today))
    expect("ask-model-end")
    person.say(vn_date(today + timedelta(days=60)))
    summary = expect("form-summary-head")
    assert "nhà đại đoàn kết: 5 căn" in summary["text"], summary["text"]
    person.press(summary, T("button-submit"))
    expect("register-done")

    methods = api.methods()
    for method in ("getMe", "deleteWebhook", "setMyCommands", "answerCallbackQuery"):
        assert method in methods, methods
    assert not api.errors, api.errors


def dvk_environ(database_url: str, api_url: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        environ.pop(proxy, None)
    environ.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        DVK_TELEGRAM_TOKEN=TOKEN,
        DVK_TELEGRAM_API_URL=api_url,
        DVK_DATABASE_URL=database_url,
    )
    return environ


def run_dvk(database_url: str, cwd: Path, today: date, invite: str) -> int:
    """Start `dvk run` against a fake Bot API, converse, stop it with SIGTERM; its exit code."""
    log_path = cwd / "dvk-run.log"
    with running(FakeBotApi(token=TOKEN)) as api, log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=cwd,  # no .env there
            env=dvk_environ(database_url, api.url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            converse(api, process, today, invite)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            # Shown by pytest when the test fails.
            print(log_path.read_text(errors="replace"))
    return process.returncode


async def test_dvk_run_registers_a_model_end_to_end(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    async with db.session() as session:
        # The demo's units and campaign; its public invites revoked (`dvk run` refuses them).
        await seed(session, now=now, today=today)
        for code, *_ in INVITES:
            invite = await invite_by_code(session, code=code)
            assert invite is not None
            invite.revoked = True
        unit = await unit_by_code(session, code="CB-VP")
        assert unit is not None
        invite = await create_invite(
            session,
            unit_id=unit.id,
            role=rules.ROLE_MEMBER,
            expires_at=now + timedelta(days=7),
            max_uses=10,
            created_by=None,
            now=now,
        )
        code = invite.code

    returncode = await asyncio.to_thread(run_dvk, database_url, tmp_path, today, code)
    assert returncode == 0  # SIGTERM stops polling cleanly

    async with db.session() as session:
        stored = (
            (
                await session.execute(
                    select(models.Model).options(selectinload(models.Model.targets))
                )
            )
            .scalars()
            .all()
        )
        assert len(stored) == 1
        model = stored[0]
        assert model.status == "submitted"
        assert model.kind == "individual"
        assert model.title == "Vận động xây nhà đại đoàn kết"
        assert model.starts_on == today
        assert model.ends_on == today + timedelta(days=60)
        assert [(t.indicator, t.unit_of_measure, t.target_value) for t in model.targets] == [
            ("nhà đại đoàn kết", "căn", Decimal(5))
        ]
        owner = (
            await session.execute(
                select(models.Identity).where(
                    models.Identity.member_id == model.owner_id,
                    models.Identity.channel == "telegram",
                )
            )
        ).scalar_one()
        assert owner.external_id == str(USER_ID)
        member = await session.get(models.Member, model.owner_id)
        assert member is not None
        assert (member.full_name, member.category) == ("Nguyễn Văn Bốn", "cong_chuc")


class RejectingBotApi(FakeBotApi):
    """Telegram's answer to every call with a revoked (401) or unknown (404) token."""

    def __init__(self, status: int) -> None:
        super().__init__(token=TOKEN)
        self.status = status

    def _call(self, method: str, content_type: str, body: bytes) -> tuple[int, dict]:
        with self._changed:
            self.calls.append(ApiCall(method, {}))
        description = "Unauthorized" if self.status == 401 else "Not Found"
        return self.status, {"ok": False, "error_code": self.status, "description": description}


@pytest.mark.parametrize("status", [401, 404])
@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_dvk_run_with_a_rejected_token_says_so_without_showing_it(
    database_url: str, db: Database, tmp_path: Path, status: int, webhook: bool
) -> None:
    with running(RejectingBotApi(status)) as api:
        environ = dvk_environ(database_url, api.url)
        if webhook:
            environ.update(
                DVK_WEBHOOK_URL="https://bot.example.invalid/telegram",
                DVK_WEBHOOK_SECRET="s3cret",
                DVK_HTTP_PORT="0",
            )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert TOKEN_REJECTED in done.stderr.splitlines()
    assert "Traceback" not in done.stderr
    for shown in (done.stdout, done.stderr):
        assert TOKEN not in shown
        assert TOKEN.split(":")[1] not in shown
    assert api.methods() == ["getMe"]
