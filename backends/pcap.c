// SPDX-License-Identifier: MIT
/* PLACEHOLDER: pcap.c - the pcap netdev */
