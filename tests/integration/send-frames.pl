#!/usr/bin/perl
# send-frames.pl DEV < specs: crafted Ethernet frames from an AF_PACKET
# socket on DEV (the tests' sender; no 802.1Q module needed), one frame spec a line:
#   GROUP COUNT ip4|ip6|arp key=value...
# keys: src dst, l4 (tcp udp icmp icmp6 sctp), sport dport, type (ICMP),
# vlan=ID[,ID] (two: QinQ, the outer 802.1ad), opt=N (IPv4 option bytes),
# frag=N (IPv4 fragment offset, 8-byte units), ext=hop,dst,rt,frag,fragn
# (IPv6 extension headers; fragn: a fragment other than the first),
# op=N (ARP opcode, default 1; src and dst are the sender and target),
# bcast=1 (to ff:ff:ff:ff:ff:ff instead of 02:00:00:00:00:02).
# Checksums are not filled in: the frames are counted on arrival.
use strict;
use warnings;
use Socket qw(inet_pton AF_INET AF_INET6);

my $dev = shift or die "usage: send-frames DEV\n";
open(my $fh, '<', "/sys/class/net/$dev/ifindex") or die "no device $dev\n";
chomp(my $ifindex = <$fh>);
socket(my $s, 17, 3, 0) or die "AF_PACKET socket: $!\n";   # AF_PACKET, SOCK_RAW
my %l4num = (tcp => 6, udp => 17, icmp => 1, icmp6 => 58, sctp => 132);
my %ext = (hop => 0, rt => 43, frag => 44, fragn => 44, dst => 60);

sub l4 {
  my ($k) = @_;
  my $num = $l4num{$k->{l4} // 'udp'} // die "unknown l4\n";
  my $payload = "vnetscope";
  my ($sp, $dp) = ($k->{sport} // 1, $k->{dport} // 1);
  my $h = $num == 6 ? pack('nnNNnnnn', $sp, $dp, 1, 0, 0x5002, 512, 0, 0)
        : $num == 17 ? pack('nnnn', $sp, $dp, 8 + length $payload, 0)
        : $num == 132 ? pack('nnNN', $sp, $dp, 0, 0)
        : pack('CCnnn', $k->{type} // 8, 0, 0, 1, 1);
  return ($num, $h . $payload);
}

while (my $line = <STDIN>) {
  next if $line =~ /^\s*(#|$)/;
  my ($group, $count, $kind, @kv) = split ' ', $line;
  my %k = map { split /=/, $_, 2 } @kv;
  my ($type, $l3);
  if ($kind eq 'arp') {
    my ($spa, $tpa) = map { inet_pton(AF_INET, $_ // '0.0.0.0') } @k{qw(src dst)};
    ($type, $l3) = (0x0806, pack('nnCCn', 1, 0x0800, 6, 4, $k{op} // 1)
                    . pack('H12', sprintf('0200000000%02x', $group)) . $spa . ("\0" x 6) . $tpa);
  } elsif ($kind eq 'ip4') {
    my ($num, $rest) = l4(\%k);
    my $opt = "\x01" x ($k{opt} // 0);    # NOPs
    $type = 0x0800;
    $l3 = pack('CCnnnCCn', 0x45 + length($opt) / 4, 0, 20 + length($opt) + length($rest), 1,
               $k{frag} // 0, 64, $num, 0)
        . inet_pton(AF_INET, $k{src}) . inet_pton(AF_INET, $k{dst}) . $opt . $rest;
  } elsif ($kind eq 'ip6') {
    my ($num, $rest) = l4(\%k);
    my @ext = $k{ext} ? split(/,/, $k{ext}) : ();
    my $chain = '';
    for my $i (reverse 0 .. $#ext) {
      my $next = $i == $#ext ? $num : $ext{$ext[$i + 1]};
      if ($ext[$i] =~ /^frag/) {        # offset 8 (x 8 bytes) or 0 with more-fragments
        $chain = pack('CCnN', $next, 0, $ext[$i] eq 'fragn' ? (8 << 3) : 1, 7) . $chain;
      } elsif ($ext[$i] eq 'rt') {      # 24 bytes
        $chain = pack('CCCC', $next, 2, 0, 0) . ("\0" x 20) . $chain;
      } else {                          # 16 bytes: a PadN option
        $chain = pack('CCCC', $next, 1, 1, 12) . ("\0" x 12) . $chain;
      }
    }
    $type = 0x86dd;
    $l3 = pack('NnCC', 0x60000000, length($chain) + length($rest), @ext ? $ext{$ext[0]} : $num, 64)
        . inet_pton(AF_INET6, $k{src}) . inet_pton(AF_INET6, $k{dst}) . $chain . $rest;
  } else {
    die "unknown kind $kind\n";
  }
  my @vlan = $k{vlan} ? split(/,/, $k{vlan}) : ();
  my $tags = join '', map { pack('nn', (@vlan > 1 && $_ == 0) ? 0x88a8 : 0x8100, $vlan[$_]) } 0 .. $#vlan;
  my $frame = pack('H12H12', $k{bcast} ? 'ffffffffffff' : '020000000002', sprintf('0200000000%02x', $group)) . $tags . pack('n', $type) . $l3;
  my $to = pack('SnISCCa8', 17, 0, $ifindex, 1, 0, 6, "\2\0\0\0\0\2");
  for (1 .. $count) { send($s, $frame, 0, $to) or die "send: $!\n"; }
}
