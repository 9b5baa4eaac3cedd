# shellcheck shell=bash
# Source on the GPU machine (or here, for a dry run) from the repo root:
#
#     . scripts/device/env.sh
#
# Unpacks .carry/wheels.tar.xz into $MEMASR_WHEELS and installs those wheels into $MEMASR_SITE
# (pip --no-index --no-deps --target; a plain .carry/wheels/ folder of wheels also works), unpacks
# .carry/debs into $MEMASR_ENGINES (dpkg -x; never into /), and exports PYTHONPATH, PATH,
# LD_LIBRARY_PATH, ESPEAK_DATA_PATH, MEMASR_TEXT_POOL (+ its sha256) and a `memasr` launcher on
# PATH that runs this checkout's src/ (docs/device.md). Writes under /tmp only.
#
# Environment (all optional):
#   MEMASR_CARRY    carried folder (REPO/.carry)
#   MEMASR_WHEELS   where .carry/wheels.tar.xz is unpacked (/tmp/memasr-wheels)
#   MEMASR_SITE     wheel install target (/tmp/site)
#   MEMASR_ENGINES  deb unpack target (/tmp/engines)
#   MEMASR_PY       Python (python3; in a dry run REPO/.venv/bin/python)
#   MEMASR_DEVICE_DRYRUN=1   local rehearsal: this machine's Python is not 3.12, so all wheels are
#                   installed for cp312 into MEMASR_SITE-cp312 (the device's exact install, only
#                   checked), and only the pure-Python ones (py2/py3-none tags) into MEMASR_SITE;
#                   compiled ones (cffi, soxr, rapidfuzz, parselmouth) then come from the local .venv.
# Returns non-zero (without exiting the caller's shell) when something is missing.

_memasr_env() {
    local repo carry dry site engines py stamp w whls pure rc deb d wdir wstamp=
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) || return 1
    carry=${MEMASR_CARRY:-$repo/.carry}
    dry=${MEMASR_DEVICE_DRYRUN:-0}
    site=${MEMASR_SITE:-/tmp/site}
    engines=${MEMASR_ENGINES:-/tmp/engines}
    if [ "$dry" = 1 ]; then py=${MEMASR_PY:-$repo/.venv/bin/python}; else py=${MEMASR_PY:-python3}; fi
    for d in "$carry/wheels.tar.xz" "$carry/debs"; do
        if [ "$d" = "$carry/wheels.tar.xz" ] && [ -d "$carry/wheels" ]; then continue; fi  # an older, unpacked carry
        [ -e "$d" ] || { echo "env.sh: $d is missing: run scripts/device/prepare_carry.sh here and carry .carry" >&2; return 1; }
    done
    command -v "$py" >/dev/null 2>&1 || { echo "env.sh: no Python at $py" >&2; return 1; }

    # A target folder is (re)made only when absent or made by this script (stamp file inside).
    _memasr_fresh() {  # DIR STAMP-TEXT -> 0 if DIR must be filled
        if [ -f "$1/.memasr-env-stamp" ] && [ "$(cat "$1/.memasr-env-stamp")" = "$2" ]; then return 1; fi
        if [ -e "$1" ] && [ ! -f "$1/.memasr-env-stamp" ] && [ -n "$(ls -A "$1" 2>/dev/null)" ]; then
            echo "env.sh: $1 exists and was not made by env.sh: set MEMASR_SITE / MEMASR_ENGINES / MEMASR_WHEELS elsewhere" >&2
            return 2
        fi
        rm -rf "$1" && mkdir -p "$1"
    }

    # ---- wheels.tar.xz -> wheels (Python's tarfile: no xz program needed) ---------------------------
    if [ -f "$carry/wheels.tar.xz" ]; then
        wdir=${MEMASR_WHEELS:-/tmp/memasr-wheels}
        wstamp=$(cksum <"$carry/wheels.tar.xz" | cut -d' ' -f1)
        _memasr_fresh "$wdir" "$wstamp" && rc=0 || rc=$?
        case $rc in
        0)
            "$py" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
                "$carry/wheels.tar.xz" "$wdir" || { echo "env.sh: could not unpack $carry/wheels.tar.xz" >&2; return 1; }
            echo "$wstamp" >"$wdir/.memasr-env-stamp" ;;
        1) ;;
        *) return 1 ;;
        esac
    else
        wdir=$carry/wheels
    fi

    # ---- wheels -> site ---------------------------------------------------------------------------
    whls=("$wdir"/*.whl)
    stamp=$(ls -1 "$wdir" | cksum | cut -d' ' -f1)-$wstamp-$dry
    local pipi=(-m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --disable-pip-version-check)
    local cp312=(--python-version 3.12 --implementation cp --only-binary=:all:
                 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
                 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
    _memasr_fresh "$site" "$stamp" && rc=0 || rc=$?
    case $rc in
    0)
        if [ "$dry" = 1 ]; then
            rm -rf "$site-cp312" && mkdir -p "$site-cp312"
            "$py" "${pipi[@]}" --target "$site-cp312" "${cp312[@]}" "${whls[@]}" \
                || { echo "env.sh: the wheels do not install for cp312" >&2; return 1; }
            pure=()
            for w in "${whls[@]}"; do case $(basename "$w") in *-py3-none-*|*-py2.py3-none-*) pure+=("$w");; esac; done
            "$py" "${pipi[@]}" --target "$site" "${pure[@]}" || { echo "env.sh: pip install failed" >&2; return 1; }
        else
            "$py" "${pipi[@]}" --target "$site" "${whls[@]}" || { echo "env.sh: pip install failed" >&2; return 1; }
        fi
        echo "$stamp" >"$site/.memasr-env-stamp" ;;
    1) ;;
    *) return 1 ;;
    esac

    # ---- debs -> engines (never /) ------------------------------------------------------------------
    stamp=$(ls -1 "$carry/debs" | cksum | cut -d' ' -f1)
    _memasr_fresh "$engines" "$stamp" && rc=0 || rc=$?
    case $rc in
    0)
        for deb in "$carry"/debs/*.deb; do
            if command -v dpkg >/dev/null 2>&1; then
                dpkg -x "$deb" "$engines" || { echo "env.sh: dpkg -x $deb failed" >&2; return 1; }
            else  # no dpkg: a .deb is an ar archive holding data.tar.*
                "$py" - "$deb" "$engines" <<'EOF' || { echo "env.sh: could not unpack $deb" >&2; return 1; }
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8  # "!<arch>\n"
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip("/"), int(data[pos + 48:pos + 58])
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(data[pos + 60:pos + 60 + size])).extractall(sys.argv[2], filter="tar")
    pos += 60 + size + (size & 1)
EOF
            fi
        done
        mkdir -p "$engines/bin"
        echo "$stamp" >"$engines/.memasr-env-stamp" ;;
    1) ;;
    *) return 1 ;;
    esac

    # ---- the `memasr` launcher: this checkout's src/ (PYTHONPATH below) under the chosen Python ----
    # The text pool comes from MEMASR_TEXT_POOL (memasr.data.text reads it): the device lacks the
    # Debian text packages.
    printf '#!/bin/sh\nexec "%s" -m memasr.cli "$@"\n' "$py" >"$engines/bin/memasr"
    chmod +x "$engines/bin/memasr"

    # ---- exports ------------------------------------------------------------------------------------
    local libs="$engines/usr/lib/x86_64-linux-gnu:$engines/lib/x86_64-linux-gnu"
    export MEMASR_PY=$py MEMASR_SITE=$site MEMASR_ENGINES=$engines MEMASR_CARRY=$carry MEMASR_REPO=$repo MEMASR_WHEELS=$wdir
    export PYTHONPATH="$repo/src:$site${PYTHONPATH:+:$PYTHONPATH}"
    export PATH="$engines/bin:$engines/usr/bin:$PATH"
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export ALSA_CONFIG_PATH="$engines/usr/share/alsa/alsa.conf"  # flite links libasound; never plays here
    export MEMASR_TEXT_POOL="$carry/text_pool.txt.gz"
    if [ -f "$carry/text_pool.txt.gz.sha256" ]; then
        export MEMASR_TEXT_POOL_SHA256; MEMASR_TEXT_POOL_SHA256=$(cat "$carry/text_pool.txt.gz.sha256")
    fi
    export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/memasr-cache} MPLCONFIGDIR=${MPLCONFIGDIR:-/tmp/memasr-cache/mpl}
    export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
    # espeak-ng runs in-process from the espeakng-loader wheel; its data folder's parent:
    local edata
    if edata=$("$py" -c 'import espeakng_loader, os; print(os.path.dirname(espeakng_loader.get_data_path()))' 2>/dev/null); then
        export ESPEAK_DATA_PATH=$edata
    fi
    return 0
}

_memasr_env
_memasr_env_rc=$?
unset -f _memasr_env _memasr_fresh
if [ "$_memasr_env_rc" != 0 ]; then
    echo "env.sh: setup failed" >&2
fi
(exit "$_memasr_env_rc")
