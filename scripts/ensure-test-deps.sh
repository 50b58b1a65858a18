#!/usr/bin/env bash
# Install the system packages the test suite needs (Debian/Ubuntu), when they are missing.
#
#   * PostgreSQL server binaries + pg_trgm (tests/support/pgserver.py starts a throwaway server)
#   * Chromium + Noto CJK fonts (browser tests; Chinese text in screenshots)
#
# Prints one line per dependency. Does nothing (and is fast) when everything is present.
# As root it installs what is missing with apt-get; otherwise it reports what is missing
# and exits 1.
set -euo pipefail

missing=()      # human-readable names of missing things
packages=()     # Debian packages to install for them

# --- PostgreSQL -------------------------------------------------------------
pg_bindir=""
if [[ -n "${DESKDRILL_PG_BINDIR:-}" && -x "${DESKDRILL_PG_BINDIR}/initdb" && -x "${DESKDRILL_PG_BINDIR}/postgres" ]]; then
    pg_bindir="$DESKDRILL_PG_BINDIR"
else
    for initdb in /usr/lib/postgresql/*/bin/initdb; do
        [[ -x "$initdb" ]] && pg_bindir="${initdb%/initdb}"   # glob is sorted; keeps the last match
    done
fi
if [[ -n "$pg_bindir" ]]; then
    echo "postgresql: present ($pg_bindir)"
    # pg_trgm ships in postgresql-NN on Debian 12; older releases split it into postgresql-contrib-NN.
    if [[ -z "${DESKDRILL_PG_BINDIR:-}" ]] && ! compgen -G '/usr/share/postgresql/*/extension/pg_trgm.control' >/dev/null; then
        echo "pg_trgm: missing"
        missing+=("pg_trgm extension")
        packages+=(postgresql-contrib)
    fi
else
    echo "postgresql: missing (no /usr/lib/postgresql/*/bin/initdb)"
    missing+=("PostgreSQL server binaries")
    packages+=(postgresql postgresql-contrib)
fi

# --- Chromium + CJK fonts ---------------------------------------------------
chromium_missing=0
if [[ -x /usr/bin/chromium ]]; then
    echo "chromium: present (/usr/bin/chromium)"
else
    echo "chromium: missing (no /usr/bin/chromium)"
    chromium_missing=1
    missing+=("Chromium")
    packages+=(chromium)
fi

fonts_present=0
# No `grep -q`: with pipefail, grep exiting early can SIGPIPE fc-list and fail the pipeline.
if command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -i 'noto sans cjk' >/dev/null; then
    fonts_present=1
fi
if [[ $fonts_present -eq 1 ]]; then
    echo "fonts-noto-cjk: present"
elif [[ $chromium_missing -eq 1 ]]; then
    echo "fonts-noto-cjk: missing (will be installed with chromium)"
    packages+=(fonts-noto-cjk)
else
    echo "fonts-noto-cjk: missing (no 'Noto Sans CJK' in fc-list)"
    missing+=("Noto CJK fonts")
    packages+=(fonts-noto-cjk)
fi

# --- Install ----------------------------------------------------------------
if [[ ${#packages[@]} -eq 0 ]]; then
    echo "test dependencies: all present"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "missing: ${missing[*]}" >&2
    echo "install with:  sudo $0" >&2
    echo "          or:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not found; install these packages (or equivalents) yourself: ${packages[*]}" >&2
    exit 1
fi

apt_updated=0
apt_install() {
    if [[ $apt_updated -eq 0 ]]; then
        echo "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    echo "installing: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# One apt-get run for everything (faster than one per package).
# If postgresql's postinst creates and starts a "main" cluster, that's fine: it is left alone.
apt_install "${packages[@]}"

# --- Verify -----------------------------------------------------------------
status=0
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && [[ -z "$pg_bindir" ]]; then
    echo "error: PostgreSQL still missing after install" >&2; status=1
fi
if [[ ! -x /usr/bin/chromium ]]; then
    echo "error: /usr/bin/chromium still missing after install" >&2; status=1
fi
if [[ $status -eq 0 ]]; then
    echo "test dependencies: installed (${packages[*]})"
fi
exit $status
