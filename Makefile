# Set-up and everyday commands. `make demo` and `make test` install OpenBLAS when it is missing.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_DIR ?= runs/demo-navigation
DEMO_ARGS ?=

.PHONY: deps test-deps lint format build demo demo-adding test test-long bench static clean

## deps: install OpenBLAS (Debian/Ubuntu libopenblas-dev) and pkg-config when missing
deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists openblas; then \
		echo "Installing OpenBLAS (libopenblas-dev) and pkg-config with apt-get..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libopenblas-dev pkg-config >/dev/null; \
	fi

## test-deps: what the system tests use, installed when it can be had (the tests themselves install
## nothing; each skips with its reason where its part is missing): headless Chromium renders a
## report, a one-node Slurm (Debian's slurmctld, slurmd, munge; root only) runs a job array, NVRTC
## compiles the CUDA kernels
test-deps: deps
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		Tools/slurm-local.sh install || echo "Slurm could not be installed; the Slurm sweep test will be skipped."; \
	elif ! command -v sbatch >/dev/null 2>&1; then \
		echo "Slurm is missing and is installed only as root with apt-get; the Slurm sweep test will be skipped."; \
	fi
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then \
		echo "Installing Chromium (Debian package chromium) for the report rendering test..."; \
		{ $(SUDO) apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null 2>&1; } || \
			echo "Chromium could not be installed; the report rendering test will be skipped."; \
	fi
	@if ! ls .venv-nvrtc/lib/python3*/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.* >/dev/null 2>&1; then \
		echo "Installing NVRTC (PyPI nvidia-cuda-nvrtc-cu12) into .venv-nvrtc for the CUDA kernel compilation tests..."; \
		{ python3 -m venv .venv-nvrtc && .venv-nvrtc/bin/pip install -q nvidia-cuda-nvrtc-cu12; } >/dev/null 2>&1 || \
			echo "NVRTC could not be installed (python3-venv and PyPI needed); the NVRTC tests will be skipped."; \
	fi

## lint: the sources in the formatter's style, no line over 140 characters, every target declaring
## its imports (Tools/lint.sh; docs/testing.md)
lint:
	Tools/lint.sh

## format: rewrite the Swift sources in the formatter's style (.swift-format), long string literals
## split over lines
FORMAT_PATHS := Sources Tests Benchmarks/Sources Package.swift
format:
	$(SWIFT) format format --in-place --parallel --recursive $(FORMAT_PATHS)
	find $(FORMAT_PATHS) -name '*.swift' -print0 | xargs -0 python3 Tools/split_long_strings.py
	$(SWIFT) format format --in-place --parallel --recursive $(FORMAT_PATHS)

## build: release build of the moduli command
build: deps
	$(SWIFT) build -c release --product moduli

## demo: the main job. Trains the small navigation preset (docs/method.md section 4, pruning to 90%) with the
## torus regularizer and with none, side by side on two cores (one thread each), then compares them; DEMO_ARGS adds
## options to both runs (e.g. DEMO_ARGS="--epochs 2 --batches-per-epoch 20" for a quick look)
demo: build
	@mkdir -p $(RUN_DIR)
	@echo "Training navigation (small preset, 90% sparsity): torus and none, in $(RUN_DIR)/ ..."
	@.build/release/moduli train navigation --preset small --moduli torus --threads 1 --out $(RUN_DIR)/torus --overwrite --quiet $(DEMO_ARGS) > $(RUN_DIR).torus.log 2>&1 & t=$$!; \
	 .build/release/moduli train navigation --preset small --threads 1 --out $(RUN_DIR)/none --overwrite --quiet $(DEMO_ARGS) > $(RUN_DIR).none.log 2>&1 & n=$$!; \
	 wait $$t || { cat $(RUN_DIR).torus.log; exit 1; }; wait $$n || { cat $(RUN_DIR).none.log; exit 1; }
	@.build/release/moduli compare $(RUN_DIR)/torus $(RUN_DIR)/none

## demo-adding: the adding problem at the paper's protocol (about 6 minutes)
demo-adding: build
	.build/release/moduli train adding --out runs/demo-adding --overwrite

## test: the whole test suite (about a minute); MODULI_LONG_TESTS=1 adds the long checks
test: test-deps lint
	$(SWIFT) test

test-long: test-deps lint
	MODULI_LONG_TESTS=1 $(SWIFT) test

## bench: training-step benchmarks (release), see BENCHMARKS.md; the PyTorch peer runs when
## BENCH_PYTHON names a Python with torch (found at /opt/torchenv/bin/python when present)
BENCH_PYTHON ?= $(wildcard /opt/torchenv/bin/python)
BENCH_ARGS ?=
bench: deps
	cd Benchmarks && $(SWIFT) run -c release moduli-bench $(if $(BENCH_PYTHON),--pytorch $(BENCH_PYTHON)) $(BENCH_ARGS)

## static: moduli and moduli-gpu-check as release binaries with the Swift runtime linked in, for a
## machine without a Swift toolchain (a GPU machine): dist/moduli/ holds both, the built-in corpus
## (moduli_Experiments.resources) and the OpenBLAS libraries they load (found through their RPATH
## $ORIGIN/lib, which also serves their own dependencies). Tools/gpu_checks.sh runs them there
## (docs/gpu.md); Tools/static_check.sh checks the folder here
STATIC_DIR ?= dist/moduli
static: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static --product moduli-gpu-check \
		-Xlinker -rpath -Xlinker '$$ORIGIN/lib' -Xlinker --disable-new-dtags
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static --product moduli \
		-Xlinker -rpath -Xlinker '$$ORIGIN/lib' -Xlinker --disable-new-dtags
	@rm -rf $(STATIC_DIR) && mkdir -p $(STATIC_DIR)/lib
	@for b in moduli moduli-gpu-check; do cp .build-static/release/$$b $(STATIC_DIR)/ && strip $(STATIC_DIR)/$$b; done
	@cp -R .build-static/release/moduli_Experiments.resources $(STATIC_DIR)/
	@ldd $(STATIC_DIR)/moduli $(STATIC_DIR)/moduli-gpu-check | awk '/libopenblas|libgfortran|libquadmath/ { print $$3 }' \
		| sort -u | xargs -r -I{} cp -L {} $(STATIC_DIR)/lib/
	@ls -l $(STATIC_DIR) $(STATIC_DIR)/lib

clean:
	rm -rf .build
