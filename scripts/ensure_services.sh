#!/usr/bin/env bash
# Make sure what the tests talk to is here and running: Redis (6379) and
# PostgreSQL (5432) on their standard local ports, Debian's HAProxy for the
# load-balanced deployment's test and Debian's Chromium for the browser tests.
# Install and start what is missing; fail with a clear message if something
# cannot be had.
set -euo pipefail

apt_install() {
  echo "== installing $* (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Redis ---------------------------------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-tools
  echo "== starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "error: Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

# PostgreSQL ----------------------------------------------------------------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  echo "== starting PostgreSQL on 127.0.0.1:5432"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "error: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1" >/dev/null 2>&1 \
  || { echo "error: cannot connect to PostgreSQL as user postgres on 127.0.0.1:5432 (the tests expect trust auth)" >&2; exit 1; }

# HAProxy for the load-balanced deployment's test (deploy/haproxy.cfg) ----------------------------------
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  apt_install haproxy
fi
/usr/sbin/haproxy -v >/dev/null 2>&1 || { echo "error: /usr/sbin/haproxy does not run" >&2; exit 1; }

# Chromium for the browser tests --------------------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
/usr/bin/chromium --version >/dev/null 2>&1 || { echo "error: /usr/bin/chromium does not run" >&2; exit 1; }

# Dovecot for the e-mail channel's IMAP tests (started by the tests with a configuration of their own) ------
if [ ! -x /usr/sbin/dovecot ]; then
  apt_install dovecot-imapd
fi
/usr/sbin/dovecot --version >/dev/null 2>&1 || { echo "error: /usr/sbin/dovecot does not run" >&2; exit 1; }

# Prosody for the XMPP channel's tests and make run's local chat server (started by them with a configuration of
# their own, in the foreground: no system-wide one is started) ----------------------------------------------
if [ ! -x /usr/bin/prosody ]; then
  apt_install prosody
fi
/usr/bin/prosodyctl about >/dev/null 2>&1 || { echo "error: /usr/bin/prosodyctl does not run" >&2; exit 1; }

echo "== services ready: Redis, PostgreSQL, HAProxy, Chromium, Dovecot, Prosody"
