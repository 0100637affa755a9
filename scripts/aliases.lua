-- The alias index: each shipped tool's aliases (names of the earlier
-- Python toolset), so `vnetscope ALIAS` finds the tool without loading
-- every script. Keep it equal to each script's own `aliases` field: the
-- registry tests fail when the two differ. Data only: it is read with no
-- globals, so it cannot call or require anything.
return {
  ["drop-details"] = { "eth_drop" },
  ["drop-summary"] = { "kernel_drop_stack_stats_summary_all", "kernel_drop_stack_stats_summary" },
  ["futex-latency"] = { "futex", "futex.bt" },
  ["lock-latency"] = { "pthread_rwlock_wrlock", "pthread_rwlock_wrlock.bt", "pthread_rwlock_wrlock-stack",
                       "pthread_rwlock_wrlock-stack.bt" },
  ["qdisc-drop"] = { "qdisc_drop_trace" },
  ["offcpu"] = { "offcputime-ts" },
  ["sched-latency"] = { "sched_latency_monitor", "sched_latency_monitor.sh" },
  ["cpu-monitor"] = { "cpu_monitor", "cpu_monitor.sh" },
  ["skb-trace"] = { "tun-abnormal-gso-type", "trace-qdisc-dequeue", "trace_dev_queue_xmit", "trace_tc_qdisc",
                    "trace_offloading_segment", "trace_vlanvm_udp_workload", "vpc-vm-udp-datapath",
                    "trace-abnormal-arp" },
  ["virtio-irq"] = { "virtnet_irq_monitor" },
  ["virtio-queues"] = { "trace_int_final" },
  ["virtio-rx-path"] = { "virtionet-rx-path-monitor", "virtionet-rx-path-summary", "trace_virtio_net_rcvbuf" },
  ["napi-poll"] = { "virtnet_poll_monitor", "virtnet_poll_stack_stats" },
  ["tun-ring"] = { "tun_ring_monitor", "tun-tx-ring-stas" },
  ["vhost-buf-peek"] = { "vhost_buf_peek_stats" },
  ["vhost-signals"] = { "vhost_eventfd_count" },
  ["kvm-irqfd"] = { "kvm_irqfd_stats_summary", "kvm_irqfd_stats_summary_arm" },
  ["icmp-rtt"] = { "system_network_icmp_rtt", "kernel_icmp_rtt" },
  ["qdisc-drop"] = { "qdisc_drop_trace" },
  ["qdisc-latency-details"] = { "qdisc_lateny_details" },
}
