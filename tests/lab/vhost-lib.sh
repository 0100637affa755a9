# vhost-lib.sh: helpers of the lab tests that drive vhost-net with the
# userspace driver tests/lab/fixtures/vhost-fixture.c (built static on the
# host by run-suite.sh into BUILD/lab-fixtures/). Source after lib.sh.

# The fixture's binary, next to the vnetscope under test.
VHOST_FIXTURE=$(dirname "$VNS")/lab-fixtures/vhost-fixture

need_vhost_fixture() {
  [ -x "$VHOST_FIXTURE" ] || skip "no $VHOST_FIXTURE (tests/lab/run-suite.sh builds it)"
  [ -c /dev/vhost-net ] || skip "no /dev/vhost-net"
}

# vhost_tap NS DEV QLEN: a persistent tap with a vnet header in NS,
# txqueuelen QLEN (its tx_ring's size), IPv6 off, up.
vhost_tap() {
  ip netns exec "$1" ip tuntap add dev "$2" mode tap vnet_hdr || fail "cannot create tap $2"
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" >/dev/null
  ip -n "$1" link set "$2" txqueuelen "$3" up
}

# tx_dropped NS DEV: the device's TX dropped as `ip -s link` shows it.
tx_dropped() {
  ip -n "$1" -s -j link show "$2" | lua5.4 -e 'local s = io.read("a"); print(s:match([["tx":%b{}]]):match([["dropped":(%d+)]]))'
}

# rx_dropped NS DEV: the same for RX.
rx_dropped() {
  ip -n "$1" -s -j link show "$2" | lua5.4 -e 'local s = io.read("a"); print(s:match([["rx":%b{}]]):match([["dropped":(%d+)]]))'
}

# vhost_run TAG NS DEV ARGS...: the fixture on DEV in NS, in the
# foreground (its ARGS bound it with --seconds); output in TAG.fix.
vhost_run() {
  local tag=$1 ns=$2 dev=$3
  shift 3
  ip netns exec "$ns" timeout 120 "$VHOST_FIXTURE" "$dev" "$@" >"$CASE_DIR/$tag.fix" 2>&1 ||
    fail "vhost-fixture $*: $(head -c 400 "$CASE_DIR/$tag.fix")"
}

# fixture_fact TAG NAME: a "NAME N" line of the fixture's output.
fixture_fact() { sed -n "s/^$2 //p" "$CASE_DIR/$1.fix" | tail -1; }
