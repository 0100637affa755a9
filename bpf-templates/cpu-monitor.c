/* cpu-monitor: what the CPUs are running, sampled. A perf event (the
 * software CPU clock, --freq per second) on each monitored CPU counts
 * the task and its kernel and user stacks; user space reads /proc/stat
 * for each CPU's utilisation and shows the samples of the CPUs that were
 * above --threshold in the interval. */
#include <vns/common.h>

struct sample_key {
  u32 cpu;
  u32 tgid;
  u32 tid;
  s32 kstack;
  s32 ustack;
  u32 pad;
  char comm[16];
};

BPF_HASH(samples, struct sample_key, u64, {{ MAX_KEYS }});
BPF_STACK_TRACE(stacks, {{ STACK_STORAGE }});
/* samples not counted: the map was full */
BPF_PERCPU_ARRAY(lost, u64, 1);

int on_sample(struct bpf_perf_event_data *ctx)
{
  struct sample_key k = {};
  u64 id = bpf_get_current_pid_tgid();
  k.cpu = bpf_get_smp_processor_id();
  k.tgid = id >> 32;
  k.tid = (u32)id;
  k.kstack = stacks.get_stackid(ctx, 0);
  /* the idle task (and kernel threads) have no user stack */
  k.ustack = k.tid == 0 ? -1 : stacks.get_stackid(ctx, BPF_F_USER_STACK);
  bpf_get_current_comm(k.comm, sizeof(k.comm));
  u64 none = 0, *n = samples.lookup_or_try_init(&k, &none);
  if (n) {
    __sync_fetch_and_add(n, 1);
  } else {
    u32 zero = 0;
    u64 *l = lost.lookup(&zero);
    if (l)
      (*l)++;
  }
  return 0;
}
