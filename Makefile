# The two commands of the README's Quick start, plus the pieces they use.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test unit lua-test integration bench bench-filter bench-drops bench-offcpu install clean

all: build

deps:
	@tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	tools/demo.sh $(BUILD)/vnetscope

# The whole suite: C unit tests, Lua stdlib tests, integration tests on
# the real kernel. Each prints its own summary line; all must pass.
test: build
	tools/run-tests.sh $(BUILD)

# Figures only, no timing assertions (docs/testing.md); all need root.
# One after the other, even under make -j: each would be the others' noise.
bench: build
	tools/install-deps.sh bench
	bench/startup $(BUILD)/vnetscope
	bench/filter $(BUILD)/vnetscope
	bench/drops $(BUILD)/vnetscope
	bench/offcpu $(BUILD)/vnetscope

bench-filter: build
	bench/filter $(BUILD)/vnetscope

bench-drops: build
	bench/drops $(BUILD)/vnetscope

bench-offcpu: build
	bench/offcpu $(BUILD)/vnetscope

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
