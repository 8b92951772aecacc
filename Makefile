# plugbox — build, test, demo and benchmark targets. See README.md.
GO        ?= go
BIN       := bin/plugbox
BUILDTAGS := seccomp netgo osusergo urfave_cli_no_docs
# Static so that the exec shim (/proc/self/exe inside the sandbox) needs no
# shared libraries from the plugin's rootfs.
LDFLAGS   := -s -w -extldflags -static -X main.version=$(shell git describe --always --dirty 2>/dev/null || echo dev)
APT_PKGS  := libseccomp-dev bats busybox-static jq runc crun uidmap gcc make
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

.PHONY: all build shim deps test unit integration demo bench lint freebsd clean man completion install

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

test: deps build unit freebsd integration

unit: shim
	$(GO) vet -tags "$(BUILDTAGS)" ./...
	$(GO) test -tags "$(BUILDTAGS)" -count=1 ./bundle/... ./seccompgen/... ./jail/... ./monitor/... ./nsutil/... ./internal/... ./sandbox/... ./doctor/... ./cmd/...

freebsd:
	GOOS=freebsd GOARCH=amd64 $(GO) build ./...
	GOOS=freebsd GOARCH=amd64 $(GO) vet ./...

integration: build
	PLUGBOX=$(CURDIR)/$(BIN) bats tests/integration
	PLUGBOX=$(CURDIR)/$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 ./tests/integration/...

demo: deps build
	./tests/integration/demo.sh $(CURDIR)/$(BIN)

bench: deps build
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
