/* PLACEHOLDER: the tap transport (AF_PACKET on a host interface) */
static const struct bench_transport transport_tap = { .name = "tap" };
