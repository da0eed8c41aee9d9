// SPDX-License-Identifier: MIT
/* fdb.c - the MAC learning table: open addressing, linear probing, aging
 *
 * Owns one table's slot array and its per-port counts of learned entries.
 * Lookups and refreshes run for every frame, so they must never allocate,
 * log, or read a clock; memory is only taken when the table grows or when
 * a port number beyond the count array learns its first address.
 *
 * A slot is 16 bytes, four to a cache line:
 *
 *	key	bit 63 set when the slot is in use (so 0 means empty),
 *		bits 48-59 the VLAN ID, bits 0-47 the MAC, first octet highest
 *	val	bits 0-19 the port number, bits 20-62 when the entry was last
 *		seen in ms (saturating at 2^43 - 1, some 278 years), bit 63 set
 *		for a static entry (whose time is 0)
 *
 * Linear probing keeps a key's cluster contiguous; a probe ends at the first
 * empty slot.  Deleting shifts the rest of the cluster back into the hole
 * instead of leaving a tombstone, so probes never get longer with churn.
 *
 * An entry is expired when now - last_seen >= age.  Expired entries still
 * hold their slot and still count against the limits until fdb_expire(),
 * fdb_learn() of the same address, or a flush reclaims them; lookups and
 * fdb_foreach() treat them as absent.
 */

#include <stdlib.h>
#include <string.h>

#include "fdb.h"

#define FDB_MIN_SLOTS	  1024u
#define FDB_MAX_SLOTS	  (1u << 31)
#define FDB_PORTS_INITIAL 16u
/* the table grows before more than 7 in 10 slots are in use */
#define FDB_LOAD_NUM 7u
#define FDB_LOAD_DEN 10u

#define FDB_VLAN_MASK	   0xfffu
#define FDB_KEY_USED	   (1ULL << 63)
#define FDB_KEY_VLAN_SHIFT 48
#define FDB_KEY_MAC_MASK   ((1ULL << 48) - 1)

#define FDB_VAL_PORT_MASK   ((uint64_t)FDB_PORT_NO_LIMIT - 1)
#define FDB_VAL_TIME_SHIFT  20
#define FDB_VAL_TIME_MAX_MS ((1ULL << 43) - 1)
#define FDB_VAL_STATIC	    (1ULL << 63)

_Static_assert(FDB_PORT_NO_LIMIT == 1u << FDB_VAL_TIME_SHIFT,
	       "port numbers must fit below the time field");

/* the mixer's multiplier: odd, with well spread bits */
#define FDB_HASH_MUL 0x9e3779b97f4a7c15ULL

struct fdb_slot {
	uint64_t key;
	uint64_t val;
};

struct fdb {
	struct fdb_slot *slots;
	uint32_t mask;	  /* slot count - 1 */
	unsigned shift;	  /* 64 - log2(slot count): hash bits dropped */
	uint32_t grow_at; /* entries at which the next insert grows */
	uint32_t used;	  /* entries in the table: learned + static */
	uint32_t learned; /* learned entries, held to max_entries */
	uint32_t max_entries;
	uint32_t port_max;
	uint64_t age_ms;
	uint32_t *port_learned; /* learned entries by port number */
	uint32_t port_slots;	/* length of port_learned */
	struct fdb_stats stats;
};

static inline uint64_t fdb_key(const uint8_t mac[6], uint16_t vlan)
{
	uint64_t m = (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 |
		     (uint64_t)mac[2] << 24 | (uint64_t)mac[3] << 16 |
		     (uint64_t)mac[4] << 8 | (uint64_t)mac[5];

	return FDB_KEY_USED |
	       (uint64_t)(vlan & FDB_VLAN_MASK) << FDB_KEY_VLAN_SHIFT | m;
}

/* fdb_home() - the slot a key's probe starts at: a xorshift folds the VLAN
 * and the MAC's vendor bits into the low half, a multiply spreads every bit
 * into the top ones, and the top bits pick the slot */
static inline uint32_t fdb_home(const struct fdb *fdb, uint64_t key)
{
	uint64_t h = key ^ (key >> 29);

	h *= FDB_HASH_MUL;
	h ^= h >> 31;
	h *= FDB_HASH_MUL;
	return (uint32_t)(h >> fdb->shift);
}

/* fdb_find() - the slot holding @key, or the empty slot ending its probe */
static inline uint32_t fdb_find(const struct fdb *fdb, uint64_t key)
{
	uint32_t i = fdb_home(fdb, key);

	for (;;) {
		uint64_t k = fdb->slots[i].key;

		if (k == key || !k)
			return i;
		i = (i + 1) & fdb->mask;
	}
}

static inline uint64_t fdb_val(uint32_t port_no, uint64_t now_ms)
{
	uint64_t t =
	    now_ms < FDB_VAL_TIME_MAX_MS ? now_ms : FDB_VAL_TIME_MAX_MS;

	return t << FDB_VAL_TIME_SHIFT | port_no;
}

static inline uint32_t fdb_val_port(uint64_t val)
{
	return (uint32_t)(val & FDB_VAL_PORT_MASK);
}

static inline uint64_t fdb_val_seen(uint64_t val)
{
	return (val >> FDB_VAL_TIME_SHIFT) & FDB_VAL_TIME_MAX_MS;
}

/* fdb_val_expired() - whether a learned entry is idle for at least the age;
 * a clock that went back makes an entry look fresh, not ancient */
static inline bool fdb_val_expired(const struct fdb *fdb, uint64_t val,
				   uint64_t now_ms)
{
	uint64_t seen = fdb_val_seen(val);

	return now_ms >= seen && now_ms - seen >= fdb->age_ms;
}

static void fdb_set_geometry(struct fdb *fdb, struct fdb_slot *slots,
			     uint32_t nslots)
{
	fdb->slots = slots;
	fdb->mask = nslots - 1;
	fdb->shift = 64 - (unsigned)__builtin_ctz(nslots);
	fdb->grow_at =
	    (uint32_t)((uint64_t)nslots * FDB_LOAD_NUM / FDB_LOAD_DEN);
}

/**
 * fdb_grow() - double the slot array and rehash every entry into it
 * @fdb:	the table
 *
 * Entries keep their values; nothing is reclaimed on the way, so growing
 * never changes what the table answers.
 *
 * Return: false if the table is at its largest or memory cannot be had
 * (the table is then unchanged).
 */
static bool fdb_grow(struct fdb *fdb)
{
	struct fdb_slot *old = fdb->slots, *slots;
	uint32_t nold = fdb->mask + 1, j;

	if (nold >= FDB_MAX_SLOTS)
		return false;
	slots = calloc((size_t)nold * 2, sizeof(*slots));
	if (!slots)
		return false;
	fdb_set_geometry(fdb, slots, nold * 2);
	for (j = 0; j < nold; j++) {
		if (old[j].key)
			slots[fdb_find(fdb, old[j].key)] = old[j];
	}
	free(old);
	return true;
}

/* fdb_make_room() - ensure an insert of @key keeps the load in bounds,
 * growing if needed; *@i is moved to the key's empty slot in the new array.
 * Return: false if there is no room for one more entry */
static bool fdb_make_room(struct fdb *fdb, uint64_t key, uint32_t *i)
{
	if (fdb->used < fdb->grow_at)
		return true;
	if (fdb_grow(fdb)) {
		*i = fdb_find(fdb, key);
		return true;
	}
	/* over the load target, but a probe must always find an empty slot */
	return fdb->used + 1 <= fdb->mask;
}

static inline uint32_t fdb_port_learned(const struct fdb *fdb, uint32_t port_no)
{
	return port_no < fdb->port_slots ? fdb->port_learned[port_no] : 0;
}

/* fdb_port_reserve() - make room in the count array for @port_no
 * (below FDB_PORT_NO_LIMIT); false if memory cannot be had */
static bool fdb_port_reserve(struct fdb *fdb, uint32_t port_no)
{
	uint32_t n = fdb->port_slots ? fdb->port_slots : FDB_PORTS_INITIAL;
	uint32_t *counts;

	if (port_no < fdb->port_slots)
		return true;
	while (n <= port_no)
		n *= 2;
	counts = realloc(fdb->port_learned, (size_t)n * sizeof(*counts));
	if (!counts)
		return false;
	memset(counts + fdb->port_slots, 0,
	       (size_t)(n - fdb->port_slots) * sizeof(*counts));
	fdb->port_learned = counts;
	fdb->port_slots = n;
	return true;
}

/* fdb_unaccount() - take an entry's value out of the learned counts */
static inline void fdb_unaccount(struct fdb *fdb, uint64_t val)
{
	if (val & FDB_VAL_STATIC)
		return;
	fdb->learned--;
	fdb->port_learned[fdb_val_port(val)]--;
}

/**
 * fdb_erase() - empty slot @i and close the gap in its cluster
 * @fdb:	the table
 * @i:		an occupied slot, already taken out of the counts
 *
 * Walks the cluster after the hole: an entry may move back into the hole
 * unless its home lies cyclically after the hole (in (hole, its slot]), in
 * which case moving it would put it before the start of its own probe.
 * Entries only ever move to slots between @i and the end of the cluster,
 * wrapping past the last slot as the cluster does.
 */
static void fdb_erase(struct fdb *fdb, uint32_t i)
{
	uint32_t mask = fdb->mask, j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (!fdb->slots[j].key)
			break;
		home = fdb_home(fdb, fdb->slots[j].key);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			fdb->slots[i] = fdb->slots[j];
			i = j;
		}
	}
	fdb->slots[i].key = 0;
	fdb->slots[i].val = 0;
	fdb->used--;
}

static inline void fdb_remove_at(struct fdb *fdb, uint32_t i)
{
	fdb_unaccount(fdb, fdb->slots[i].val);
	fdb_erase(fdb, i);
}

/* fdb_admit() - may a new learned entry go to @port_no?  Counts the drop
 * if not.  Return: FDB_LEARNED if it may, else why not */
static enum fdb_learn_result fdb_admit(struct fdb *fdb, uint32_t port_no)
{
	if (fdb->learned >= fdb->max_entries) {
		fdb->stats.full_drops++;
		return FDB_FULL;
	}
	if (fdb_port_learned(fdb, port_no) >= fdb->port_max) {
		fdb->stats.port_full_drops++;
		return FDB_PORT_FULL;
	}
	if (!fdb_port_reserve(fdb, port_no)) {
		fdb->stats.full_drops++;
		return FDB_FULL;
	}
	return FDB_LEARNED;
}

/**
 * fdb_learn_slow() - every case of fdb_learn() but a live entry refreshed
 * @fdb:	the table
 * @key:	the packed (VLAN, MAC)
 * @i:		fdb_find()'s answer for @key
 * @port_no:	the port the address was seen on
 * @now_ms:	the time it was seen
 *
 * Return: as fdb_learn().
 */
static enum fdb_learn_result fdb_learn_slow(struct fdb *fdb, uint64_t key,
					    uint32_t i, uint32_t port_no,
					    uint64_t now_ms)
{
	struct fdb_slot *s = &fdb->slots[i];
	enum fdb_learn_result res;

	if (port_no >= FDB_PORT_NO_LIMIT) {
		fdb->stats.port_full_drops++;
		return FDB_PORT_FULL;
	}

	if (s->key == key) {
		uint64_t val = s->val;
		uint32_t old = fdb_val_port(val);

		if (val & FDB_VAL_STATIC)
			return FDB_STATIC;

		if (fdb_val_expired(fdb, val, now_ms)) {
			/* as if fdb_expire() had reclaimed it just now */
			fdb_unaccount(fdb, val);
			fdb->stats.expired++;
			res = fdb_admit(fdb, port_no);
			if (res != FDB_LEARNED) {
				fdb_erase(fdb, i);
				return res;
			}
			goto fill;
		}

		if (old == port_no) {
			s->val = fdb_val(port_no, now_ms);
			return FDB_REFRESHED;
		}

		if (fdb_port_learned(fdb, port_no) >= fdb->port_max ||
		    !fdb_port_reserve(fdb, port_no)) {
			fdb_remove_at(fdb, i);
			fdb->stats.port_full_drops++;
			return FDB_PORT_FULL;
		}
		fdb->port_learned[old]--;
		fdb->port_learned[port_no]++;
		s->val = fdb_val(port_no, now_ms);
		fdb->stats.moved++;
		return FDB_MOVED;
	}

	res = fdb_admit(fdb, port_no);
	if (res != FDB_LEARNED)
		return res;
	if (!fdb_make_room(fdb, key, &i)) {
		fdb->stats.full_drops++;
		return FDB_FULL;
	}
	s = &fdb->slots[i];
	s->key = key;
	fdb->used++;
fill:
	s->val = fdb_val(port_no, now_ms);
	fdb->learned++;
	fdb->port_learned[port_no]++;
	fdb->stats.learned++;
	return FDB_LEARNED;
}

enum fdb_learn_result fdb_learn(struct fdb *fdb, const uint8_t mac[6],
				uint16_t vlan, uint32_t port_no,
				uint64_t now_ms)
{
	uint64_t key = fdb_key(mac, vlan);
	uint32_t i = fdb_find(fdb, key);
	struct fdb_slot *s = &fdb->slots[i];

	/* The per-frame case: a live learned entry on this very port.  The
	 * mask keeps the static bit, so a static entry never matches, and a
	 * port_no too big for the port field never matches either. */
	if (s->key == key &&
	    (s->val & (FDB_VAL_PORT_MASK | FDB_VAL_STATIC)) == port_no &&
	    !fdb_val_expired(fdb, s->val, now_ms)) {
		s->val = fdb_val(port_no, now_ms);
		return FDB_REFRESHED;
	}
	return fdb_learn_slow(fdb, key, i, port_no, now_ms);
}

uint32_t fdb_lookup(const struct fdb *fdb, const uint8_t mac[6], uint16_t vlan,
		    uint64_t now_ms)
{
	uint64_t key = fdb_key(mac, vlan);
	const struct fdb_slot *s = &fdb->slots[fdb_find(fdb, key)];

	if (s->key != key)
		return FDB_PORT_NONE;
	if (!(s->val & FDB_VAL_STATIC) && fdb_val_expired(fdb, s->val, now_ms))
		return FDB_PORT_NONE;
	return fdb_val_port(s->val);
}

bool fdb_add_static(struct fdb *fdb, const uint8_t mac[6], uint16_t vlan,
		    uint32_t port_no)
{
	uint64_t key = fdb_key(mac, vlan);
	uint32_t i;

	if (port_no >= FDB_PORT_NO_LIMIT)
		return false;
	i = fdb_find(fdb, key);
	if (fdb->slots[i].key == key) {
		uint64_t val = fdb->slots[i].val;

		if (val & FDB_VAL_STATIC)
			return fdb_val_port(val) == port_no;
		fdb_unaccount(fdb, val);
	} else {
		if (!fdb_make_room(fdb, key, &i))
			return false;
		fdb->slots[i].key = key;
		fdb->used++;
	}
	fdb->slots[i].val = FDB_VAL_STATIC | port_no;
	return true;
}

bool fdb_remove(struct fdb *fdb, const uint8_t mac[6], uint16_t vlan)
{
	uint64_t key = fdb_key(mac, vlan);
	uint32_t i = fdb_find(fdb, key);

	if (fdb->slots[i].key != key)
		return false;
	fdb_remove_at(fdb, i);
	return true;
}

enum fdb_sweep_what {
	FDB_SWEEP_EXPIRED,  /* learned entries idle for at least the age */
	FDB_SWEEP_PORT,	    /* learned entries of one port */
	FDB_SWEEP_PORT_ALL, /* every entry of one port */
	FDB_SWEEP_LEARNED,  /* every learned entry */
};

static bool fdb_doomed(const struct fdb *fdb, uint64_t val,
		       enum fdb_sweep_what what, uint32_t port_no,
		       uint64_t now_ms)
{
	bool is_static = val & FDB_VAL_STATIC;

	switch (what) {
	case FDB_SWEEP_EXPIRED:
		return !is_static && fdb_val_expired(fdb, val, now_ms);
	case FDB_SWEEP_PORT:
		return !is_static && fdb_val_port(val) == port_no;
	case FDB_SWEEP_PORT_ALL:
		return fdb_val_port(val) == port_no;
	case FDB_SWEEP_LEARNED:
		return !is_static;
	}
	return false;
}

/**
 * fdb_sweep() - delete every entry a rule dooms, in one pass over the slots
 * @fdb:	the table
 * @what:	the rule
 * @port_no:	the port, for the port rules
 * @now_ms:	the time, for the aging rule
 *
 * After a deletion the same slot is looked at again, because fdb_erase()
 * may have shifted a not yet visited entry into it.  That is the only way
 * an unvisited entry can land in a visited slot: shifts move entries back
 * into holes between the deleted slot and their own, and the scan has not
 * reached those yet — except where a cluster wraps past the last slot, and
 * then the entries shifted back over the wrap come from slots 0.. that the
 * scan already passed, so they were already judged and spared.
 *
 * Return: how many entries went.
 */
static unsigned fdb_sweep(struct fdb *fdb, enum fdb_sweep_what what,
			  uint32_t port_no, uint64_t now_ms)
{
	uint32_t i = 0;
	unsigned n = 0;

	if (what != FDB_SWEEP_PORT_ALL && !fdb->learned)
		return 0;
	while (i <= fdb->mask) {
		const struct fdb_slot *s = &fdb->slots[i];

		if (s->key && fdb_doomed(fdb, s->val, what, port_no, now_ms)) {
			fdb_remove_at(fdb, i);
			n++;
			continue;
		}
		i++;
	}
	return n;
}

unsigned fdb_flush_port(struct fdb *fdb, uint32_t port_no, bool with_static)
{
	unsigned n = fdb_sweep(
	    fdb, with_static ? FDB_SWEEP_PORT_ALL : FDB_SWEEP_PORT, port_no, 0);

	fdb->stats.flushed += n;
	return n;
}

unsigned fdb_flush(struct fdb *fdb)
{
	unsigned n = fdb_sweep(fdb, FDB_SWEEP_LEARNED, 0, 0);

	fdb->stats.flushed += n;
	return n;
}

unsigned fdb_expire(struct fdb *fdb, uint64_t now_ms)
{
	unsigned n = fdb_sweep(fdb, FDB_SWEEP_EXPIRED, 0, now_ms);

	fdb->stats.expired += n;
	return n;
}

struct fdb *fdb_new(uint32_t max_entries, uint32_t port_max, uint64_t age_ms)
{
	struct fdb *fdb = calloc(1, sizeof(*fdb));
	struct fdb_slot *slots = calloc(FDB_MIN_SLOTS, sizeof(*slots));

	if (!fdb || !slots) {
		free(fdb);
		free(slots);
		return NULL;
	}
	fdb_set_geometry(fdb, slots, FDB_MIN_SLOTS);
	fdb_set_limits(fdb, max_entries, port_max);
	fdb_set_age(fdb, age_ms);
	return fdb;
}

void fdb_free(struct fdb *fdb)
{
	if (!fdb)
		return;
	free(fdb->slots);
	free(fdb->port_learned);
	free(fdb);
}

void fdb_set_limits(struct fdb *fdb, uint32_t max_entries, uint32_t port_max)
{
	fdb->max_entries = max_entries ? max_entries : 1;
	fdb->port_max = port_max ? port_max : 1;
}

void fdb_set_age(struct fdb *fdb, uint64_t age_ms)
{
	fdb->age_ms = age_ms ? age_ms : 1;
}

uint32_t fdb_count(const struct fdb *fdb)
{
	return fdb->used;
}

uint32_t fdb_port_count(const struct fdb *fdb, uint32_t port_no)
{
	return fdb_port_learned(fdb, port_no);
}

void fdb_get_stats(const struct fdb *fdb, struct fdb_stats *st)
{
	*st = fdb->stats;
}

void fdb_foreach(const struct fdb *fdb, uint64_t now_ms,
		 void (*cb)(const struct fdb_entry_info *e, void *ctx),
		 void *ctx)
{
	uint32_t i;

	for (i = 0; i <= fdb->mask; i++) {
		const struct fdb_slot *s = &fdb->slots[i];
		struct fdb_entry_info e;
		uint64_t key = s->key, mac = key & FDB_KEY_MAC_MASK;
		int b;

		if (!key)
			continue;
		e.is_static = s->val & FDB_VAL_STATIC;
		if (!e.is_static && fdb_val_expired(fdb, s->val, now_ms))
			continue;
		for (b = 0; b < 6; b++)
			e.mac[b] = (uint8_t)(mac >> (40 - 8 * b));
		e.vlan =
		    (uint16_t)((key >> FDB_KEY_VLAN_SHIFT) & FDB_VLAN_MASK);
		e.port_no = fdb_val_port(s->val);
		e.last_seen_ms = e.is_static ? 0 : fdb_val_seen(s->val);
		cb(&e, ctx);
	}
}
