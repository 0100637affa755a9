#!/usr/bin/env bash
# make demo: run drop-summary on a workload made here, in two private
# network namespaces joined by a veth pair. Traffic stays inside them.
#   40 UDP datagrams to a port nobody listens on   -> NO_SOCKET
#   20 UDP datagrams to a port an nftables rule drops -> NETFILTER_DROP
set -euo pipefail
vns=${1:-build/vnetscope}
a=vnsdemo-a$$ b=vnsdemo-b$$
out=$(mktemp)

cleanup() {
  [ -n "${tool_pid:-}" ] && kill -INT "$tool_pid" 2>/dev/null && wait "$tool_pid" 2>/dev/null
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -f "$out"
}
trap cleanup EXIT

ip netns add "$a"
ip netns add "$b"
ip link add vnsdemo0 netns "$a" type veth peer name vnsdemo1 netns "$b"
for ns in "$a" "$b"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$a" addr add 10.231.99.1/24 dev vnsdemo0
ip -n "$b" addr add 10.231.99.2/24 dev vnsdemo1
ip -n "$a" link set vnsdemo0 up
ip -n "$b" link set vnsdemo1 up
ip netns exec "$b" nft -f - <<'NFT'
table inet vnsdemo {
  chain input { type filter hook input priority 0; udp dport 7777 drop; }
}
NFT

echo "demo: vnetscope drop-summary --dev vnsdemo1 --group-by location -i 2 -d 6"
"$vns" drop-summary --dev vnsdemo1 --group-by location -i 2 -d 6 | tee "$out" &
tool_pid=$!
for _ in $(seq 100); do grep -q "Hit Ctrl-C" "$out" 2>/dev/null && break; sleep 0.1; done

send() { ip netns exec "$a" bash -c "for i in \$(seq $1); do echo demo > /dev/udp/10.231.99.2/$2; done"; }
send 40 9999
send 20 7777
wait "$tool_pid"
tool_pid=
echo "demo: expected 40 NO_SOCKET and 20 NETFILTER_DROP drops on vnsdemo1"
