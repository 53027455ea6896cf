# Sourced by scripts/test and scripts/demo: make .venv and install the package (with the
# dev extras) when it is missing or pyproject.toml changed since the last install.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.posko-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
# The command room's page: rebuilt when web/ changed since the last build, or missing.
web_stamp=.venv/.posko-web-built
if [ ! -f bot/web/static/app.js ] || [ ! -f "$web_stamp" ] \
  || [ -n "$(find web -path web/node_modules -prune -o -type f -newer "$web_stamp" -print -quit)" ]; then
  scripts/build-web && touch "$web_stamp"
fi
# The browser tests drive Debian's chromium (Playwright cannot download one here).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium for the browser tests…" >&2
  apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "chromium could not be installed: the browser tests will be skipped" >&2
fi
