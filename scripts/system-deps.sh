#!/usr/bin/env bash
# The system packages wschat needs, installed when missing (what `make deps` runs first).
#   scripts/system-deps.sh python node java chromium     # any subset, in any order
# When everything is there it only looks (no apt, no network). When something is missing: as root
# with apt-get (Debian, Ubuntu, CI images) it runs apt-get update + install once for all of it;
# otherwise it stops at once and prints the one command to run.
set -euo pipefail

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
CHROMIUM=${WSCHAT_CHROMIUM:-/usr/bin/chromium}

packages=()   # Debian packages to install
missing=()    # what they are, for the message
problems=()   # present but unusable, and not fixable with apt-get here

# major.minor of a version string ("v20.19.1" -> 20 19), for comparisons.
version_at_least() {  # version_at_least <have> <major> <minor>
  local have=${1#v} major minor
  major=${have%%.*}; minor=${have#*.}; minor=${minor%%.*}
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  (( major > $2 || (major == $2 && minor >= $3) ))
}

for need in "$@"; do
  case "$need" in
    python)
      if ! command -v "$PYTHON" >/dev/null; then
        packages+=(python3 python3-venv); missing+=("Python 3.11+")
      elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        problems+=("$("$PYTHON" --version 2>&1) is too old: wschat needs Python 3.11+ (set PYTHON=python3.12 or similar)")
      elif [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        # Debian ships `python3 -m venv`'s pip bootstrap separately.
        packages+=(python3-venv); missing+=("Python's venv module")
      fi ;;
    node)
      if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        packages+=(nodejs npm); missing+=("Node 20.19+ and npm")
      elif ! version_at_least "$(node --version)" 20 19; then
        problems+=("Node $(node --version) is too old: the Serverless CLI (osls) needs Node 20.19+ (nodejs.org or NodeSource packages)")
      fi ;;
    java)
      if ! command -v java >/dev/null; then
        packages+=(default-jre-headless); missing+=("Java 17+ (DynamoDB Local)")
      else
        # `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15` (or "1.8.0_392" for Java 8).
        java_version=$(java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n1)
        java_major=${java_version%%.*}
        [ "$java_major" = 1 ] && { java_major=${java_version#1.}; java_major=${java_major%%.*}; }
        if [[ $java_major =~ ^[0-9]+$ ]] && (( java_major < 17 )); then
          problems+=("Java $java_version is too old: DynamoDB Local 3.x needs Java 17+ (apt-get install openjdk-17-jre-headless)")
        fi
      fi ;;
    chromium)
      [ -x "$CHROMIUM" ] || { packages+=(chromium); missing+=("Chromium at $CHROMIUM (browser tests; WSCHAT_CHROMIUM to use another)"); } ;;
    *)
      echo "system-deps: unknown requirement '$need' (python, node, java, chromium)" >&2; exit 2 ;;
  esac
done

if [ ${#problems[@]} -gt 0 ]; then
  printf 'make: %s\n' "${problems[@]}" >&2
  exit 1
fi
[ ${#packages[@]} -eq 0 ] && exit 0

if [ -n "${WSCHAT_SYSTEM_DEPS_INSTALLED:-}" ]; then
  echo "make: still missing after apt-get install ${packages[*]}: $(IFS=';'; echo "${missing[*]}" | sed 's/;/, /g')" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "make: installing what this machine lacks: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${packages[@]}"
  # Check again (versions too: an old distribution's nodejs may be too old for the Serverless CLI).
  WSCHAT_SYSTEM_DEPS_INSTALLED=1 exec bash "$0" "$@"
fi

{
  printf 'make: missing: %s\n' "$(IFS=';'; echo "${missing[*]}" | sed 's/;/, /g')"
  if command -v apt-get >/dev/null; then
    echo "make: install them with: sudo apt-get update && sudo apt-get install -y ${packages[*]}"
  else
    echo "make: install them with your package manager (Debian names: ${packages[*]}), then run make again"
  fi
} >&2
exit 1
