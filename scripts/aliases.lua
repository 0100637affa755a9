-- The alias index: each shipped tool's aliases (names of the earlier
-- Python toolset), so `vnetscope ALIAS` finds the tool without loading
-- every script. Keep it equal to each script's own `aliases` field: the
-- registry tests fail when the two differ. Data only: it is read with no
-- globals, so it cannot call or require anything.
return {
  ["drop-details"] = { "eth_drop" },
  ["drop-summary"] = { "kernel_drop_stack_stats_summary_all", "kernel_drop_stack_stats_summary" },
  ["latency-details"] = { "system_network_latency_details", "system_network_perfomance_metrics" },
  ["latency-summary"] = { "system_network_latency_summary" },
  ["qdisc-drop"] = { "qdisc_drop_trace" },
  ["vm-latency-details"] = { "vm_network_latency_details", "vm_network_performance_metrics" },
  ["vm-latency-summary"] = { "vm_network_latency_summary" },
  ["vm-pair-latency"] = { "vm_pair_latency" },
}
