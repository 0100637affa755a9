#include "kheaders_tree.h"

#include "btfdump.h"
#include "kconfig.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Include guards of the uapi headers BCC's helpers.h pulls in. vmlinux.h
 * already has their types; a second definition would be an error. */
static const char *const kheaders_guards[] = {
    "_UAPI__LINUX_BPF_H__",    "_UAPI__LINUX_BPF_COMMON_H__", "__LINUX_BPF_COMMON_H__",
    "_UAPI_LINUX_PTRACE_H",    "_UAPI__LINUX_IF_PACKET_H",    "_UAPI_LINUX_IF_ETHER_H",
    "_UAPI_LINUX_IP_H",        "_UAPI_LINUX_IPV6_H",          "_UAPI_LINUX_TCP_H",
    "_UAPI_LINUX_UDP_H",       "_UAPI_LINUX_IN_H",            "_UAPI_LINUX_IN6_H",
};

/* #defines of a kernel build that BTF cannot carry (it keeps types and
 * enums only) and that BCC's helpers or small network programs use. Each
 * is written under #ifndef of its name (the text up to ' ' or '('). */
static const char *const kheaders_macros[] = {
    "NULL ((void *)0)", "offsetof(t, m) __builtin_offsetof(t, m)",
    "__always_inline inline __attribute__((always_inline))",
    "likely(x) __builtin_expect(!!(x), 1)", "unlikely(x) __builtin_expect(!!(x), 0)",
    "PERF_MAX_STACK_DEPTH 127", "TASK_COMM_LEN 16", "IFNAMSIZ 16", "ETH_ALEN 6", "ETH_HLEN 14",
    "VLAN_HLEN 4", "ETH_P_ALL 0x0003", "ETH_P_IP 0x0800", "ETH_P_ARP 0x0806",
    "ETH_P_8021Q 0x8100", "ETH_P_8021AD 0x88A8", "ETH_P_IPV6 0x86DD", "ETH_P_MPLS_UC 0x8847",
    "AF_UNIX 1", "AF_INET 2", "AF_INET6 10", "AF_NETLINK 16", "AF_PACKET 17",
    "IPPROTO_ICMPV6 58", "TC_ACT_OK 0", "TC_ACT_SHOT 2", "htons(x) __vns_be16(x)",
    "ntohs(x) __vns_be16(x)", "htonl(x) __vns_be32(x)", "ntohl(x) __vns_be32(x)",
    "cpu_to_be16(x) __vns_be16(x)", "be16_to_cpu(x) __vns_be16(x)",
    "cpu_to_be32(x) __vns_be32(x)", "be32_to_cpu(x) __vns_be32(x)",
    "cpu_to_be64(x) __vns_be64(x)", "be64_to_cpu(x) __vns_be64(x)",
    /* Already set unless the config was unreadable; a kernel with BTF
     * has BPF, and BCC's helpers.h stops with #error without it. */
    "CONFIG_BPF_SYSCALL 1",
};

/* The kernel's byte order helpers are macros and inline functions, which
 * BTF does not keep; programs use them on every packet field. */
static const char kheaders_byteorder[] =
    "#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__\n"
    "#define __vns_be16(x) __builtin_bswap16((__u16)(x))\n"
    "#define __vns_be32(x) __builtin_bswap32((__u32)(x))\n"
    "#define __vns_be64(x) __builtin_bswap64((__u64)(x))\n"
    "#else\n"
    "#define __vns_be16(x) ((__u16)(x))\n"
    "#define __vns_be32(x) ((__u32)(x))\n"
    "#define __vns_be64(x) ((__u64)(x))\n"
    "#endif\n";

/* Headers (under include/) that become comment-only files: BCC's helpers
 * include the first ones, ad-hoc programs the rest, and vmlinux.h already
 * declares everything they would. Extend here. */
static const char *const kheaders_stubs[] = {
    "linux/types.h", "uapi/linux/ptrace.h", "uapi/linux/if_packet.h",
    "uapi/linux/if_ether.h", "uapi/linux/bpf.h", "linux/bpf_common.h",
    "uapi/linux/ip.h", "uapi/linux/ipv6.h", "uapi/linux/tcp.h", "uapi/linux/udp.h",
    "uapi/linux/in.h", "linux/skbuff.h", "linux/netdevice.h", "linux/ip.h",
    "linux/ipv6.h", "linux/tcp.h", "linux/udp.h", "linux/icmp.h", "linux/icmpv6.h",
    "linux/if_vlan.h", "linux/if_ether.h", "linux/in.h", "linux/in6.h",
    "linux/sched.h", "linux/socket.h", "linux/ptrace.h", "linux/bpf.h",
    "linux/netfilter.h", "linux/netfilter_ipv4.h", "linux/netfilter/x_tables.h",
    "linux/virtio_net.h", "linux/if_tun.h", "linux/kvm_host.h", "linux/blkdev.h",
    "linux/fs.h", "linux/mm.h", "net/sock.h", "net/inet_sock.h", "net/ip.h",
    "net/ipv6.h", "net/tcp.h", "net/udp.h", "net/dst.h", "net/net_namespace.h",
    "net/sch_generic.h", "net/flow_dissector.h",
};

static const char kheaders_stub_text[] =
    "/* vnetscope: stub; the kernel types come from vmlinux.h (BTF). */\n";

int kh_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  if (err && errlen)
    vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return rc;
}

/* Create root/include/rel (and its parents) for writing. */
static FILE *kh_create(struct khbuild *b, const char *rel, char *path, size_t len)
{
  snprintf(path, len, "%s/include/%s", b->root, rel);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  int rc = util_mkdirs(path);
  *slash = '/';
  if (rc) {
    kh_fail(b->err, b->errlen, rc, "%s: %s", path, strerror(-rc));
    return NULL;
  }
  FILE *f = fopen(path, "w");
  if (!f)
    kh_fail(b->err, b->errlen, -errno, "%s: %s", path, strerror(errno));
  return f;
}

/* A failed write leaves its errno (ENOSPC on a full cache directory). */
static int kh_close(struct khbuild *b, FILE *f, const char *path, int rc)
{
  int bad = ferror(f) ? (errno ? errno : EIO) : 0;
  if (fclose(f) && !bad)
    bad = errno ? errno : EIO;
  if (bad)
    rc = rc ? rc : -bad;
  if (rc)
    kh_fail(b->err, b->errlen, rc, "%s: %s", path, strerror(-rc));
  return rc;
}

static int kh_write_text(struct khbuild *b, const char *rel, const char *text)
{
  char path[4300];
  FILE *f = kh_create(b, rel, path, sizeof path);
  if (!f)
    return -EIO;
  fputs(text, f);
  return kh_close(b, f, path, 0);
}

static int kh_write_vmlinux(struct khbuild *b)
{
  char path[4300];
  FILE *f = kh_create(b, "vmlinux.h", path, sizeof path);
  if (!f)
    return -EIO;
  int rc = btfdump_write(b->env->btf_path, f);
  if (!rc || ferror(f))  /* the output failed, not the BTF: say where */
    return kh_close(b, f, path, 0);
  kh_close(b, f, path, rc);
  if (rc)
    kh_fail(b->err, b->errlen, rc, "%s: dumping BTF types: %s", b->env->btf_path,
            strerror(-rc));
  return rc;
}

/* A missing config leaves autoconf.h empty: CONFIG_ tests in programs
 * then see every option unset, which is the safe reading. */
static int kh_write_autoconf(struct khbuild *b)
{
  char path[4300];
  const char *source = NULL;
  FILE *f = kh_create(b, "generated/autoconf.h", path, sizeof path);
  if (!f)
    return -EIO;
  FILE *in = kconfig_open(b->env->release, &source);
  int rc = 0;
  if (in) {
    fprintf(f, "/* Generated by vnetscope from %s. */\n", source);
    rc = kconfig_to_autoconf(in, f) < 0 ? -EIO : 0;
    fclose(in);
  } else {
    fputs("/* No kernel config found: every CONFIG_ option reads as unset. */\n", f);
  }
  rc = kh_close(b, f, path, rc);
  if (rc && source)
    kh_fail(b->err, b->errlen, rc, "%s: converting to %s: %s", source, path, strerror(-rc));
  return rc;
}

static int kh_write_kconfig(struct khbuild *b)
{
  char path[4300];
  FILE *f = kh_create(b, "linux/kconfig.h", path, sizeof path);
  if (!f)
    return -EIO;
  fputs("/* Generated by vnetscope: BCC force-includes this first. */\n"
        "#include <generated/autoconf.h>\n"
        "#define BPF_NO_PRESERVE_ACCESS_INDEX\n"
        "#include <vmlinux.h>\n\n",
        f);
  fputs(kheaders_byteorder, f);
  for (size_t i = 0; i < sizeof kheaders_guards / sizeof kheaders_guards[0]; i++)
    fprintf(f, "#define %s\n", kheaders_guards[i]);
  for (size_t i = 0; i < sizeof kheaders_macros / sizeof kheaders_macros[0]; i++) {
    const char *def = kheaders_macros[i];
    fprintf(f, "#ifndef %.*s\n#define %s\n#endif\n", (int)strcspn(def, " ("), def, def);
  }
  return kh_close(b, f, path, 0);
}

/* LINUX_VERSION_CODE packs a.b.c into one int; c saturates at 255 as in
 * the kernel's own KERNEL_VERSION since 4.9.256. */
static int kh_write_version(struct khbuild *b)
{
  unsigned a = 0, m = 0, c = 0;
  char text[512];
  sscanf(b->env->release, "%u.%u.%u", &a, &m, &c);
  snprintf(text, sizeof text,
           "#define LINUX_VERSION_CODE %u\n"
           "#define KERNEL_VERSION(a,b,c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))\n",
           (a << 16) + (m << 8) + (c > 255 ? 255 : c));
  return kh_write_text(b, "generated/uapi/linux/version.h", text);
}

static int kh_write_page(struct khbuild *b)
{
  long size = sysconf(_SC_PAGESIZE);
  unsigned shift = 0;
  char text[256];
  while (size > 1 && (1L << (shift + 1)) <= size)
    shift++;
  snprintf(text, sizeof text,
           "#define PAGE_SHIFT %u\n#define PAGE_SIZE (1UL << PAGE_SHIFT)\n", shift ? shift : 12);
  return kh_write_text(b, "asm/page.h", text);
}

/* BPF_STACK_TRACE sizes its map with roundup_pow_of_two in a static
 * initializer, so this must stay a constant expression. */
static int kh_write_log2(struct khbuild *b)
{
  return kh_write_text(b, "linux/log2.h",
                       "#define roundup_pow_of_two(n) ((unsigned long)(n) <= 1 ? 1UL : "
                       "1UL << (64 - __builtin_clzl((unsigned long)(n) - 1)))\n");
}

static int kh_write_stubs(struct khbuild *b)
{
  int rc = 0;
  for (size_t i = 0; i < sizeof kheaders_stubs / sizeof kheaders_stubs[0] && !rc; i++)
    rc = kh_write_text(b, kheaders_stubs[i], kheaders_stub_text);
  return rc;
}

/* .complete goes last: a tree without it is never used. */
int kh_write_tree(struct khbuild *b)
{
  int (*const steps[])(struct khbuild *) = {
      kh_write_vmlinux, kh_write_autoconf, kh_write_kconfig, kh_write_version,
      kh_write_page,    kh_write_log2,     kh_write_stubs,
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    int rc = steps[i](b);
    if (rc)
      return rc;
  }
  char path[4300];
  snprintf(path, sizeof path, "%s/.complete", b->root);
  FILE *f = fopen(path, "w");
  if (!f)
    return kh_fail(b->err, b->errlen, -errno, "%s: %s", path, strerror(errno));
  fprintf(f, "%s\n", KHEADERS_LAYOUT);
  return kh_close(b, f, path, 0);
}
