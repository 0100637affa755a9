/* vns/tp.h: thin tracepoint entry points, raw where the kernel has raw
 * tracepoints (4.17+), classic (TRACEPOINT_PROBE) otherwise.
 *
 * A raw tracepoint program gets the tracepoint's arguments (its
 * TP_PROTO) in ctx->args[]; a classic one gets a record the kernel fills
 * with every format field on every hit, which costs more. The stdlib
 * (vns.tracepoint) chooses per tracepoint and writes, where the template
 * says {{ TRACEPOINTS }}, the definitions these macros expand to:
 *
 *   VNS_TP(skb, kfree_skb)             opens the probe function
 *   {
 *     return drop(VNS_CTX(kfree_skb),  the ctx for helpers (stack ids...)
 *                 VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, location),
 *                 VNS_ARG(kfree_skb, reason));  0 where this kernel lacks it
 *   }
 *
 * An argument of vns.tracepoint's table this kernel does not pass is 0,
 * and VNS_HAS_ARG(name, arg) is 0 for it (for an #if where 0 is not enough).
 *
 * Each entry only forwards to one static __always_inline worker, so both
 * families are the same program but for how arguments are fetched.
 * VNS_TP_IS_RAW(kfree_skb) is 1 when the entry is a raw tracepoint. */
#ifndef VNS_TP_H
#define VNS_TP_H

#define VNS_TP(cat, name) VNS_TP_ENTRY_##name
#define VNS_CTX(name) VNS_TP_CTX_##name
#define VNS_ARG(name, arg) VNS_TP_ARG_##name##_##arg
#define VNS_HAS_ARG(name, arg) VNS_TP_HAS_##name##_##arg
#define VNS_TP_IS_RAW(name) VNS_TP_RAW_##name

#endif
