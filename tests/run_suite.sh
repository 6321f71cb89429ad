#!/usr/bin/env bash
# Runs the whole suite: first on embedded SQLite (+ in-process Redis fake), then on real MariaDB +
# real Redis. The second pass is mandatory when CI=true and otherwise runs whenever both servers
# are reachable; when it is skipped, this script says so plainly.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export FLASK_APP=wsgi

TEST_DATABASE_URL_MARIADB="${TEST_DATABASE_URL:-mysql+pymysql://root@127.0.0.1:3306/anju_test?charset=utf8mb4}"
TEST_REDIS_URL_REAL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
unset TEST_DATABASE_URL TEST_REDIS_URL

# Browser tests need Debian's chromium; install it when we can (root with apt), as CI does.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "== installing Debian chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null \
      || echo "!! could not install chromium"
  fi
fi
# Door plates: a TrueType CJK font (fonts-wqy-microhei) and pdftoppm (poppler-utils) to look at them.
if [ ! -x /usr/bin/pdftoppm ] || [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "== installing poppler-utils and fonts-wqy-microhei for the door-plate tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils fonts-wqy-microhei) >/dev/null \
      || echo "!! could not install poppler-utils / fonts-wqy-microhei"
  fi
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "!! /usr/bin/chromium is missing: browser tests will be SKIPPED (they fail under CI=true)"
fi
# tests/test_deploy.py checks deploy/nginx.conf with `nginx -t`: Debian's nginx (not started).
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "== installing Debian nginx for the deploy tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx) >/dev/null \
      || echo "!! could not install nginx"
  fi
fi

# tests/cluster builds a load balancer with Debian's haproxy (not started as a service).
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "== installing Debian haproxy for the scale-out test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy) >/dev/null \
      || echo "!! could not install haproxy"
  fi
fi

status=0
echo "== pass 1/2: SQLite + in-process Redis fake"
$PY -m pytest -q -p no:cacheprovider tests "$@" || status=1

echo "== pass 2/2: MariaDB + Redis"
if $PY tests/backends.py prepare "$TEST_DATABASE_URL_MARIADB" "$TEST_REDIS_URL_REAL"; then
  TEST_DATABASE_URL="$TEST_DATABASE_URL_MARIADB" TEST_REDIS_URL="$TEST_REDIS_URL_REAL" \
    $PY -m pytest -q -p no:cacheprovider tests "$@" || status=1
else
  if [ "${CI:-}" = "true" ]; then
    echo "!! MariaDB/Redis pass could not run and CI=true: failing"
    status=1
  else
    echo "!! MariaDB/Redis pass SKIPPED: servers not reachable (start them, see README)"
  fi
fi
exit $status
