/* vns/ovs_layout.h: the parts of net/openvswitch's private structs the
 * OVS tools read (datapath.h, flow_netlink.h: no exported header has
 * them). The same from 4.19 to 6.1; checked against the openvswitch
 * module's BTF where it exists (stdlib/vns/virtlayout.lua: a
 * _Static_assert per member read, so a wrong description fails the
 * compile instead of reading garbage). Checked: 6.1 (BTF). Described
 * from the sources: 4.19, 5.10 (no module BTF there). */
#ifndef VNS_OVS_LAYOUT_H
#define VNS_OVS_LAYOUT_H

#include <vns/common.h>

/* struct dp_upcall_info (datapath.h): what ovs_dp_upcall sends. */
struct vns_dp_upcall_info {
  void *egress_tun_info;
  const void *userdata;
  const void *actions;
  int actions_len;
  u32 portid;       /* the handler's netlink port; 0: nobody listens */
  u8 cmd;           /* OVS_PACKET_CMD_MISS or _ACTION */
  u16 mru;
};

/* struct sw_flow_actions (flow_netlink.h): a flow's action list. */
struct vns_sw_flow_actions {
  struct callback_head rcu;   /* struct rcu_head */
  size_t orig_len;
  u32 actions_len;  /* 0: the flow drops what it matches */
};

/* struct sw_flow_key (flow.h): the flow key the datapath extracted for a
 * packet (and after each recirculation); only what the tools read:
 * tun_key (struct ip_tunnel_key) is 56 bytes 4.19-6.1, phy is packed. */
struct vns_sw_flow_key {
  u8 tun_opts[256];     /* tun_opts[255], tun_opts_len */
  u8 tun_key[56];
  u8 phy[10];           /* priority, skb_mark, in_port */
  u8 mac_proto;
  u8 tun_proto;
  u32 ovs_flow_hash;
  u32 recirc_id;        /* 0: the packet's first pass */
  u8 eth[22];
  u8 ct_state;          /* OVS_CS_F_* of the last ct() */
};

/* struct ovs_conntrack_info (conntrack.c): a ct() action's arguments. */
struct vns_ovs_conntrack_info {
  void *helper;
  u32 zone;         /* struct nf_conntrack_zone */
  void *ct;
  u8 flags;         /* bitfields from bit 0: commit, nat (3), force, have_eventmask */
};
#define VNS_OVS_CT_COMMIT 1

/* include/uapi/linux/openvswitch.h */
#define VNS_OVS_PACKET_CMD_MISS 1

#endif
