# plugbox — build, test, demo and benchmark targets. See README.md.
GO        ?= go
BIN       := bin/plugbox
BUILDTAGS := seccomp netgo osusergo urfave_cli_no_docs
# encoding/json on Go's v2 implementation (same v1 API and behaviour):
# decoding a bundle's config.json and libcontainer's state, done by a fresh
# process at every start, costs 40% less there (3.0 -> 1.8 ms for a cold
# bundle.Load). Set GOEXPERIMENT= to build without it.
export GOEXPERIMENT ?= jsonv2
# Static so that the exec shim (/proc/self/exe inside the sandbox) needs no
# shared libraries from the plugin's rootfs.
LDFLAGS   := -s -w -extldflags -static -X main.version=$(shell git describe --always --dirty 2>/dev/null || echo dev)
APT_PKGS  := libseccomp-dev bats busybox-static jq runc crun uidmap gcc libc6-dev make time python3 perl lua5.4
# What make bench compares plugbox with, beyond runc and crun.
BENCH_PKGS := bubblewrap util-linux
# The exec shim: a freestanding static C program (no libc, raw system calls)
# that the Go build embeds; see internal/shim/doc.go.
CC        ?= cc
SHIM      := internal/shim/build/plugbox-shim
SHIM_SRC  := internal/shim/src/shim.c
SHIM_CFLAGS := -std=c11 -Os -Wall -Wextra -Werror -static -nostdlib -ffreestanding -fno-builtin \
	-fno-stack-protector -fno-pie -no-pie -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fno-tree-loop-distribute-patterns -ffunction-sections -fdata-sections \
	-Wl,--gc-sections -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,norelro -s

# Installation (make install PREFIX=... [DESTDIR=...]) and the generated
# manual pages and completion scripts (from the same command definitions as
# --help; 'plugbox man' is a hidden verb, so the binary needs no Markdown
# converter).
PREFIX    ?= /usr/local
DESTDIR   ?=
GEN       := build
MAN_DIR   := $(GEN)/man
COMP_DIR  := $(GEN)/completion

.PHONY: all build shim deps test unit integration demo example bench lint freebsd clean man completion install

all: build

build: shim
	CGO_ENABLED=1 $(GO) build -tags "$(BUILDTAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/plugbox

shim: $(SHIM)

$(SHIM): $(SHIM_SRC)
	$(CC) $(SHIM_CFLAGS) -o $@ $<

# deps installs the Debian packages the build, tests, demo and bench need.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# test is what CI runs (.ci/run): the unit tests, the FreeBSD cross-build,
# the integration tests, the client suites (podman, containerd, CRI) and the
# OCI validation suite against plugbox (test-oci-plugbox, about 2.5 min;
# make test-oci adds the runc and crun passes it is compared with).
# TEST_MORE adds targets to it (make test TEST_MORE=test-oci).
TEST_MORE ?=
test: deps build unit freebsd integration test-clients test-oci-plugbox $(TEST_MORE)

unit: shim
	$(GO) vet -tags "$(BUILDTAGS)" ./...
	$(GO) test -tags "$(BUILDTAGS)" -count=1 . ./broker/... ./bundle/... ./seccompgen/... ./jail/... ./monitor/... ./learn/... ./hooks/... ./nsutil/... ./internal/... ./sandbox/store/... ./doctor/... ./cmd/...
	# The FreeBSD backend's tests run its helper in-process against a fake
	# that places real descriptors at fixed numbers; in the same process
	# they closed descriptors of the Linux backend's tests (EBADF flakes).
	# Two processes keep them apart.
	$(GO) test -tags "$(BUILDTAGS)" -count=1 -run '^TestJail' ./sandbox/
	$(GO) test -tags "$(BUILDTAGS)" -count=1 -skip '^TestJail' ./sandbox/

freebsd:
	GOOS=freebsd GOARCH=amd64 $(GO) build ./...
	GOOS=freebsd GOARCH=amd64 $(GO) vet ./...

integration: build
	PLUGBOX=$(CURDIR)/$(BIN) bats tests/integration
	PLUGBOX=$(CURDIR)/$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 ./tests/integration/...
	PLUGBOX=$(CURDIR)/$(BIN) CGO_ENABLED=0 $(GO) test -count=1 ./tests/library/...

# Clients and the OCI suite run against CLIENT_RUNTIME (default bin/plugbox);
# set it to /usr/sbin/runc to check the suites themselves. Each suite installs
# what it needs (apt, Go modules) and removes everything it creates; builds
# are cached in tests/clients/.cache. Logs: tests/clients/.work/logs.
CLIENT_RUNTIME ?= $(CURDIR)/$(BIN)

CLIENT_APT_PKGS := podman conmon containerd busybox-static jq bsdutils
CLIENTS_CACHE   := tests/clients/.cache
# crictl, built once into the cache for the CRI checks' second pass.
CRICTL_VERSION  := v1.37.0

.PHONY: test-clients client-tools test-oci test-oci-plugbox

# test-clients: podman, containerd (ctr) and Kubernetes' CRI (through
# tests/clients/criclient, then again through crictl itself), then the
# harness's own checks. About 1 min once client-tools is done.
test-clients: build client-tools
	RUNTIME=$(CLIENT_RUNTIME) bats --timing --print-output-on-failure \
		tests/clients/harness.bats tests/clients/podman.bats tests/clients/containerd.bats tests/clients/cri.bats
	# The same CRI checks with Kubernetes' own crictl.
	CRICTL=$(CURDIR)/$(CLIENTS_CACHE)/bin/crictl RUNTIME=$(CLIENT_RUNTIME) bats --timing --print-output-on-failure \
		tests/clients/cri.bats

# client-tools installs the client suites' Debian packages (each suite also
# installs what it lacks, so that it runs alone) and vets, tests and builds
# the CRI client, and builds crictl (several minutes cold: .ci/run starts it
# early, in the background, beside the unit and integration tests), nothing
# once done. It holds
# a lock, so .ci/run can start it in the background early and test-clients
# waits for that run instead of doing the same work beside it.
client-tools: deps
	@mkdir -p $(CLIENTS_CACHE)/bin
	flock $(CLIENTS_CACHE)/tools.lock sh -ec '\
		missing=""; for p in $(CLIENT_APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			echo "installing:$$missing"; \
			apt-get -o DPkg::Lock::Timeout=600 update -qq; \
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing >/dev/null; \
		fi; \
		cd tests/clients/criclient; \
		CGO_ENABLED=0 $(GO) vet .; \
		CGO_ENABLED=0 $(GO) test -count=1 .; \
		./build.sh $(CURDIR)/$(CLIENTS_CACHE)/bin/criclient; \
		[ -x $(CURDIR)/$(CLIENTS_CACHE)/bin/crictl ] || \
			GOBIN=$(CURDIR)/$(CLIENTS_CACHE)/bin CGO_ENABLED=0 $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@$(CRICTL_VERSION)'

# test-oci: the OCI runtime-tools validation suite with runc, crun and
# CLIENT_RUNTIME (one pass each, about 2.5 min); fails on any failure not in
# tests/clients/oci/expected-failures.
OCI_RUNTIMES ?= runc=/usr/sbin/runc crun=/usr/bin/crun plugbox=$(CLIENT_RUNTIME)
test-oci: build
	tests/clients/oci/run.sh $(OCI_RUNTIMES)

# test-oci-plugbox: the suite against CLIENT_RUNTIME alone.
test-oci-plugbox: build
	tests/clients/oci/run.sh plugbox=$(CLIENT_RUNTIME)

demo: deps build
	./tests/integration/demo.sh $(CURDIR)/$(BIN)

# example builds the wordcount plugin (static C) and the example host
# (package plugbox, without cgo), and runs the host on the sample inputs.
example: deps build
	$(CC) -static -O2 -Wall -Wextra -Werror -o bin/wordcount examples/wordcount/plugin/wordcount.c
	CGO_ENABLED=0 $(GO) build -o bin/wordcount-host ./examples/wordcount/host
	bin/wordcount-host -plugbox $(CURDIR)/$(BIN) -plugin $(CURDIR)/bin/wordcount examples/wordcount/testdata/*.txt

bench: deps build
	@missing=""; for p in $(BENCH_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	PLUGBOX=$(CURDIR)/$(BIN) ./tests/integration/bench.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet -tags "$(BUILDTAGS)" ./...

man: build
	rm -rf $(MAN_DIR)
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(BIN) man $(MAN_DIR)

completion: build
	mkdir -p $(COMP_DIR)
	$(BIN) completion bash > $(COMP_DIR)/plugbox.bash
	$(BIN) completion zsh > $(COMP_DIR)/_plugbox
	$(BIN) completion fish > $(COMP_DIR)/plugbox.fish

install: build man completion
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/plugbox
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 $(MAN_DIR)/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 0644 $(COMP_DIR)/plugbox.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/plugbox
	install -D -m 0644 $(COMP_DIR)/_plugbox $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_plugbox
	install -D -m 0644 $(COMP_DIR)/plugbox.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/plugbox.fish

clean:
	rm -rf bin $(GEN) tests/integration/.work $(SHIM)
