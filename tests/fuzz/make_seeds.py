#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make_seeds.py - write the seed corpora of the fuzz targets

Run from anywhere: python3 tests/fuzz/make_seeds.py.  Rewrites the seeds
it knows in tests/fuzz/corpus/<target>/ (other files there are kept).
Each seed starts with the mode byte the target reads first.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BCAST = b'\xff' * 6
MAC_A = bytes.fromhex('525400123456')
MAC_B = bytes.fromhex('525400abcdef')


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def eth(dst, src, etype, payload):
    return dst + src + struct.pack('!H', etype) + payload


def arp_request():
    body = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + MAC_A + \
        bytes([192, 0, 2, 7]) + b'\0' * 6 + bytes([192, 0, 2, 1])
    return eth(BCAST, MAC_A, 0x0806, body + b'\0' * 18)


def vlan_frame(vid, inner):
    return inner[:12] + struct.pack('!HH', 0x8100, vid) + inner[12:]


def record(frame):
    return struct.pack('!I', len(frame)) + frame


def stream_seeds():
    arp = arp_request()
    t = 'stream_reader'
    write(t, 'two-frames', b'\x00' + record(arp) + record(arp[::-1]))
    write(t, 'vlan-short-partial', b'\x01' + record(vlan_frame(5, arp)) +
          record(b'\x01\x02\x03\x04') + record(b'') +
          record(eth(BCAST, MAC_B, 0x8100, b'')) + record(arp)[:30])
    write(t, 'bad-length', b'\x03' + record(arp) + struct.pack('!I', 69633) +
          arp)
    write(t, 'max-length', b'\x02' + struct.pack('!I', 69632))
    write(t, 'oversize', b'\x02' + record(arp + b'\0' * (65536 - len(arp))) +
          record(arp))


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(proto, payload, src=bytes([192, 0, 2, 7]),
        dst=bytes([192, 0, 2, 1]), ttl=64, opts=b''):
    ihl = 5 + len(opts) // 4
    h = struct.pack('!BBHHHBBH', 0x40 | ihl, 0, 4 * ihl + len(payload), 1,
                    0x4000, ttl, proto, 0) + src + dst + opts
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload


def ip6(nh, payload, src=bytes.fromhex('fe800000000000000000000000000007'),
        dst=bytes.fromhex('ff020000000000000000000000000016'), hlim=1):
    return struct.pack('!IHBB', 0x60000000, len(payload), nh, hlim) + \
        src + dst + payload


def tcp(payload, flags=0x18):
    return struct.pack('!HHIIBBHHH', 40000, 80, 1000, 0, 5 << 4, flags,
                       65535, 0, 0) + payload


def udp(payload):
    return struct.pack('!HHHH', 40000, 4789, 8 + len(payload), 0) + payload


def vnet(flags=0, gso_type=0, hdr_len=0, gso_size=0, cstart=0, coff=0):
    return struct.pack('!BBHHHH', flags, gso_type, hdr_len, gso_size,
                       cstart, coff)


def frames_seeds():
    t = 'frames'
    data = bytes(range(256)) * 12
    v4tcp = eth(MAC_B, MAC_A, 0x0800, ip4(6, tcp(data)))
    write(t, 'tso4', b'\x00' + vnet(1, 1, 54, 1448, 34, 16) + v4tcp)
    write(t, 'tso4-shared-ecn', b'\x0c' + vnet(1, 0x81, 54, 500, 34, 16) +
          vlan_frame(42, v4tcp))
    hbh = bytes([6, 0]) + b'\x01\x04\0\0\0\0'
    v6tcp = eth(MAC_B, MAC_A, 0x86dd, ip6(0, hbh + tcp(data[:2000])))
    write(t, 'tso6-hbh', b'\x01' + vnet(1, 4, 82, 1000, 62, 16) + v6tcp)
    v4udp = eth(MAC_B, MAC_A, 0x0800, ip4(17, udp(data[:3000])))
    write(t, 'uso4', b'\x02' + vnet(1, 5, 42, 1400, 34, 6) + v4udp)
    write(t, 'ufo4', b'\x03' + vnet(1, 3, 42, 1480, 34, 6) + v4udp)
    v6udp = eth(MAC_B, MAC_A, 0x86dd, ip6(17, udp(data[:1000])))
    write(t, 'ufo6', b'\x08' + vnet(1, 3, 62, 1448, 54, 6) + v6udp)
    write(t, 'csum-only', b'\x04' + vnet(1, 0, 0, 0, 34, 16) +
          eth(MAC_B, MAC_A, 0x0800, ip4(6, tcp(data[:100]))))
    # snooping: IGMPv2 report, IGMPv3 report, MLDv2 report, MLDv1 done
    ra = b'\x94\x04\0\0'
    igmp2 = struct.pack('!BBH', 0x16, 0, 0) + bytes([239, 1, 2, 3])
    write(t, 'igmpv2', b'\x01' + vnet() +
          eth(bytes.fromhex('01005e010203'), MAC_A, 0x0800,
              ip4(2, igmp2, dst=bytes([239, 1, 2, 3]), ttl=1, opts=ra)))
    recs = struct.pack('!BBH', 2, 0, 0) + bytes([239, 9, 9, 9]) + \
        struct.pack('!BBH', 1, 0, 1) + bytes([232, 1, 1, 1]) + \
        bytes([192, 0, 2, 99])
    igmp3 = struct.pack('!BBHHH', 0x22, 0, 0, 0, 2) + recs
    write(t, 'igmpv3-vlan', b'\x02' + vnet() + vlan_frame(5, eth(
        bytes.fromhex('010000000016'), MAC_A, 0x0800,
        ip4(2, igmp3, dst=bytes([224, 0, 0, 22]), ttl=1, opts=ra))))
    rec6 = struct.pack('!BBH', 4, 0, 0) + \
        bytes.fromhex('ff050000000000000000000000000123')
    mld2 = struct.pack('!BBHHH', 143, 0, 0, 0, 1) + rec6
    hbh_ra = bytes([58, 0, 5, 2, 0, 0, 1, 0])
    write(t, 'mldv2', b'\x01' + vnet() +
          eth(bytes.fromhex('333300000016'), MAC_A, 0x86dd,
              ip6(0, hbh_ra + mld2)))
    done = struct.pack('!BBHHH', 132, 0, 0, 0, 0) + \
        bytes.fromhex('ff050000000000000000000000000123')
    write(t, 'mldv1-done', b'\x01' + vnet() +
          eth(bytes.fromhex('333300000002'), MAC_A, 0x86dd,
              ip6(0, hbh_ra + done)))
    # address snooping: ARP, a neighbour advertisement with Override
    write(t, 'arp', b'\x03' + vnet() + arp_request())
    na = struct.pack('!BBHI', 136, 0, 0, 0x20000000) + \
        bytes.fromhex('20010db8000000000000000000000007')
    write(t, 'na-override', b'\x00' + vnet() +
          eth(bytes.fromhex('333300000001'), MAC_A, 0x86dd,
              ip6(58, na, dst=bytes.fromhex('ff020000000000000000000000000001'),
                  hlim=255)))


def opts_seeds():
    t = 'opts'
    # mode 0: keyval or JSON with the implied key "type"; 1: no implied
    # key; 2: a --config file; bits 2-3: opts_get_int() bounds
    seeds = {
        'socket-listen': b'\x00socket,id=vms,listen=127.0.0.1:5555',
        'socket-udp': b'\x04socket,id=p0,udp=127.0.0.1:20000,'
                      b'localaddr=127.0.0.1:20001',
        'socket-connect': b'\x0csocket,id=n0,connect=127.0.0.1:5555,'
                          b'reconnect=0x10',
        'socket-mcast6': b'\x00socket,id=m,mcast=[ff05::1]:5000,',
        'pcap-file': b'\x00pcap,id=gen,file=a,,b.pcap,rate=1.5k,loop=on',
        'pcap-live': b'\x08pcap,id=up,ifname=eth1,promisc=off',
        'tap': b'\x00tap,id=t0,ifname=tap0,script=no,downscript=no,'
               b'vnet_hdr=on,queues=2',
        'bridge': b'\x00bridge,id=lan,br=br1,'
                  b'helper=/usr/lib/qemu/qemu-bridge-helper',
        'hubport': b'\x00hubport,id=h1,hubid=1,netdev=a',
        'nic': b'\x00nic,id=nic0,netdev=vm1,macaddr=52:54:00:12:34:56',
        'user': b'\x00user,id=u,net=10.9.0.0/255.255.0.0,dhcpstart=10.9.2.20,'
                b'hostfwd=udp:127.0.0.1:5353-10.9.2.20:53,'
                b'guestfwd=tcp:10.9.0.4:80-cmd:true,ipv6-prefixlen=48',
        'repeated': b'\x00user,id=u,hostfwd=tcp::1-:2,hostfwd=udp::3-:4,'
                    b'id=v,dnssearch=a,,b',
        'user-json': b'\x00{"type": "user", "id": "u", "hostfwd": '
                     b'[{"str": "tcp::2222-:22"}, {"str": "::1-:2"}], '
                     b'"dnssearch": [{"str": "example.org"}], '
                     b'"restrict": true}',
        'flags': b'\x01id=x,flag,other=,size=010',
        'json': b'\x04 {"type": "socket", "id": "s", '
                b'"connect": "127.0.0.1:1234", "reconnect": 5, '
                b'"size": 4096, "on": true}',
        'json-bad': b'\x00{"type": "none", "id": "a", "id": "b"}',
        'config': b'\x02[{"type": "none", "id": "n"}, {"type": "socket", '
                  b'"id": "s", "mcast": "230.0.0.1:1234", '
                  b'"localaddr": "192.0.2.1:0"}]',
    }
    for name, data in seeds.items():
        write(t, name, data)


VQ_GPA = 0x10000
VQ_AVAIL = 0x800
VQ_USED = 0x1000
VQ_BUF = 0x1800
VQ_IND = 0x1600
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def vq_image(descs, heads, bufs=(), ind=(), used_idx=0):
    """A guest memory image: descriptors (addr offset, len, flags, next),
    the available ring's heads, buffer bytes at VQ_BUF, an indirect table"""
    img = bytearray(VQ_BUF + 0x1000)
    for i, (off, ln, fl, nx) in enumerate(descs):
        struct.pack_into('<QIHH', img, 16 * i, VQ_GPA + off, ln, fl, nx)
    for i, (off, ln, fl, nx) in enumerate(ind):
        struct.pack_into('<QIHH', img, VQ_IND + 16 * i, VQ_GPA + off, ln,
                         fl, nx)
    struct.pack_into('<HH', img, VQ_AVAIL, 0, (used_idx + len(heads)) & 0xffff)
    for i, h in enumerate(heads):
        struct.pack_into('<H', img, VQ_AVAIL + 4 + 2 * ((used_idx + i) % 8),
                         h)
    struct.pack_into('<HH', img, VQ_USED, 0, used_idx)
    img[VQ_BUF:VQ_BUF + len(bufs)] = bufs
    return bytes(img)


def virtq_seeds():
    t = 'virtq'
    pkt = b'\0' * 12 + arp_request()
    # mode: 3 = 8 entries; 0x08 TX; 0x10 EVENT_IDX; 0x20 MRG; 0x40 12-byte
    write(t, 'tx-one', b'\x4b' + vq_image([(VQ_BUF, len(pkt), 0, 0)], [0],
                                           pkt))
    write(t, 'tx-chain', b'\x5b' + vq_image(
        [(VQ_BUF, 12, F_NEXT, 2), (0, 0, 0, 0),
         (VQ_BUF + 12, len(pkt) - 12, 0, 0)], [0, 0], pkt, used_idx=65535))
    write(t, 'tx-indirect', b'\x4b' + vq_image(
        [(VQ_IND, 32, F_INDIRECT, 0)], [0], pkt,
        ind=[(VQ_BUF, 12, F_NEXT, 1), (VQ_BUF + 12, len(pkt) - 12, 0, 0)]))
    write(t, 'tx-loop', b'\x4b' + vq_image(
        [(VQ_BUF, 20, F_NEXT, 1), (VQ_BUF, 20, F_NEXT, 0)], [0, 1], pkt))
    write(t, 'rx-mrg', b'\x73' + vq_image(
        [(VQ_BUF + 0x100 * i, 0x100, F_WRITE, 0) for i in range(8)],
        list(range(8))))
    write(t, 'rx-chain', b'\x03' + vq_image(
        [(VQ_BUF, 0x10, F_WRITE | F_NEXT, 1), (VQ_BUF + 0x10, 0x7f0,
                                               F_WRITE, 0)], [0, 0]))
    write(t, 'rx-region2', b'\xf3' + vq_image(
        [(0x400000 - VQ_GPA, 0x100, F_WRITE, 0)] * 4, [0, 1, 2, 3]))


def pcap_file(records, endian='<', magic=0xa1b2c3d4, linktype=1,
              snaplen=262144):
    out = struct.pack(endian + 'IHHiIII', magic, 2, 4, 0, 0, snaplen,
                      linktype)
    for ts, frame, wirelen in records:
        out += struct.pack(endian + 'IIII', ts[0], ts[1], len(frame),
                           wirelen if wirelen is not None else len(frame))
        out += frame
    return out


def pcapng_file(frames):
    def block(btype, body):
        body += b'\0' * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack('<II', btype, n) + body + struct.pack('<I', n)
    out = block(0x0a0d0d0a, struct.pack('<IHHq', 0x1a2b3c4d, 1, 0, -1))
    out += block(1, struct.pack('<HHI', 1, 0, 65535))
    for i, frame in enumerate(frames):
        out += block(6, struct.pack('<IIIII', 0, 0, i * 1000, len(frame),
                                    len(frame)) + frame)
    return out


def pcap_seeds():
    t = 'pcap_file'
    arp = arp_request()
    udp4 = eth(MAC_B, MAC_A, 0x0800, ip4(17, udp(b'x' * 64)))
    recs = [((1, 0), arp, None), ((1, 500), udp4, None),
            ((2, 0), vlan_frame(7, udp4), None)]
    # mode bits 0 and 3: loop=on, bit 1: the capture's timing, bit 2: a
    # filter
    write(t, 'classic', b'\x00' + pcap_file(recs))
    write(t, 'classic-filter', b'\x04' + pcap_file(recs))
    write(t, 'nanosecond-be-loop', b'\x09' + pcap_file(
        recs, endian='>', magic=0xa1b23c4d))
    write(t, 'timed', b'\x02' + pcap_file(
        [((1, 0), arp, None), ((0xffffffff, 999999), arp, None)]))
    write(t, 'cut-short', b'\x00' + pcap_file(
        [((1, 0), arp[:20], len(arp)), ((1, 1), b'', 0),
         ((1, 2), arp[:10], None), ((1, 3), arp, None)])[:-7])
    write(t, 'not-ethernet', b'\x00' + pcap_file(recs, linktype=101))
    write(t, 'pcapng', b'\x00' + pcapng_file([arp, udp4]))
    write(t, 'oversize', b'\x00' + pcap_file(
        [((1, 0), arp + b'\0' * (65536 - len(arp)), None),
         ((1, 1), arp, None)]))


def tunnel_seeds():
    """fuzz_tunnel: mode byte 0 for l2tpv3 (session 2, 64-bit cookie
    0x0102030405060708, counter, offset 2), 1 for vxlan (VNI 42)."""
    t = 'tunnel'
    frame = eth(BCAST, MAC_A, 0x88b5, b'seed' * 12)
    cookie = bytes.fromhex('0102030405060708')

    def l2(session=2, ck=cookie, counter=1, word=0x00030000):
        return (b'\x00' + struct.pack('!II', word, session) + ck +
                struct.pack('!I', counter) + b'\0\0' + frame)
    write(t, 'l2tpv3-good', l2())
    write(t, 'l2tpv3-session', l2(session=3))
    write(t, 'l2tpv3-cookie', l2(ck=bytes(8)))
    write(t, 'l2tpv3-control', l2(word=0x80030000))
    write(t, 'l2tpv3-short', l2()[:20])

    def vx(flags=8, vni=42):
        return (b'\x01' + bytes([flags, 0, 0, 0]) +
                struct.pack('!I', vni << 8) + frame)
    write(t, 'vxlan-good', vx())
    write(t, 'vxlan-reserved-bits', vx(flags=0xff))
    write(t, 'vxlan-vni', vx(vni=43))
    write(t, 'vxlan-no-i-flag', vx(flags=0))
    write(t, 'vxlan-short', vx()[:12])


def vde_seeds():
    t = 'vde_request'

    def req(path, descr=b'QEMU', magic=0xfeedface, version=3, rtype=0):
        p = path.encode()
        return b'\x00' + struct.pack('=IIIH', magic, version, rtype, 1) + \
            p + b'\0' * (108 - len(p)) + descr
    write(t, 'qemu', req('/run/vde/.01234-00000'))
    write(t, 'port-5', req('/tmp/sw/.1-0', b'vdeplug: user=root', rtype=5 << 8))
    write(t, 'port0-no-descr', req('/tmp/a', b'', rtype=1))
    write(t, 'long-descr', req('/tmp/a', bytes(range(1, 256))))
    write(t, 'bad-magic', req('/tmp/a', magic=0x12345678))
    write(t, 'version-2', req('/tmp/a', version=2))
    write(t, 'unterminated-path', req('x' * 108))
    write(t, 'cut-short', req('/tmp/a')[:60])


if __name__ == '__main__':
    tunnel_seeds()
    stream_seeds()
    frames_seeds()
    opts_seeds()
    pcap_seeds()
    virtq_seeds()
    vde_seeds()
