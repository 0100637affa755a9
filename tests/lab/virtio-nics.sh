# virtio-nics.sh: sourced by the lab's virtio-net tests (t_virtio_*.sh).
# The guest's two virtio-net NICs, joined by qemu's hub, each moved into
# a namespace of its own: NIC_A (10.231.7.1) in NS_A, NIC_B (10.231.7.2)
# in NS_B, static neighbours both ways and IPv6 off, so no packet moves
# unless a test sends it. VIRTIO_A/VIRTIO_B: their virtio devices.

# nic_by_mac MAC: the guest's device with this address. A namespace the
# previous case deleted gives its NICs back to the guest asynchronously
# (the kernel's netns cleanup work), so wait for them, up to 10 s.
nic_by_mac() {
  local d i
  for i in $(seq 100); do
    for d in /sys/class/net/*; do
      [ "$(cat "$d/address")" = "$1" ] && { echo "${d##*/}"; return 0; }
    done
    sleep 0.1
  done
  fail "no NIC with address $1"
}

# shellcheck disable=SC2034 # for the test files
virtio_nics() {
  NIC_A=$(nic_by_mac 52:54:00:00:07:01) NIC_B=$(nic_by_mac 52:54:00:00:07:02)
  VIRTIO_A=$(basename "$(readlink "/sys/class/net/$NIC_A/device")")
  VIRTIO_B=$(basename "$(readlink "/sys/class/net/$NIC_B/device")")
  IP_A=10.231.7.1 IP_B=10.231.7.2
  NS_A=${PFX}a NS_B=${PFX}b
  ns_new "$NS_A"
  ns_new "$NS_B"
  ip link set "$NIC_A" netns "$NS_A" && ip link set "$NIC_B" netns "$NS_B" || fail "cannot move the NICs"
  ip netns exec "$NS_A" sysctl -qw "net.ipv6.conf.$NIC_A.disable_ipv6=1" >/dev/null
  ip netns exec "$NS_B" sysctl -qw "net.ipv6.conf.$NIC_B.disable_ipv6=1" >/dev/null
  link_pair "$NS_A" "$NIC_A" 52:54:00:00:07:01 "$NS_B" "$NIC_B" 52:54:00:00:07:02 10.231.7
  sleep 1   # links up, queues settled
}

rx_packets() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"; }

# irq_count NAME: the total over every CPU of the IRQ named NAME in
# /proc/interrupts (virtio1-input.0), and its number in IRQ_OF_<...>.
irq_count() {
  awk -v name="$1" '$NF == name { n = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; else break; print n }' /proc/interrupts
}

irq_number() {
  awk -v name="$1" '$NF == name { sub(":", "", $1); print $1 }' /proc/interrupts
}
