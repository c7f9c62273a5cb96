#!/usr/bin/env bash
# One entry point for people and CI:
#   ./dev.sh run           set up .venv, then start the bot (Telegram when DVK_TELEGRAM_TOKEN is set,
#                          otherwise the terminal chat on a demo database)
#   ./dev.sh test [ARGS]   set up .venv, then run the tests (pytest ARGS)
#   ./dev.sh dvk [ARGS]    set up .venv, then run the dvk command line
set -euo pipefail
cd "$(dirname "$0")"

python=""
for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    echo "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)." >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv; then
        rm -rf .venv
        echo "Could not create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv" >&2
        exit 1
    fi
fi
# Reinstall only when the dependencies changed.
stamp=".venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    # The build backend's deprecation notices are for us, not for someone trying the bot.
    PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet -e ".[test]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi

command=${1:-run}
shift || true
case "$command" in
    run) exec .venv/bin/dvk start "$@" ;;
    test) exec .venv/bin/python -m pytest "$@" ;;
    dvk) exec .venv/bin/dvk "$@" ;;
    *) echo "usage: ./dev.sh run | test [pytest args] | dvk [args]" >&2; exit 2 ;;
esac
