# PIAS build. Everything lands in $(BUILD); `make help` lists the targets.
.DELETE_ON_ERROR:
.SUFFIXES:

BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
# SAN: sanitizer flags for every C compile and link (make test-asan sets them)
SAN ?=
CFLAGS += $(WARN) -std=gnu11 -Iinclude -Ilib -Idaemon -I$(BUILD) -MMD -MP $(SAN)
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 $(WARN) \
	-Wno-unused-function -I. -Iinclude -Ibpf -MMD -MP

LIBS_BPF := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz
LIBS_XDP := $(shell $(PKG_CONFIG) --libs libxdp 2>/dev/null || echo -lxdp)
LIBS_CMOCKA := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
LIBS_INIH := $(shell $(PKG_CONFIG) --libs inih 2>/dev/null || echo -linih)
LIBS_SODIUM := $(shell $(PKG_CONFIG) --libs libsodium 2>/dev/null || echo -lsodium)
LIBS_EVENT := $(shell $(PKG_CONFIG) --libs libevent 2>/dev/null || echo -levent)
LIBS_SYSTEMD := $(shell $(PKG_CONFIG) --libs libsystemd 2>/dev/null || echo -lsystemd)
# what libpias links against: maps (libbpf), tunnel tags (sodium)
LIBS_PIAS = $(LIBS_SODIUM) $(LIBS_BPF)
# what piasd's logic links against: config (inih), MACs (sodium), VIEW pages (zlib), Vivaldi (libm)
LIBS_LOGIC := $(LIBS_INIH) $(LIBS_SODIUM) -lz -lm

# BPF objects and their skeletons
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# user-space library shared by loader, tools, daemon and tests
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIBPIAS := $(BUILD)/libpias.a

# test support library (packet builder, netns helper, prog runner)
TLIB_SRCS := $(wildcard selftests/lib/*.c)
TLIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TLIB_SRCS))

# piasd's protocol logic (pure state machines): unit-tested without the daemon
DAEMON_LOGIC_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard daemon/*.c))
PIASD_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard daemon/piasd/*.c))
PIASCTL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/piasctl/*.c))
DELAY_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/pias-delay/*.c))
# the delay queue is pure (no I/O): unit-tested on its own
DELAY_QUEUE_OBJ := $(BUILD)/tools/pias-delay/queue.o
LOADER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard loader/*.c))
MAPS_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/pias-maps/*.c))
PROGTEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard selftests/prog/*.c))
UNIT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard selftests/unit/*.c))
BENCH_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/*.c))
PIASD_BENCH_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/piasd/*.c))
HOP_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/hop/*.c))
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard fuzz/*.c))

BINS := $(BUILD)/piasd-loader $(BUILD)/pias-maps $(if $(PIASD_OBJS),$(BUILD)/piasd) \
	$(if $(PIASCTL_OBJS),$(BUILD)/piasctl) $(BUILD)/pias-delay
TEST_BINS := $(BUILD)/selftests/test_prog $(BUILD)/selftests/test_unit
BENCH_BINS := $(if $(BENCH_OBJS),$(BUILD)/pias-bench) $(if $(PIASD_BENCH_OBJS),$(BUILD)/piasd-bench) \
	$(if $(HOP_OBJS),$(BUILD)/pias-hop)

.PHONY: all bpf test check test-unit test-prog test-ns test-asan fuzz soak bench bench-compare bench-nat bench-hop demo deps vmlinux clean help \
	format format-check
all: $(BPF_OBJS) $(BPF_SKELS) $(BINS) $(TEST_BINS) $(BENCH_BINS)
bpf: $(BPF_OBJS) $(BPF_SKELS)

help:
	@echo "make deps     install the Debian packages that build, tests and demo need (root)"
	@echo "make          build everything into $(BUILD)/"
	@echo "make test     run all tests (unit, BPF_PROG_TEST_RUN, namespaces; root); T=NAME: only those"
	@echo "make test-asan  unit and BPF_PROG_TEST_RUN tests built with ASan and UBSan (root)"
	@echo "make soak     the default lab under load and faults for SOAK_MINUTES (10)"
	@echo "make fuzz     each libFuzzer harness for FUZZ_TIME s (default 10; clang)"
	@echo "make bench    dataplane ns/packet against two floors, control plane ns/message against a MAC (JSON in $(BUILD)/)"
	@echo "make bench-compare BASE=REV [ROUNDS=N]  the hit paths against git revision REV's, side by side"
	@echo "make bench-nat  new flows/s one JAP sustains to one target against the NAT formula (a lab)"
	@echo "make bench-hop  CPU cost of a forwarding hop on veth: PIAS, the kernel, a minimal XDP proxy"
	@echo "make deb      Debian packages (debian/) into $(BUILD)/deb/ (dpkg-buildpackage)"
	@echo "make test-deb the packages installed and checked in a fresh Debian 12 chroot (root)"
	@echo "make test-minbase  make deps && make test (T=NAME: only those) in a fresh Debian 12 chroot, clean clone of HEAD (root)"
	@echo "make install  DESTDIR=DIR PREFIX=/usr: the installed layout the packages hold"
	@echo "make demo     run the demo scenario and print what happened to each packet"
	@echo "make vmlinux  regenerate vmlinux.h from the running kernel's BTF"
	@echo "make format   clang-format every C file (format-check: only report)"

$(BUILD)/bpf/%.tmp.o: bpf/%.bpf.c vmlinux.h | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

$(BPF_OBJS): $(BUILD)/bpf/%.bpf.o: $(BUILD)/bpf/%.tmp.o
	$(BPFTOOL) gen object $@ $<

$(BPF_SKELS): $(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

USER_OBJS := $(LIB_OBJS) $(TLIB_OBJS) $(LOADER_OBJS) $(MAPS_OBJS) $(PROGTEST_OBJS) \
	$(UNIT_OBJS) $(BENCH_OBJS) $(HOP_OBJS) $(DAEMON_LOGIC_OBJS) $(PIASD_OBJS) $(PIASCTL_OBJS) $(PIASD_BENCH_OBJS) \
	$(DELAY_OBJS) $(FUZZ_OBJS)
$(USER_OBJS): $(BUILD)/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIBPIAS): $(LIB_OBJS)
	@mkdir -p $(@D)
	ar rcs $@ $^

$(BUILD)/piasd-loader: $(LOADER_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_XDP) $(LIBS_PIAS)

$(BUILD)/pias-maps: $(MAPS_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_PIAS)

$(BUILD)/piasd: $(PIASD_OBJS) $(DAEMON_LOGIC_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_EVENT) $(LIBS_SYSTEMD) $(LIBS_LOGIC) $(LIBS_PIAS)

$(BUILD)/piasctl: $(PIASCTL_OBJS) $(DAEMON_LOGIC_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_EVENT) $(LIBS_LOGIC) $(LIBS_PIAS)

$(BUILD)/pias-delay: $(DELAY_OBJS)
	$(CC) $(CFLAGS) -o $@ $^

$(BUILD)/selftests/test_prog: $(PROGTEST_OBJS) $(TLIB_OBJS) $(LIBPIAS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_CMOCKA) $(LIBS_PIAS)

$(BUILD)/selftests/test_unit: $(UNIT_OBJS) $(DAEMON_LOGIC_OBJS) $(DELAY_QUEUE_OBJ) $(TLIB_OBJS) $(LIBPIAS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_CMOCKA) $(LIBS_LOGIC) $(LIBS_PIAS)

# selftests/ns/test_tt_host.sh's driver: tunnel mode's host setup
# (tools/piasctl/tunnel_target.c, lo_addr.c) without the agent around it.
TT_HOST_CHECK := $(BUILD)/selftests/tt_host_check
$(TT_HOST_CHECK): $(TT_HOST_CHECK).o $(BUILD)/tools/piasctl/tunnel_target.o \
		$(BUILD)/tools/piasctl/lo_addr.o $(LIBPIAS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_PIAS)
$(TT_HOST_CHECK).o: selftests/tt_host_check.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools/piasctl -c $< -o $@
all: $(TT_HOST_CHECK)

$(BUILD)/pias-bench: $(BENCH_OBJS) $(TLIB_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_PIAS)

$(BUILD)/pias-hop: $(HOP_OBJS) $(TLIB_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_PIAS)

$(BUILD)/piasd-bench: $(PIASD_BENCH_OBJS) $(DAEMON_LOGIC_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_LOGIC) $(LIBS_PIAS)

$(BUILD)/bpf:
	mkdir -p $@

# libFuzzer harnesses (fuzz/, make fuzz): clang, with ASan and UBSan
$(FUZZ_OBJS): CFLAGS += -Itools/piasctl
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/fuzz_util.o $(DAEMON_LOGIC_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS_LOGIC) $(LIBS_PIAS)
$(BUILD)/fuzz/fuzz_reg_file: $(BUILD)/fuzz/fuzz_reg_file.o $(BUILD)/fuzz/fuzz_util.o \
		$(BUILD)/tools/piasctl/reg_file.o $(BUILD)/tools/piasctl/agent_reg.o \
		$(DAEMON_LOGIC_OBJS) $(LIBPIAS)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS_LOGIC) $(LIBS_PIAS)

# Tests: unit tests need nothing; prog and namespace tests need root.
# cmocka prints its results on stderr, hence 2>&1.
# T=NAME: only the tests of that name (a glob: T='test_cookie*') in the unit,
# BPF_PROG_TEST_RUN and namespace suites (ns: the file, T=test_piasd).
T ?=
test check: all
ifeq ($(T),)
	@# test-asan ran the namespace tests ASAN_NS_TESTS with the sanitizer
	@# build: the same scripts and checks, so test-ns does not run them again
	$(MAKE) --no-print-directory format-check test-unit test-prog test-asan fuzz test-deb
	$(MAKE) --no-print-directory test-ns NS_SKIP='$(ASAN_NS_TESTS)'
else
	$(MAKE) --no-print-directory test-unit test-prog test-ns
endif

test-unit: $(BUILD)/selftests/test_unit
	$(BUILD)/selftests/test_unit '$(T)' 2>&1

test-prog: $(BUILD)/selftests/test_prog
	$(BUILD)/selftests/test_prog '$(T)' 2>&1

# NS_SKIP: namespace tests (names, no .sh) not to run, said so in the output
NS_SKIP ?=
test-ns: all
	BUILD=$(BUILD) NS_SKIP='$(NS_SKIP)' bash selftests/ns/run.sh '$(T)'

# The unit and BPF_PROG_TEST_RUN tests and the tools built with AddressSanitizer
# (LeakSanitizer included) and UBSan, in $(BUILD)-asan; the tests run, and
# stop at the first report; then piasd and piasctl run the namespace tests
# ASAN_NS_TESTS so built: test_piasd (restarts, kill -9, bad input),
# test_metrics (the HTTP endpoint, which parses what anyone on its address
# sends), test_agent_check (the agent's health checks, which run servers'
# answers through evhttp and evdns). A report stops the binary, so the test
# fails, and is kept in $(BUILD)-asan.
ASAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_NS_TESTS := test_piasd test_metrics test_agent_check
test-asan:
	$(MAKE) --no-print-directory BUILD=$(BUILD)-asan SAN="$(ASAN)" \
		$(BUILD)-asan/selftests/test_unit $(BUILD)-asan/selftests/test_prog \
		$(BUILD)-asan/piasd $(BUILD)-asan/piasctl $(BUILD)-asan/piasd-loader $(BUILD)-asan/pias-maps
	PIAS_TEST_SANITIZERS=1 $(BUILD)-asan/selftests/test_unit 2>&1
	PIAS_TEST_SANITIZERS=1 $(BUILD)-asan/selftests/test_prog 2>&1
	rm -f $(BUILD)-asan/san.*
	for t in $(ASAN_NS_TESTS); do \
		PIASD_START_S=30 ASAN_OPTIONS=log_path=$(CURDIR)/$(BUILD)-asan/san \
		UBSAN_OPTIONS=log_path=$(CURDIR)/$(BUILD)-asan/san:print_stacktrace=1 \
		BUILD=$(BUILD)-asan bash selftests/ns/$$t.sh || exit 1; \
	done
	@if ls $(BUILD)-asan/san.* >/dev/null 2>&1; then cat $(BUILD)-asan/san.*; \
		echo "test-asan: sanitizer reports above ($(BUILD)-asan/san.*)"; exit 1; fi

# each harness for FUZZ_TIME seconds (CI: 10) from the corpus in fuzz/corpus
FUZZERS := msg config keyring reg_file addr ctl_line
FUZZ_TIME ?= 10
FUZZ_SAN := -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
fuzz:
	$(MAKE) --no-print-directory BUILD=$(BUILD)-fuzz CC=$(CLANG) SAN="$(FUZZ_SAN)" \
		$(FUZZERS:%=$(BUILD)-fuzz/fuzz/fuzz_%)
	BUILD=$(BUILD)-fuzz FUZZ_TIME=$(FUZZ_TIME) bash fuzz/run.sh $(FUZZERS)

bench: all
	$(BUILD)/pias-bench --json $(BUILD)/bench.json
	$(BUILD)/piasd-bench --json $(BUILD)/bench-piasd.json

# the hit paths of this tree against those of git revision BASE, side by side
bench-compare: all
	BUILD=$(BUILD) bash bench/compare.sh $(BASE) $(ROUNDS)

# the default lab under dnsperf, wrk and ab for SOAK_MINUTES (10) with a fault a
# minute; client errors, piasd's memory and map occupancy (a lab; not in CI)
soak: all
	BUILD=$(BUILD) bash selftests/soak/soak.sh

# new flows/s one JAP sustains to one target, against the NAT capacity formula (a lab)
bench-nat: all
	BUILD=$(BUILD) bash bench/nat-capacity.sh

# the CPU cost of one forwarding hop on veth, PIAS against the kernel and a
# minimal XDP proxy (fresh namespaces; HOP_ARGS: pias-hop --help)
bench-hop: all
	$(BUILD)/pias-hop --json $(BUILD)/bench-hop.json $(HOP_ARGS)

demo: all
	BUILD=$(BUILD) tools/pias-lab/demo

deps:
	bash tools/install-deps.sh

# every C file but the generated vmlinux.h, in .clang-format's style
FORMAT_FILES = $(filter-out vmlinux.h,$(shell git ls-files '*.c' '*.h' 2>/dev/null))
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@bad=$$(for f in $(FORMAT_FILES); do clang-format "$$f" | cmp -s - "$$f" || echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "not clang-format clean (run make format):"; echo "$$bad"; exit 1; fi; \
	echo "format-check: $(words $(FORMAT_FILES)) files clean"

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h.tmp
	mv vmlinux.h.tmp vmlinux.h

# --- Installed layout: make install DESTDIR=DIR PREFIX=/usr (debian/rules) ---
# The units and the example configs name /usr paths; installed with another
# PREFIX they are rewritten to it, so a tree installed anywhere is coherent.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
PKGLIBDIR = $(PREFIX)/lib/pias
DOCDIR = $(PREFIX)/share/doc/pias
MAN8DIR = $(PREFIX)/share/man/man8
# the package's version (debian/changelog), stamped on the man pages
VERSION = $(or $(shell dpkg-parsechangelog -l debian/changelog -SVersion 2>/dev/null),0)
# the dataplane's objects, for piasd-loader's --obj (the loader and piasctl
# carry the same ones built in); bench.bpf.o and hop.bpf.o are benchmarks'
SHIP_BPF := $(BUILD)/bpf/pias.bpf.o $(BUILD)/bpf/target.bpf.o $(BUILD)/bpf/xdp_pass.bpf.o
SHIP_SBIN := $(BUILD)/piasd $(BUILD)/piasd-loader $(BUILD)/pias-maps
SHIP_BIN := $(BUILD)/piasctl
MANS := $(patsubst $(BUILD)/%,$(BUILD)/man/%.8,$(SHIP_SBIN) $(SHIP_BIN))

# The man pages are each program's --help, with dist/man/NAME.h2m's sections.
# help2man knows a synopsis by "Usage:" and its further forms by "  or:",
# so the tools' "usage:" and 7-space continuation lines are renamed to those.
H2M_FILTER := sed -e "s/^usage:/Usage:/" -e "s/^       \([a-z]\)/  or: \1/"
$(BUILD)/man/%.8: $(BUILD)/% dist/man/%.h2m
	@mkdir -p $(@D)
	help2man --section=8 --no-info --no-discard-stderr \
		--help-option='--help | $(H2M_FILTER)' --version-string='$(VERSION)' \
		--include=dist/man/$*.h2m --output=$@ $(abspath $<)

.PHONY: progs man install
progs: $(SHIP_SBIN) $(SHIP_BIN) $(SHIP_BPF) $(MANS)
man: $(MANS)

SUBST_PREFIX = sed 's|/usr/|$(PREFIX)/|g'
install: progs
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PKGLIBDIR)/bpf \
		$(DESTDIR)$(MAN8DIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/docs \
		$(DESTDIR)$(PREFIX)/share/pias/grafana $(DESTDIR)$(SYSCONFDIR)/pias/targets \
		$(DESTDIR)$(SYSCONFDIR)/bird
	install -m 755 $(SHIP_SBIN) $(DESTDIR)$(PREFIX)/sbin
	install -m 755 $(SHIP_BIN) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(SHIP_BPF) $(DESTDIR)$(PKGLIBDIR)/bpf
	install -m 755 dist/bird/pias-announce-bird $(DESTDIR)$(PKGLIBDIR)
	install -m 644 $(MANS) $(DESTDIR)$(MAN8DIR)
	install -m 644 dist/grafana/pias-dashboard.json $(DESTDIR)$(PREFIX)/share/pias/grafana
	install -m 644 README.md $(DESTDIR)$(DOCDIR)
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/docs
	for f in dist/systemd/*.service; do \
		$(SUBST_PREFIX) $$f > $(DESTDIR)$(UNITDIR)/$${f##*/} || exit 1; done
	$(SUBST_PREFIX) dist/piasd.conf > $(DESTDIR)$(SYSCONFDIR)/pias/piasd.conf
	$(SUBST_PREFIX) dist/bird/pias-anycast.conf > $(DESTDIR)$(SYSCONFDIR)/bird/pias-anycast.conf
	chmod 644 $(DESTDIR)$(UNITDIR)/*.service $(DESTDIR)$(SYSCONFDIR)/pias/piasd.conf \
		$(DESTDIR)$(SYSCONFDIR)/bird/pias-anycast.conf

# Debian packages (debian/), built by dpkg-buildpackage from a copy of the
# tree in $(BUILD)/deb, never from this tree's $(BUILD); the .deb, .buildinfo
# and .changes land in $(BUILD)/deb. The copy is what `make` here would build:
# tracked files as edited, and new files not yet added (the Makefile's
# wildcards take them), but nothing .gitignore names (build trees).
DEB_SRC = $(BUILD)/deb/pias-$(VERSION)
.PHONY: deb test-deb
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(DEB_SRC)
	git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - --ignore-failed-read -c | tar -x -C $(DEB_SRC)
	@# parallel: dh builds with make -jN (CI time; the packages are the same)
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="parallel=$$(nproc) $$DEB_BUILD_OPTIONS" \
		nice -n 19 dpkg-buildpackage -us -uc -b
	ls $(BUILD)/deb/*.deb

# the packages installed in a fresh Debian 12 chroot (debootstrap; root)
test-deb:
	BUILD=$(BUILD) bash selftests/pkg/test_deb.sh

# make deps && make test (T=NAME: make test T=NAME) in a fresh Debian 12
# minbase chroot, on a clean clone of HEAD (root; tools/minbase-test.sh --help)
.PHONY: test-minbase
test-minbase:
	BUILD=$(BUILD) bash tools/minbase-test.sh $(if $(T),--only '$(T)')

clean:
	rm -rf $(BUILD)

# dependency files only: not directories named *.d, nor whatever a test's
# chroot under $(BUILD) holds (its mounts stay unwalked: -xdev, pruned)
-include $(shell find $(BUILD) -xdev \( -name '*minbase*' -prune \) -o -name '*.d' -type f -print 2>/dev/null)
