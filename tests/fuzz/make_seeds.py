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


if __name__ == '__main__':
    stream_seeds()
