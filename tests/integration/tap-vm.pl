#!/usr/bin/perl
# tap-vm.pl DEV SRCMAC SRCIP RXPORT: plays a VM behind a tap device.
# Opens DEV (IFF_TAP | IFF_NO_PI, made if absent), prints "ready", then
# takes commands on stdin, one a line:
#   send DSTMAC DSTIP DPORT COUNT   write COUNT IPv4/UDP frames
#   quit                            print "frames N" and exit
# and meanwhile counts the IPv4/UDP frames to RXPORT it reads (N).
use strict;
use warnings;
use Socket qw(inet_aton);

my ($dev, $smac, $sip, $rxport) = @ARGV;
open(my $tun, "+<", "/dev/net/tun") or die "/dev/net/tun: $!\n";
ioctl($tun, 0x400454ca, pack("a16 s", $dev, 0x0002 | 0x1000)) or die "TUNSETIFF: $!\n";
$| = 1;
print "ready\n";

sub csum {
  my $sum = 0;
  $sum += $_ for unpack("n*", $_[0]);
  $sum = ($sum & 0xffff) + ($sum >> 16) while $sum >> 16;
  return ~$sum & 0xffff;
}

sub mac { pack("H12", join("", split(/:/, $_[0]))) }

my $id = 0;
sub send_frames {
  my ($dmac, $dip, $dport, $count) = @_;
  my $payload = "vm";
  my $udp = pack("nnnn", 40000, $dport, 8 + length $payload, 0) . $payload;
  for (1 .. $count) {
    my $ip = pack("CCnnnCCn a4 a4", 0x45, 0, 20 + length $udp, ++$id, 0x4000, 64, 17, 0,
                  inet_aton($sip), inet_aton($dip));
    substr($ip, 10, 2) = pack("n", csum($ip));
    syswrite($tun, mac($dmac) . mac($smac) . pack("n", 0x0800) . $ip . $udp) or die "write: $!\n";
  }
}

my ($n, $buf, $rin) = (0, "", "");
vec($rin, fileno($tun), 1) = 1;
vec($rin, fileno(STDIN), 1) = 1;
while (1) {
  next unless select(my $r = $rin, undef, undef, 0.5);
  if (vec($r, fileno(STDIN), 1)) {
    my $line = <STDIN>;
    last if !defined $line || $line =~ /^quit/;
    send_frames(split(" ", $1)) if $line =~ /^send (.*)/;
  }
  next unless vec($r, fileno($tun), 1) && sysread($tun, $buf, 65536);
  next unless length $buf >= 38 && unpack("n", substr($buf, 12, 2)) == 0x0800;
  my $ihl = (unpack("C", substr($buf, 14, 1)) & 15) * 4;
  next unless unpack("C", substr($buf, 23, 1)) == 17;
  $n++ if unpack("n", substr($buf, 14 + $ihl + 2, 2)) == $rxport;
}
print "frames $n\n";
