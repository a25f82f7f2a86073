# make run   : install missing build packages, build Release, start `tams serve` (embedded default)
# make test  : install what the tests need, build, run unit + black-box tests, then the same under
#              AddressSanitizer + UndefinedBehaviorSanitizer. Non-zero exit on any failure.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PYTEST := /usr/bin/python3 -m pytest
ARGS ?=

.PHONY: all deps deps-test deps-bench build build-asan run test unit api test-asan bench bench-smoke \
        bench-segments clean

all: build

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

deps-bench:
	@scripts/deps.sh bench

build: deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAMS_BUILD_TESTS=$(if $(NO_TESTS),OFF,ON) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps-test
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAMS_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

run:
	@$(MAKE) --no-print-directory build NO_TESTS=1
	./build/tams serve $(ARGS)

unit: deps-test build
	cd build && ctest --output-on-failure -j $(JOBS)

api: deps-test build
	TAMS_BINARY=$(CURDIR)/build/tams $(PYTEST) -q tests/api

test-asan: build-asan
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  TAMS_BINARY=$(CURDIR)/build-asan/tams $(PYTEST) -q tests/api

test: deps-test
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory api
	@$(MAKE) --no-print-directory test-asan

# make bench       : the standard benchmark (10,000 flows, 10 million segments, cached in bench/.data;
#                    report in bench/results/); BENCH_ARGS adds bench/run.py options
# make bench-smoke : the same scenarios on a tiny data set, 1 s each; fails on errors, never on speed
bench: deps-bench build
	/usr/bin/python3 bench/run.py --binary $(CURDIR)/build/tams $(BENCH_ARGS)

bench-smoke: deps-bench build
	/usr/bin/python3 bench/run.py --smoke --binary $(CURDIR)/build/tams $(BENCH_ARGS)

bench-segments: build
	/usr/bin/python3 bench/segment_query_scaling.py --binary $(CURDIR)/build/tams

clean:
	rm -rf build build-asan
