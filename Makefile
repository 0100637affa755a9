# The two commands of the README's Quick start, plus the pieces they use.
BUILD ?= build
JOBS ?= $(shell nproc)


.PHONY: all deps build demo test test-asan fuzz unit lua-test integration bench install deb test-deb clean

all: build

deps:
	@tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	tools/demo.sh $(BUILD)/vnetscope

# The whole suite (tools/run-tests.sh, docs/testing.md): C unit tests,
# Lua stdlib tests, integration tests on the real kernel, the Debian
# packages in a fresh root, the sanitizer build, a short fuzz run, and
# the kernel lab beside them. Each prints its own summary line; all must
# pass.
test: build deb
	VNST_DEB_BUILD=$(DEB_BUILD) tools/run-tests.sh $(BUILD)

# The C unit tests, the Lua suite and t_core_api under ASan + UBSan + LSan
# (build-asan); make test runs it too.
test-asan: deps
	tools/test-asan.sh

# Every fuzz target 10M executions (CI does not wait for this; make test
# runs 100k each). FUZZ_RUNS=N for another count.
FUZZ_RUNS ?= 10000000
fuzz: deps
	tools/fuzz.sh $(FUZZ_RUNS)

# Figures only, no timing assertions (docs/testing.md); all need root.
# One after the other, even under make -j: each would be the others' noise.
BENCHES = startup filter drops events futex offcpu skb-trace latency

bench: build
	tools/install-deps.sh bench
	for b in $(BENCHES); do bench/$$b $(BUILD)/vnetscope || exit 1; done

bench-%: build
	tools/install-deps.sh bench
	bench/$* $(BUILD)/vnetscope

install: build
	cmake --install $(BUILD)

# The Debian packages (docs/packaging.md), from a build of their own
# configured for /usr, into $(BUILD)/.
DEB_BUILD ?= $(BUILD)-deb

deb: deps
	tools/install-deps.sh deb
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr
	cmake --build $(DEB_BUILD) -j$(JOBS) --target vnetscope vnetscope-bcc vnetscope-docs
	tools/make-deb.sh $(DEB_BUILD) $(BUILD)

# The packages installed in a fresh Debian 12 root (tests/deb/root.sh,
# cached in /var/cache/vnetscope/deb-root); also part of make test.
test-deb: deb
	VNETSCOPE=$(DEB_BUILD)/vnetscope VNST_DEB_DIR=$(BUILD) tests/integration/run.sh tests/deb/t_install.sh

clean:
	rm -rf $(BUILD) $(DEB_BUILD)
