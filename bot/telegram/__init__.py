"""The Telegram channel: `adapter` (updates in, results out), `delivery` (its Output and the
outbox transport), `jobs` (background exports), `outbox` (the sender beside the application),
`schedule` (the repeating jobs) and `app` (building the application). With bot/telegram_run.py,
the only place python-telegram-bot is imported."""
