# Set-up and everyday commands. `make demo` and `make test` install OpenBLAS when it is missing.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_DIR ?= runs/demo-adding

.PHONY: deps build demo test test-long bench clean

## deps: install OpenBLAS (Debian/Ubuntu libopenblas-dev) and pkg-config when missing
deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists openblas; then \
		echo "Installing OpenBLAS (libopenblas-dev) and pkg-config with apt-get..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libopenblas-dev pkg-config >/dev/null; \
	fi

## build: release build of the moduli command
build: deps
	$(SWIFT) build -c release --product moduli

## demo: train the adding problem at its defaults and print where the run directory is
demo: build
	.build/release/moduli train adding --out $(RUN_DIR) --overwrite

## test: the whole test suite (about a minute); MODULI_LONG_TESTS=1 adds the long checks
test: deps
	$(SWIFT) test

test-long: deps
	MODULI_LONG_TESTS=1 $(SWIFT) test

## bench: training-step benchmarks (release), see BENCHMARKS.md; the PyTorch peer runs when
## BENCH_PYTHON names a Python with torch (found at /opt/torchenv/bin/python when present)
BENCH_PYTHON ?= $(wildcard /opt/torchenv/bin/python)
BENCH_ARGS ?=
bench: deps
	cd Benchmarks && $(SWIFT) run -c release moduli-bench $(if $(BENCH_PYTHON),--pytorch $(BENCH_PYTHON)) $(BENCH_ARGS)

clean:
	rm -rf .build
