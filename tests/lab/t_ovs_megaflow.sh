#!/usr/bin/env bash
# Lab: ovs-megaflow against the datapath's own flow table.
#  - megaflows on: one ping through a NORMAL bridge installs wildcarded
#    megaflows (masks); the tool's key/mask/actions are what
#    `ovs-appctl dpctl/dump-flows` shows.
#  - megaflows off, flows flushed: N new UDP flows (IPv4, IPv6) make
#    exactly N upcalls and N installed megaflows, one upcall each (in
#    the report and in --details rows); every flow of the datapath is
#    shown as dump-flows shows it, and the upcalls of every flow are the
#    datapath's "missed" (ovs-dpctl show).
# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=ovs-lib.sh
. "$(dirname "$0")/ovs-lib.sh"

UDP4=4 UDP6=3
PINGER=$TESTS_DIR/../lab/fixtures/pinger.pl

# dump_flows: the datapath's flows as "KEY, actions:ACTIONS", sorted.
dump_flows() {
  { ovs-appctl dpctl/dump-flows --no-names 2>/dev/null || ovs-appctl dpctl/dump-flows; } |
    sed -E 's/, packets:.*, actions:/, actions:/' | sort
}

# megaflows_of TAG: the megaflows of the tool's final report in the same
# form. Left out: flows installed before the tool started and deleted by
# vswitchd's revalidator while it ran ("(no key)": their install was not
# seen), which the datapath no longer holds.
megaflows_of() {
  awk '/^Total since start/ {on = 1; next} on && /^ufid:/' "$CASE_DIR/$1.out" | sed -E 's/^ufid:[^ ]+ //' |
    grep -v '^(no key)' | sort
}

# expect_same_lines WHAT A B: the two files hold the same lines.
expect_same_lines() {
  cmp -s "$2" "$3" || fail "$1: they differ: $(diff "$2" "$3" | head -c 1500)"
}

# upcall_line TAG: the final "upcalls of the filtered flows" line.
upcall_line() { grep '^upcalls of the filtered flows' "$CASE_DIR/$1.out" | tail -1; }

case_megaflows() {
  need_root
  need_cmd ovs-vsctl
  ovs_cleanup_on_exit
  ovs_ports m 10.231.13
  ovs_ipv6 fd00:231:13
  ovs_bridge "${PFX}br"
  # Flows stay until the test has dumped them (the default idle is 10 s).
  ovs-vsctl set Open_vSwitch . other_config:max-idle=120000 || fail "cannot set max-idle"
  echo "ovs-vsctl remove Open_vSwitch . other_config max-idle" >>"$CASE_DIR/cleanup"
  tool_start all ovs-megaflow -i 600 -d 900
  wait_ready all
  local missed=$(ovs_lookups system@ovs-system missed)
  ovs-dpctl del-flows system@ovs-system || fail "cannot flush the datapath's flows"
  timeout 60 ip netns exec "$NS_A" perl "$PINGER" 10.231.13.2 1 >"$CASE_DIR/ping.out" 2>&1 ||
    fail "pinger: $(tail -3 "$CASE_DIR/ping.out")"
  settle
  dump_flows >"$CASE_DIR/dump1.out"

  ovs-appctl upcall/disable-megaflows >/dev/null || fail "cannot disable megaflows"
  echo "ovs-appctl upcall/enable-megaflows" >>"$CASE_DIR/cleanup"
  ovs-dpctl del-flows system@ovs-system || fail "cannot flush the datapath's flows"
  tool_start udp4 ovs-megaflow --proto udp --src-ip 10.231.13.1 --dst-ip 10.231.13.2 --details -i 600 -d 900
  tool_start udp6 ovs-megaflow --proto udp --src-ip fd00:231:13::1 --dst-ip fd00:231:13::2 -i 600 -d 900
  wait_ready udp4
  wait_ready udp6
  send_udp "$NS_A" 10.231.13.2 9999 "$UDP4"
  send_udp "$NS_A" fd00:231:13::2 9999 "$UDP6"
  settle
  dump_flows >"$CASE_DIR/dump2.out"
  missed=$(($(ovs_lookups system@ovs-system missed) - missed))
  tool_stop all INT
  tool_stop udp4 INT
  tool_stop udp6 INT

  local v4='ipv4(src=10.231.13.1,dst=10.231.13.2,proto=17'
  sort "$CASE_DIR/dump1.out" "$CASE_DIR/dump2.out" >"$CASE_DIR/dumped"
  megaflows_of all >"$CASE_DIR/shown"
  grep -F "$v4" "$CASE_DIR/dump2.out" >"$CASE_DIR/dumped4"
  megaflows_of udp4 >"$CASE_DIR/shown4"
  expect_eq "upcalls (every flow) = the datapath's missed" "$missed" \
    "$(upcall_line all | sed -n 's/^upcalls of the filtered flows: \([0-9]*\) .*/\1/p')"
  expect_eq "IPv4 UDP datapath flows" "$UDP4" "$(wc -l <"$CASE_DIR/dumped4")"
  expect_eq "IPv4 UDP megaflows" "$UDP4" "$(wc -l <"$CASE_DIR/shown4")"
  expect_eq "IPv6 UDP megaflows" "$UDP6" "$(megaflows_of udp6 | wc -l)"
  expect_match "IPv4: each megaflow installed once for one upcall" \
    "^upcalls of the filtered flows: $UDP4 \($UDP4 led to an install, 0 waiting\)" "$(upcall_line udp4)"
  expect_match "IPv6: each megaflow installed once for one upcall" \
    "^upcalls of the filtered flows: $UDP6 \($UDP6 led to an install, 0 waiting\)" "$(upcall_line udp6)"
  expect_eq "IPv4 megaflows with 1 upcall and 1 install" "$UDP4" \
    "$(grep -c '^    upcalls 1  installs 1  modifies 0  deletes 0' "$CASE_DIR/udp4.out")"
  expect_same_lines "IPv4 megaflows as dump-flows shows them" "$CASE_DIR/dumped4" "$CASE_DIR/shown4"
  # --details: one row per install, its upcall, the flow as dump-flows shows it.
  awk '$2 == "install"' "$CASE_DIR/udp4.out" | sed -E 's/.* ufid:[^ ]+ //' | sort >"$CASE_DIR/rows4"
  expect_same_lines "IPv4 install rows (--details) as dump-flows shows them" "$CASE_DIR/dumped4" "$CASE_DIR/rows4"
  expect_eq "IPv4 install rows with 1 upcall" "$UDP4" "$(awk '$2 == "install" && $3 == 1' "$CASE_DIR/udp4.out" | wc -l)"
  expect_same_lines "every megaflow (wildcarded, then exact) as dump-flows shows it" "$CASE_DIR/dumped" \
    "$CASE_DIR/shown"
  expect_match "the datapath flush seen" "^datapath flushes \(every flow deleted\): [1-9]" "$(out_of all)"
}

run_case "lab: ovs-megaflow: N new flows, N upcalls, N megaflows as dpctl/dump-flows shows them" case_megaflows
finish
