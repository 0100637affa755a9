#!/usr/bin/env bash
# save-tracefs.sh DEST [BTFDEST]: copy this kernel's tracepoint formats
# (tracefs events/CATEGORY/NAME/format) to DEST, for `vnetscope compile
# --tracefs DEST` on another host; and, with BTFDEST, its BTF (vmlinux
# and the virtualization modules', where the kernel has them) there, for
# the layout checks of such compiles (VNETSCOPE_BTF_DIR, vns.virtlayout). Run in the guest by run-suite.sh. One perl
# process: a cat per file takes minutes under emulation, and tar or cp
# copy nothing (tracefs files have size 0).
set -euo pipefail
dest=$1
btfdest=${2:-}
events=/sys/kernel/tracing/events
[ -d "$events/skb" ] || mount -t tracefs tracefs /sys/kernel/tracing
# kvm's tracepoints and BTF exist only while it is loaded (kvm-irqfd):
# with -cpu max the emulated CPU has svm.
modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null || true
rm -rf "$dest"
perl -MFile::Path=make_path -e '
  my ($events, $dest) = @ARGV;
  my $n = 0;
  for my $f (glob "$events/*/*/format") {
    (my $rel = $f) =~ s{^\Q$events\E/}{};
    (my $dir = "$dest/$rel") =~ s{/format$}{};
    make_path($dir);
    open(my $in, "<", $f) or die "$f: $!\n";
    local $/;
    my $text = <$in>;
    open(my $out, ">", "$dest/$rel") or die "$dest/$rel: $!\n";
    print $out $text;
    close($out) or die "$dest/$rel: $!\n";
    $n++;
  }
  print "saved $n tracepoint formats of ", `uname -r`;
' "$events" "$dest"
if [ -n "$btfdest" ]; then
  rm -rf "$btfdest"
  mkdir -p "$btfdest"
  for m in vmlinux tun tap macvtap vhost vhost_net kvm kvm_amd kvm_intel openvswitch; do
    [ -r "/sys/kernel/btf/$m" ] && cat "/sys/kernel/btf/$m" >"$btfdest/$m"
  done
  echo "saved BTF of: $(ls "$btfdest" | tr '\n' ' ')"
fi
