"""Logs never carry people's names, phone numbers or message texts (Decree 13/2023): a failure
while someone types their phone is logged with its error and traceback, and nothing else."""

from __future__ import annotations

import logging

from sqlalchemy import text

from tests.test_onboarding import ask_to_join, seeded  # noqa: F401  (fixture)

SQLITE_TRIGGER = (
    "CREATE TRIGGER dvk_injected BEFORE UPDATE ON conversations "
    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
)
POSTGRES_TRIGGER = (
    "CREATE FUNCTION dvk_injected() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
    "CREATE TRIGGER dvk_injected BEFORE UPDATE ON conversations "
    "FOR EACH ROW EXECUTE FUNCTION dvk_injected()",
)
DROP = {
    "sqlite": ("DROP TRIGGER dvk_injected",),
    "postgresql": (
        "DROP TRIGGER dvk_injected ON conversations",
        "DROP FUNCTION dvk_injected()",
    ),
}


async def _run(db, statements) -> None:  # type: ignore[no-untyped-def]
    async with db.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_a_failed_write_is_logged_without_the_persons_data(seeded, chat, db, caplog):  # noqa: F811
    guest = await ask_to_join(chat)
    await guest.send("bệnh viện")
    dialect = db.engine.dialect.name
    await _run(db, SQLITE_TRIGGER if dialect == "sqlite" else POSTGRES_TRIGGER)
    caplog.set_level(logging.INFO)
    try:
        await guest.send("0912 345 678")
    finally:
        await _run(db, DROP[dialect])

    failures = [r for r in caplog.records if r.exc_info]
    assert failures, "the failure was not logged"
    logged = caplog.text + "".join(
        logging.Formatter().formatException(r.exc_info) for r in failures
    )
    assert "injected failure" in logged  # the error itself is there ...
    for personal in ("0912345678", "0912 345 678", "Trần Thị Bình", "Tr\\u1ea7n"):
        assert personal not in logged  # ... the person's data is not
