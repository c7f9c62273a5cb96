"""Running the bot in production: the one-process guard of an SQLite file and the metrics the
HTTP server shows (docs/deploy.md)."""
