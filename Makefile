# Fresh-machine entry points: `make demo` and `make test` each build .venv when missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEB_BASE := espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts \
	sox fortune-mod fortunes fortunes-min wordnet-base bible-kjv bible-kjv-text \
	pocketsphinx-testdata klettres-data
# one line per area, so that each area's packages are edited in one place
DEB_TTS :=
DEB_AUGMENT :=
DEB_TEXT :=
DEB_EVAL :=
DEB_PACKAGES := $(DEB_BASE) $(DEB_TTS) $(DEB_AUGMENT) $(DEB_TEXT) $(DEB_EVAL)

.PHONY: demo test install debs bench clean

install: $(STAMP)

debs:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml | debs
	@test -x $(PY) || python3.11 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,tts]'
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
