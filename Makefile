# Two commands set everything up on a fresh machine:
#   make run   - create .venv, install, build the index if missing or stale, serve the app
#   make test  - create .venv, install, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,eval]'
	touch $@

.PHONY: install run index test eval clean
install: $(VENV)/.installed

run: install
	$(PY) app.py

index: install
	$(VENV)/bin/rag index

test: install
	$(PY) -m pytest

eval: install
	$(PY) -m eval

clean:
	rm -rf $(VENV) index/CURRENT index/build-* index/.tmp-* tests/output
