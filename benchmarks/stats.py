"""Statistics at scale: `dvk stats`, one unit's digest and a full `dvk export` on generated data.

Two scales: a province (90 units, 7,000 registrants, 7,000 models, 84,000 monthly reports) and a
country (63 provinces of 90 units, 100,000 registrants and models, 1,200,000 reports). Each
model has one target and each report one value for it; about 10% of models are evaluated,
5% commended, three units in four held their conference.

    python -m benchmarks.stats --scale province [--database-url URL]

Without --database-url the data goes into a temporary SQLite file; with a PostgreSQL URL the
database's public schema is dropped and rebuilt, so give it a database of its own.

What is timed (wall clock, the best of --repeat runs, data already generated):
- stats_s: what `dvk stats` does once connected — the figures and their text for the campaign;
- digest_s: the digest of the coordinator of the largest unit, chart included;
- export_peak_mb: the peak resident memory of a `dvk export` process writing the whole
  workbook (the process's maximum RSS as the kernel reports it).
The last line is `scale=... db=... stats_s=... digest_s=... export_peak_mb=...`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from bot.config import Settings
from bot.runtime import build_core
from storage import rules
from storage.db import Database, make_engine
from storage.migrate import upgrade
from storage.models import (
    Campaign,
    Commendation,
    Conference,
    Evaluation,
    Field,
    Member,
    Membership,
    Model,
    Report,
    ReportValue,
    Target,
    Unit,
)

SCALES = {
    # provinces, units per province, models (one per registrant), reports per model
    "province": (1, 90, 7_000, 12),
    "country": (63, 90, 100_000, 12),
}
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
CHUNK = 5_000
INDICATORS = [
    ("nhà đại đoàn kết", "căn"),
    ("tiền vận động", "đồng"),
    ("hồ sơ trực tuyến", "hồ sơ"),
    ("người được hỗ trợ", "người"),
]


async def _insert(session: Any, model: type, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(model), rows[start : start + CHUNK])


async def generate(db: Database, scale: str) -> dict[str, int]:
    provinces, units_each, models, reports_each = SCALES[scale]
    rng = random.Random(2026)
    async with db.session() as session:
        campaign = Campaign(
            code="DVK2026",
            name="Dân vận khéo 2026",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            created_at=NOW,
        )
        session.add(campaign)
        await session.flush()
        fields = list((await session.scalars(select(Field.id))).all())
        unit_rows = []
        next_id = 1
        leaves = []
        for p in range(provinces):
            root = next_id
            unit_rows.append(
                {"id": root, "code": f"P{p:02d}", "name": f"Tỉnh {p:02d}", "parent_id": None}
            )
            next_id += 1
            for u in range(units_each - 1):
                unit_rows.append(
                    {
                        "id": next_id,
                        "code": f"P{p:02d}-U{u:02d}",
                        "name": f"Đơn vị {u:02d} tỉnh {p:02d}",
                        "parent_id": root,
                    }
                )
                leaves.append(next_id)
                next_id += 1
        for row in unit_rows:
            row |= {"active": True, "created_at": NOW}
        await _insert(session, Unit, unit_rows)
        # Unit sizes vary (a few large party committees, many small cells).
        weights = [rng.paretovariate(1.5) for _ in leaves]
        homes = rng.choices(leaves, weights=weights, k=models)
        await _insert(
            session,
            Member,
            [
                {"id": i + 1, "full_name": f"Người {i + 1}", "created_at": NOW}
                for i in range(models + 1)
            ],
        )
        memberships = [
            {"member_id": i + 1, "unit_id": homes[i], "role": "member", "created_at": NOW}
            for i in range(models)
        ]
        largest = max(set(homes), key=homes.count)
        coordinator = models + 1
        memberships.append(
            {"member_id": coordinator, "unit_id": largest, "role": "coordinator", "created_at": NOW}
        )
        await _insert(session, Membership, memberships)
        statuses = [rules.IN_PROGRESS] * 80 + [rules.APPROVED] * 5 + [rules.SUBMITTED] * 3
        statuses += [rules.EVALUATED] * 10 + [rules.REJECTED] * 2
        model_rows, target_rows = [], []
        for i in range(models):
            model_rows.append(
                {
                    "id": i + 1,
                    "code": f"MH{i + 1}",
                    "campaign_id": campaign.id,
                    "owner_id": i + 1,
                    "unit_id": homes[i],
                    "kind": rules.KIND_COLLECTIVE if i % 6 == 0 else rules.KIND_INDIVIDUAL,
                    "title": f"Mô hình {i + 1}",
                    "title_key": f"mô hình {i + 1}",
                    "field_id": fields[i % len(fields)],
                    "approach": "Cách làm",
                    "objectives": "Mục tiêu",
                    "starts_on": date(2026, 1, 1),
                    "ends_on": date(2026, 12, 31),
                    "status": statuses[i % len(statuses)],
                    "extra": {},
                    "submitted_at": NOW - timedelta(days=300),
                    "registered_on": date(2026, 1, 15),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            name, measure = INDICATORS[i % len(INDICATORS)]
            target_rows.append(
                {
                    "id": i + 1,
                    "model_id": i + 1,
                    "position": 1,
                    "indicator": name,
                    "unit_of_measure": measure,
                    "target_value": 120,
                    # The running total of the reports below (records.reports.refresh_achieved).
                    "achieved": 10 * reports_each,
                }
            )
        await _insert(session, Model, model_rows)
        await _insert(session, Target, target_rows)
        del model_rows, target_rows
        report_id = 0
        for start in range(0, models, CHUNK):
            reports, values = [], []
            for i in range(start, min(start + CHUNK, models)):
                for month in range(1, reports_each + 1):
                    report_id += 1
                    period = date(2026, month, 1)
                    end = date(2026 + month // 12, month % 12 + 1, 1) - timedelta(days=1)
                    reports.append(
                        {
                            "id": report_id,
                            "model_id": i + 1,
                            "member_id": i + 1,
                            "period_start": period,
                            "period_end": end,
                            "due_on": min(date(2026, month, 25), end),
                            "done_text": "Đã làm",
                            "completed": False,
                            "late": month % 7 == 0,
                            "replaced": 0,
                            "extra": {},
                            "submitted_at": datetime(2026, month, 20, 3, tzinfo=UTC),
                        }
                    )
                    values.append({"report_id": report_id, "target_id": i + 1, "value": 10})
            await _insert(session, Report, reports)
            await _insert(session, ReportValue, values)
        evaluated = [
            m for m in range(1, models + 1) if statuses[(m - 1) % len(statuses)] == "evaluated"
        ]
        await _insert(
            session,
            Evaluation,
            [
                {
                    "model_id": m,
                    "level": "excellent" if m % 3 else "done",
                    "proposed": m % 2 == 0,
                    "evaluator_id": coordinator,
                    "evaluated_at": NOW,
                }
                for m in evaluated
            ],
        )
        await _insert(
            session,
            Commendation,
            [
                {
                    "model_id": m,
                    "level": rules.COMMENDATION_LEVELS[m % 4],
                    "status": rules.DECIDED if m % 4 else rules.PROPOSED,
                    "decision_number": f"{m}/QĐ" if m % 4 else None,
                    "decided_on": date(2026, 11, 1) if m % 4 else None,
                    "recorded_by": 1,
                    "recorded_at": NOW,
                }
                for m in evaluated
                if m % 2 == 0
            ],
        )
        await _insert(
            session,
            Conference,
            [
                {
                    "unit_id": u["id"],
                    "campaign_id": campaign.id,
                    "held_on": date(2026, 11, 10),
                    "recorded_at": NOW,
                }
                for n, u in enumerate(unit_rows)
                if n % 4
            ],
        )
    if db.engine.dialect.name == "postgresql":
        async with db.engine.begin() as conn:
            for table in ("units", "members", "models", "targets", "reports"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    return {
        "units": len(unit_rows),
        "models": models,
        "reports": report_id,
        "coordinator": coordinator,
    }


async def best_of(repeat: int, work: Any) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return min(times)


async def measure(url: str, scale: str, repeat: int, fresh: bool) -> dict[str, str]:
    from handlers.admin.statistics import stats_text
    from handlers.coordinator import digest
    from storage.stats import organisation_stats

    db = Database.from_url(url)
    if db.engine.dialect.name == "postgresql" and fresh:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db.engine)
    started = time.perf_counter()
    counts = await generate(db, scale) if fresh else None
    generated_s = time.perf_counter() - started
    if counts:
        print(
            f"generated {counts['units']} units, {counts['models']} models, "
            f"{counts['reports']} reports in {generated_s:.0f} s",
            file=sys.stderr,
        )
    core = build_core(Settings(_env_file=None, database_url=url), db, lambda: NOW)

    async def stats() -> None:
        async with db.session() as session:
            campaign = await session.scalar(select(Campaign).where(Campaign.code == "DVK2026"))
            figures = await organisation_stats(session, campaign_id=campaign.id)
            stats_text(core.texts, figures, campaign)

    async def one_digest() -> None:
        async with db.session() as session:
            member = await session.scalar(
                select(Member)
                .join(Membership, Membership.member_id == Member.id)
                .where(Membership.role == "coordinator")
                .limit(1)
            )
            await digest.build(
                session, core.config, core.texts, member, NOW - timedelta(days=7), NOW
            )

    stats_s = await best_of(repeat, stats)
    digest_s = await best_of(repeat, one_digest)
    await db.dispose()
    return {"stats_s": f"{stats_s:.3f}", "digest_s": f"{digest_s:.3f}"}


def export_peak_mb(url: str) -> str:
    """Peak RSS of a `dvk export` child process, in MB; "na" if the command failed."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DVK_DATABASE_URL": url}
        target = Path(tmp) / "export.xlsx"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "export", "-o", str(target)],
            env=env,
            capture_output=True,
            text=True,
        )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return "na"
        print(
            f"export: {target.stat().st_size / 1e6:.1f} MB written; {done.stdout.strip()[-200:]}",
            file=sys.stderr,
        )
        # ru_maxrss of children is the largest of any child so far (kilobytes on Linux).
        return f"{max(peak, before) / 1024:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="province")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="data already generated there")
    parser.add_argument("--no-export", action="store_true", help="skip the export measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        figures = asyncio.run(measure(url, args.scale, args.repeat, not args.reuse))
        figures["export_peak_mb"] = "skipped" if args.no_export else export_peak_mb(url)
    db = make_engine(url).dialect.name
    print(
        f"scale={args.scale} db={db} stats_s={figures['stats_s']} "
        f"digest_s={figures['digest_s']} export_peak_mb={figures['export_peak_mb']}"
    )


if __name__ == "__main__":
    main()
