#!/usr/bin/perl
# send-tcp.pl DEV SRC DST DMAC SPORT DPORT FLAGS [SEQ [ACK]]: one IPv4 TCP
# segment as an Ethernet frame from an AF_PACKET socket on DEV, with
# correct IP and TCP checksums (ct-trace's tests: segments conntrack must
# judge, e.g. FLAGS 0x03, SYN+FIN, which it calls invalid).
use strict;
use warnings;
use Socket qw(inet_pton AF_INET);

my ($dev, $src, $dst, $dmac, $sport, $dport, $flags, $seq, $ack) = @ARGV;
die "usage: send-tcp.pl DEV SRC DST DMAC SPORT DPORT FLAGS [SEQ [ACK]]\n" unless defined $flags;
open(my $fh, '<', "/sys/class/net/$dev/ifindex") or die "no device $dev\n";
chomp(my $ifindex = <$fh>);
open($fh, '<', "/sys/class/net/$dev/address") or die "no address of $dev\n";
chomp(my $smac = <$fh>);
socket(my $s, 17, 3, 0) or die "AF_PACKET socket: $!\n";
my ($sa, $da) = map { inet_pton(AF_INET, $_) } $src, $dst;
my $mac = sub { pack('H12', join '', map { sprintf '%02x', hex } split /:/, $_[0]) };

sub csum {
  my ($data) = @_;
  $data .= "\0" if length($data) % 2;
  my $sum = 0;
  $sum += $_ for unpack('n*', $data);
  $sum = ($sum & 0xffff) + ($sum >> 16) while $sum >> 16;
  return ~$sum & 0xffff;
}

my $tcp = pack('nnNNCCnnn', $sport, $dport, $seq // 1000, $ack // 0, 5 << 4, hex($flags), 65535, 0, 0);
substr($tcp, 16, 2) = pack('n', csum($sa . $da . pack('xCn', 6, length $tcp) . $tcp));
my $ip = pack('CCnnnCCn', 0x45, 0, 20 + length $tcp, 1, 0, 64, 6, 0) . $sa . $da;
substr($ip, 10, 2) = pack('n', csum($ip));
my $frame = $mac->($dmac) . $mac->($smac) . pack('n', 0x0800) . $ip . $tcp;
send($s, $frame, 0, pack('SnISCCa8', 17, 0, $ifindex, 1, 0, 6, $mac->($dmac))) or die "send: $!\n";
