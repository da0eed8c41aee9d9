/* PLACEHOLDER: the vde transport (libvdeplug) */
#ifdef HAVE_VDEPLUG
static const struct bench_transport transport_vde = { .name = "vde" };
#endif
