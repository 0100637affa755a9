#!/usr/bin/perl
# send-frags.pl DEV SRC DST DMAC < specs: IPv4 or IPv6 fragments of UDP
# datagrams as Ethernet frames from an AF_PACKET socket on DEV (the
# ip-defrag tests' sender), one fragment a line:
#   ID SIZE OFFSET LEN [last]
# ID: the datagram's IP identification; SIZE: its UDP length (header
# included, a multiple of 8 plus 8); OFFSET, LEN: the bytes of the UDP
# datagram this fragment carries (multiples of 8 but for the last);
# "last": the final fragment (more-fragments clear). A line repeated is a
# duplicate; LEN crossing another's bytes an overlap. The family follows
# SRC. The IPv4 header checksum and the UDP checksum are right, so a
# datagram whose fragments all come is delivered to port 9 (discard).
use strict;
use warnings;
use Socket qw(inet_pton AF_INET AF_INET6);

my ($dev, $src, $dst, $dmac) = @ARGV;
die "usage: send-frags.pl DEV SRC DST DMAC < specs\n" unless $dmac;
open(my $fh, '<', "/sys/class/net/$dev/ifindex") or die "no device $dev\n";
chomp(my $ifindex = <$fh>);
open($fh, '<', "/sys/class/net/$dev/address") or die "no address of $dev\n";
chomp(my $smac = <$fh>);
socket(my $s, 17, 3, 0) or die "AF_PACKET socket: $!\n";   # AF_PACKET, SOCK_RAW
my $v6 = $src =~ /:/;
my ($sa, $da) = map { inet_pton($v6 ? AF_INET6 : AF_INET, $_) } $src, $dst;
my $mac = sub { pack('H12', join '', split /:/, $_[0]) };

sub csum {
  my ($data) = @_;
  $data .= "\0" if length($data) % 2;
  my $sum = 0;
  $sum += $_ for unpack('n*', $data);
  $sum = ($sum & 0xffff) + ($sum >> 16) while $sum >> 16;
  return ~$sum & 0xffff;
}

# The whole UDP datagram of ID: header and SIZE - 8 bytes of a pattern.
sub datagram {
  my ($id, $size) = @_;
  my $payload = join '', map { chr(($id + $_) % 251) } 0 .. $size - 9;
  my $pseudo = $v6 ? $sa . $da . pack('NxxxC', $size, 17) : $sa . $da . pack('xCn', 17, $size);
  my $sum = csum($pseudo . pack('nnnn', 40000, 9, $size, 0) . $payload) || 0xffff;
  return pack('nnnn', 40000, 9, $size, $sum) . $payload;
}

while (my $line = <STDIN>) {
  next if $line =~ /^\s*(#|$)/;
  my ($id, $size, $off, $len, $last) = split ' ', $line;
  my $part = substr(datagram($id, $size), $off, $len);
  my $mf = $last ? 0 : 1;
  my ($type, $l3);
  if ($v6) {
    my $frag = pack('CCnN', 17, 0, $off | $mf, $id);          # offset is in bytes, 8-aligned
    ($type, $l3) = (0x86dd, pack('NnCC', 0x60000000, 8 + length $part, 44, 64) . $sa . $da . $frag . $part);
  } else {
    my $h = pack('CCnnnCCn', 0x45, 0, 20 + length $part, $id, ($mf << 13) | ($off >> 3), 64, 17, 0) . $sa . $da;
    substr($h, 10, 2) = pack('n', csum($h));
    ($type, $l3) = (0x0800, $h . $part);
  }
  my $frame = $mac->($dmac) . $mac->($smac) . pack('n', $type) . $l3;
  my $to = pack('SnISCCa8', 17, 0, $ifindex, 1, 0, 6, $mac->($dmac));
  send($s, $frame, 0, $to) or die "send: $!\n";
}
