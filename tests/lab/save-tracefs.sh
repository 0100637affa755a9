#!/usr/bin/env bash
# save-tracefs.sh DEST: copy this kernel's tracepoint formats (tracefs
# events/CATEGORY/NAME/format) to DEST, for `vnetscope compile --tracefs
# DEST` on another host. Run in the guest by run-suite.sh. One perl
# process: a cat per file takes minutes under emulation, and tar or cp
# copy nothing (tracefs files have size 0).
set -euo pipefail
dest=$1
events=/sys/kernel/tracing/events
[ -d "$events/skb" ] || mount -t tracefs tracefs /sys/kernel/tracing
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
