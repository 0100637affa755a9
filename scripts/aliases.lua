-- The alias index: each shipped tool's aliases (names of the earlier
-- Python toolset), so `vnetscope ALIAS` finds the tool without loading
-- every script. Keep it equal to each script's own `aliases` field: the
-- registry tests fail when the two differ. Data only: it is read with no
-- globals, so it cannot call or require anything.
return {
  ["drop-details"] = { "eth_drop" },
  ["drop-summary"] = { "kernel_drop_stack_stats_summary_all", "kernel_drop_stack_stats_summary" },
  ["icmp-rtt"] = { "system_network_icmp_rtt", "kernel_icmp_rtt" },
  ["qdisc-drop"] = { "qdisc_drop_trace" },
  ["qdisc-latency-details"] = { "qdisc_lateny_details" },
}
