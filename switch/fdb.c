// SPDX-License-Identifier: MIT
/* fdb.c - the MAC learning table: open addressing, linear probing, aging,
 * and eviction from the fullest port
 *
 * Owns one table's slot array, its per-port and per-group records, and the
 * lists that make eviction O(1).  Lookups and refreshes run for every frame,
 * so they must never allocate, log, or read a clock; memory is only taken
 * when the table grows or when a port number beyond the port records learns
 * its first address.
 *
 * Never: evict a static entry, or touch anything but the slots and records
 * on the refresh and lookup paths.
 *
 * A slot is 16 bytes, four to a cache line (the array starts on one, and
 * from FDB_HUGE_BYTES up on a huge page; fdb_slots_new()), so a lookup
 * reads one line, or two when its probe runs past its home line's end:
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
 *
 * Eviction.  A full table makes room by evicting a learned entry of the port
 * holding the most learned entries; two structures keep both choices O(1):
 *
 *   - each port's learned entries form a doubly linked list, oldest learned
 *     first, through links[] (parallel to slots[], by slot number, so the
 *     slots stay 16 bytes and lookups never touch the links).  An entry
 *     joins the tail when learned or moved to the port; a refresh does not
 *     reorder it (that would cost the per-frame path a second cache line),
 *     so the head is the entry that came to the port longest ago.  When
 *     fdb_erase() shifts an entry to another slot, its neighbours are
 *     pointed at the new slot; fdb_grow() rebuilds the lists in order.
 *   - ports with learned entries are bucketed by their count: by_count[c]
 *     lists the ports holding exactly c, and top is the highest c with a
 *     port.  A count changes by one at a time, so a port moves between
 *     neighbouring buckets, and top moves by at most one.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fdb.h"

#define FDB_MIN_SLOTS	   1024u
#define FDB_MAX_SLOTS	   (1u << 31)
#define FDB_PORTS_INITIAL  16u
#define FDB_COUNTS_INITIAL 64u
#define FDB_NIL		   UINT32_MAX /* no slot, port or group */
#define FDB_LINE_BYTES	   64u	      /* a cache line */
#define FDB_SLOTS_PER_LINE 4u	      /* FDB_LINE_BYTES / sizeof(slot) */
/* slot arrays this big are aligned to, and asked to live in, huge pages:
 * a million entries then take 16 TLB entries, not 8 192 */
#define FDB_HUGE_BYTES (2u << 20)
/* tables from this many slots up (1 MiB) are taken to miss the caches: the
 * burst calls prefetch only for them, as in smaller ones it costs more
 * instructions than it saves waiting */
#define FDB_PREFETCH_MIN_SLOTS (1u << 16)
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

_Static_assert(sizeof(struct fdb_slot) * FDB_SLOTS_PER_LINE == FDB_LINE_BYTES,
	       "a cache line holds FDB_SLOTS_PER_LINE slots");

/* A learned entry's neighbours in its port's list, by slot number */
struct fdb_link {
	uint32_t prev, next;
};

struct fdb_port {
	uint32_t learned;	 /* learned entries on it */
	uint32_t limit;		 /* its own, or FDB_LIMIT_DEFAULT */
	uint32_t group;		 /* index in groups[], or FDB_NIL */
	uint32_t oldest, newest; /* its learned entries, by slot */
	uint32_t prev, next;	 /* ports with as many entries (by_count) */
};

struct fdb_group {
	uint64_t name;	  /* the caller's; FDB_GROUP_NONE: a free record */
	uint32_t learned; /* learned entries of its ports */
	uint32_t limit;	  /* its own, or FDB_LIMIT_DEFAULT */
	uint32_t nports;  /* ports in it */
};

struct fdb {
	struct fdb_slot *slots;
	struct fdb_link *links; /* parallel to slots: learned entries only */
	uint32_t mask;	  /* slot count - 1 */
	unsigned shift;	  /* 64 - log2(slot count): hash bits dropped */
	uint32_t grow_at; /* entries at which the next insert grows */
	uint32_t used;	  /* entries in the table: learned + static */
	uint32_t learned; /* learned entries, held to max_entries */
	uint32_t max_entries;
	uint32_t port_max;
	uint32_t group_max;
	uint64_t age_ms;
	struct fdb_port *ports; /* by port number */
	uint32_t nports;	/* length of ports[] */
	struct fdb_group *groups;
	uint32_t ngroups;   /* length of groups[] */
	uint32_t *by_count; /* first port holding exactly c entries */
	uint32_t ncounts;   /* length of by_count[] */
	uint32_t top;	    /* most entries a port holds */
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

/* fdb_hash() - a key's hash: a xorshift folds the VLAN and the MAC's vendor
 * bits into the low half, a multiply spreads every bit into the top ones.
 * It does not depend on the table's size, so a burst may compute it before
 * a growth and use it after. */
static inline uint64_t fdb_hash(uint64_t key)
{
	uint64_t h = key ^ (key >> 29);

	h *= FDB_HASH_MUL;
	h ^= h >> 31;
	h *= FDB_HASH_MUL;
	return h;
}

/* fdb_home_of() - the slot a probe for a key of hash @hash starts at: the
 * hash's top bits */
static inline uint32_t fdb_home_of(const struct fdb *fdb, uint64_t hash)
{
	return (uint32_t)(hash >> fdb->shift);
}

static inline uint32_t fdb_home(const struct fdb *fdb, uint64_t key)
{
	return fdb_home_of(fdb, fdb_hash(key));
}

/* fdb_find_hashed() - the slot holding @key (of hash @hash), or the empty
 * slot ending its probe */
static inline uint32_t fdb_find_hashed(const struct fdb *fdb, uint64_t key,
				       uint64_t hash)
{
	uint32_t i = fdb_home_of(fdb, hash);

	for (;;) {
		uint64_t k = fdb->slots[i].key;

		if (k == key || !k)
			return i;
		i = (i + 1) & fdb->mask;
	}
}

static inline uint32_t fdb_find(const struct fdb *fdb, uint64_t key)
{
	return fdb_find_hashed(fdb, key, fdb_hash(key));
}

/* fdb_prefetch() - start loading the cache lines a probe for a key of hash
 * @hash reads first: its home slot's line, and the next line when the home
 * is the line's last slot (a probe past it crosses over) */
static inline void fdb_prefetch(const struct fdb *fdb, uint64_t hash,
				bool for_write)
{
	uint32_t i = fdb_home_of(fdb, hash);
	const struct fdb_slot *s = &fdb->slots[i];
	bool cross = (i & (FDB_SLOTS_PER_LINE - 1)) == FDB_SLOTS_PER_LINE - 1 &&
		     i < fdb->mask;

	if (for_write) {
		__builtin_prefetch(s, 1);
		if (cross)
			__builtin_prefetch(s + 1, 1);
	} else {
		__builtin_prefetch(s, 0);
		if (cross)
			__builtin_prefetch(s + 1, 0);
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

/* -- the per-port lists of learned entries ------------------------------ */

/* fdb_link_tail() - make learned slot @i the newest entry of its port */
static void fdb_link_tail(struct fdb *fdb, uint32_t i)
{
	struct fdb_port *p = &fdb->ports[fdb_val_port(fdb->slots[i].val)];

	fdb->links[i].prev = p->newest;
	fdb->links[i].next = FDB_NIL;
	if (p->newest != FDB_NIL)
		fdb->links[p->newest].next = i;
	else
		p->oldest = i;
	p->newest = i;
}

/* fdb_unlink() - take learned slot @i out of its port's list */
static void fdb_unlink(struct fdb *fdb, uint32_t i)
{
	struct fdb_port *p = &fdb->ports[fdb_val_port(fdb->slots[i].val)];
	struct fdb_link l = fdb->links[i];

	if (l.prev != FDB_NIL)
		fdb->links[l.prev].next = l.next;
	else
		p->oldest = l.next;
	if (l.next != FDB_NIL)
		fdb->links[l.next].prev = l.prev;
	else
		p->newest = l.prev;
}

/* fdb_relink() - the learned entry in slot @from now lives in slot @to:
 * its neighbours (or its port's ends) point there */
static void fdb_relink(struct fdb *fdb, uint32_t from, uint32_t to)
{
	struct fdb_port *p = &fdb->ports[fdb_val_port(fdb->slots[to].val)];
	struct fdb_link l = fdb->links[from];

	fdb->links[to] = l;
	if (l.prev != FDB_NIL)
		fdb->links[l.prev].next = to;
	else
		p->oldest = to;
	if (l.next != FDB_NIL)
		fdb->links[l.next].prev = to;
	else
		p->newest = to;
}

/* -- ports bucketed by how many entries they hold ----------------------- */

static void fdb_bucket_add(struct fdb *fdb, uint32_t port_no)
{
	struct fdb_port *p = &fdb->ports[port_no];
	uint32_t *head = &fdb->by_count[p->learned];

	p->prev = FDB_NIL;
	p->next = *head;
	if (*head != FDB_NIL)
		fdb->ports[*head].prev = port_no;
	*head = port_no;
}

static void fdb_bucket_del(struct fdb *fdb, uint32_t port_no)
{
	struct fdb_port *p = &fdb->ports[port_no];

	if (p->prev != FDB_NIL)
		fdb->ports[p->prev].next = p->next;
	else
		fdb->by_count[p->learned] = p->next;
	if (p->next != FDB_NIL)
		fdb->ports[p->next].prev = p->prev;
}

/* fdb_count_up() - one more learned entry on @port_no (its records and
 * by_count[] have room: fdb_reserve()) */
static void fdb_count_up(struct fdb *fdb, uint32_t port_no)
{
	struct fdb_port *p = &fdb->ports[port_no];

	if (p->learned)
		fdb_bucket_del(fdb, port_no);
	p->learned++;
	fdb_bucket_add(fdb, port_no);
	if (p->learned > fdb->top)
		fdb->top = p->learned;
	if (p->group != FDB_NIL)
		fdb->groups[p->group].learned++;
	fdb->learned++;
}

static void fdb_count_down(struct fdb *fdb, uint32_t port_no)
{
	struct fdb_port *p = &fdb->ports[port_no];

	fdb_bucket_del(fdb, port_no);
	p->learned--;
	if (p->learned)
		fdb_bucket_add(fdb, port_no);
	/* the port left the top bucket for the one below: top drops by one
	 * at most, and only if the port was alone up there */
	if (fdb->by_count[fdb->top] == FDB_NIL)
		fdb->top--;
	if (p->group != FDB_NIL)
		fdb->groups[p->group].learned--;
	fdb->learned--;
}

/**
 * fdb_reserve() - make room for one more learned entry on @port_no
 * @fdb:	the table
 * @port_no:	below FDB_PORT_NO_LIMIT
 *
 * Grows the port records to cover @port_no and by_count[] to cover its
 * next count.  Return: false if memory cannot be had (nothing changed).
 */
static bool fdb_reserve(struct fdb *fdb, uint32_t port_no)
{
	uint32_t n, need;

	if (port_no >= fdb->nports) {
		struct fdb_port *ports;

		n = fdb->nports ? fdb->nports : FDB_PORTS_INITIAL;
		while (n <= port_no)
			n *= 2;
		ports = realloc(fdb->ports, (size_t)n * sizeof(*ports));
		if (!ports)
			return false;
		for (uint32_t i = fdb->nports; i < n; i++)
			ports[i] = (struct fdb_port){
			    .limit = FDB_LIMIT_DEFAULT,
			    .group = FDB_NIL,
			    .oldest = FDB_NIL,
			    .newest = FDB_NIL,
			    .prev = FDB_NIL,
			    .next = FDB_NIL,
			};
		fdb->ports = ports;
		fdb->nports = n;
	}
	need = fdb->ports[port_no].learned + 2;
	if (need > fdb->ncounts) {
		uint32_t *counts;

		n = fdb->ncounts ? fdb->ncounts : FDB_COUNTS_INITIAL;
		while (n < need)
			n *= 2;
		counts = realloc(fdb->by_count, (size_t)n * sizeof(*counts));
		if (!counts)
			return false;
		for (uint32_t c = fdb->ncounts; c < n; c++)
			counts[c] = FDB_NIL;
		fdb->by_count = counts;
		fdb->ncounts = n;
	}
	return true;
}

static inline uint32_t fdb_port_learned(const struct fdb *fdb, uint32_t port_no)
{
	return port_no < fdb->nports ? fdb->ports[port_no].learned : 0;
}

static inline uint32_t fdb_port_limit(const struct fdb *fdb,
				      const struct fdb_port *p)
{
	return p->limit == FDB_LIMIT_DEFAULT ? fdb->port_max : p->limit;
}

static inline uint32_t fdb_group_limit(const struct fdb *fdb,
				       const struct fdb_group *g)
{
	return g->limit == FDB_LIMIT_DEFAULT ? fdb->group_max : g->limit;
}

/* -- slots --------------------------------------------------------------- */

/**
 * fdb_slots_new() - a zeroed array of @nslots slots (a power of two, at
 * least FDB_SLOTS_PER_LINE) that starts on a cache line, so that each line
 * holds FDB_SLOTS_PER_LINE whole slots; from FDB_HUGE_BYTES up, on a huge
 * page boundary, and the kernel is asked to back it with huge pages (a
 * hint: without them it works as well, with more TLB misses)
 *
 * Return: the array (free() frees it), or NULL if memory cannot be had.
 */
static struct fdb_slot *fdb_slots_new(uint32_t nslots)
{
	size_t bytes = (size_t)nslots * sizeof(struct fdb_slot);
	bool huge = bytes >= FDB_HUGE_BYTES;
	void *p;

	if (posix_memalign(&p, huge ? FDB_HUGE_BYTES : FDB_LINE_BYTES, bytes))
		return NULL;
	if (huge)
		madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

static void fdb_set_geometry(struct fdb *fdb, struct fdb_slot *slots,
			     struct fdb_link *links, uint32_t nslots)
{
	fdb->slots = slots;
	fdb->links = links;
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
 * never changes what the table answers.  Each port's list is then walked
 * in the old arrays and rebuilt, in the same order, from the new slots.
 *
 * Return: false if the table is at its largest or memory cannot be had
 * (the table is then unchanged).
 */
static bool fdb_grow(struct fdb *fdb)
{
	struct fdb_slot *old = fdb->slots, *slots;
	struct fdb_link *old_links = fdb->links, *links;
	uint32_t nold = fdb->mask + 1, j;

	if (nold >= FDB_MAX_SLOTS)
		return false;
	slots = fdb_slots_new(nold * 2);
	links = malloc((size_t)nold * 2 * sizeof(*links));
	if (!slots || !links) {
		free(slots);
		free(links);
		return false;
	}
	fdb_set_geometry(fdb, slots, links, nold * 2);
	for (j = 0; j < nold; j++) {
		if (old[j].key)
			slots[fdb_find(fdb, old[j].key)] = old[j];
	}
	for (uint32_t no = 0; no < fdb->nports; no++) {
		struct fdb_port *p = &fdb->ports[no];

		j = p->oldest;
		p->oldest = p->newest = FDB_NIL;
		for (; j != FDB_NIL; j = old_links[j].next)
			fdb_link_tail(fdb, fdb_find(fdb, old[j].key));
	}
	free(old);
	free(old_links);
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

/* fdb_account() - count the learned entry in slot @i on its port, as the
 * newest of the port's list (fdb_reserve() made room) */
static void fdb_account(struct fdb *fdb, uint32_t i)
{
	fdb_count_up(fdb, fdb_val_port(fdb->slots[i].val));
	fdb_link_tail(fdb, i);
}

/* fdb_unaccount() - take the entry in slot @i out of the learned counts
 * and its port's list (nothing for a static entry) */
static inline void fdb_unaccount(struct fdb *fdb, uint32_t i)
{
	uint64_t val = fdb->slots[i].val;

	if (val & FDB_VAL_STATIC)
		return;
	fdb_unlink(fdb, i);
	fdb_count_down(fdb, fdb_val_port(val));
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
 * wrapping past the last slot as the cluster does.  A learned entry that
 * moves takes its place in its port's list along.
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
			if (!(fdb->slots[i].val & FDB_VAL_STATIC))
				fdb_relink(fdb, j, i);
			i = j;
		}
	}
	fdb->slots[i].key = 0;
	fdb->slots[i].val = 0;
	fdb->used--;
}

static inline void fdb_remove_at(struct fdb *fdb, uint32_t i)
{
	fdb_unaccount(fdb, i);
	fdb_erase(fdb, i);
}

/* fdb_evict_oldest() - delete the oldest learned entry of @port_no (which
 * has one), counted as evicted */
static void fdb_evict_oldest(struct fdb *fdb, uint32_t port_no)
{
	fdb_remove_at(fdb, fdb->ports[port_no].oldest);
	fdb->stats.evicted++;
}

/**
 * fdb_admit() - may a new learned entry go to @port_no?
 * @fdb:	the table
 * @port_no:	below FDB_PORT_NO_LIMIT
 *
 * Checks the port's limit, then its group's; then, if the table is full,
 * evicts the oldest entry of the port holding the most.  Counts a refusal.
 * Slots may have moved when this returns (an eviction shifts clusters).
 *
 * Return: FDB_LEARNED or FDB_EVICTED if it may, else why not.
 */
static enum fdb_learn_result fdb_admit(struct fdb *fdb, uint32_t port_no)
{
	const struct fdb_port *p;

	if (!fdb_reserve(fdb, port_no)) {
		fdb->stats.full_drops++;
		return FDB_FULL;
	}
	p = &fdb->ports[port_no];
	if (p->learned >= fdb_port_limit(fdb, p)) {
		fdb->stats.port_full_drops++;
		return FDB_PORT_FULL;
	}
	if (p->group != FDB_NIL) {
		const struct fdb_group *g = &fdb->groups[p->group];

		if (g->learned >= fdb_group_limit(fdb, g)) {
			fdb->stats.group_full_drops++;
			return FDB_GROUP_FULL;
		}
	}
	if (fdb->learned < fdb->max_entries)
		return FDB_LEARNED;
	/* counts only went down: what fdb_reserve() made stays enough */
	fdb_evict_oldest(fdb, fdb->by_count[fdb->top]);
	return FDB_EVICTED;
}

/* fdb_may_move() - may a learned entry move from port @old to @port_no,
 * which must hold one more (and so must its group, unless @old is in it)?
 * Counts a refusal.  Return: FDB_MOVED, or why not */
static enum fdb_learn_result fdb_may_move(struct fdb *fdb, uint32_t old,
					  uint32_t port_no)
{
	const struct fdb_port *p;

	if (!fdb_reserve(fdb, port_no)) {
		fdb->stats.port_full_drops++;
		return FDB_PORT_FULL;
	}
	p = &fdb->ports[port_no];
	if (p->learned >= fdb_port_limit(fdb, p)) {
		fdb->stats.port_full_drops++;
		return FDB_PORT_FULL;
	}
	if (p->group != FDB_NIL && p->group != fdb->ports[old].group) {
		const struct fdb_group *g = &fdb->groups[p->group];

		if (g->learned >= fdb_group_limit(fdb, g)) {
			fdb->stats.group_full_drops++;
			return FDB_GROUP_FULL;
		}
	}
	return FDB_MOVED;
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
			/* as if fdb_expire() had reclaimed it just now; then
			 * the address is new */
			fdb_remove_at(fdb, i);
			fdb->stats.expired++;
		} else if (old == port_no) {
			s->val = fdb_val(port_no, now_ms);
			return FDB_REFRESHED;
		} else {
			res = fdb_may_move(fdb, old, port_no);
			if (res != FDB_MOVED) {
				/* its old port is wrong now; flooding
				 * reaches the new one */
				fdb_remove_at(fdb, i);
				return res;
			}
			fdb_unaccount(fdb, i);
			s->val = fdb_val(port_no, now_ms);
			fdb_account(fdb, i);
			fdb->stats.moved++;
			return FDB_MOVED;
		}
	}

	res = fdb_admit(fdb, port_no);
	if (res != FDB_LEARNED && res != FDB_EVICTED)
		return res;
	i = fdb_find(fdb, key); /* a removal may have shifted its cluster */
	if (!fdb_make_room(fdb, key, &i)) {
		fdb->stats.full_drops++;
		return FDB_FULL;
	}
	s = &fdb->slots[i];
	s->key = key;
	s->val = fdb_val(port_no, now_ms);
	fdb->used++;
	fdb_account(fdb, i);
	fdb->stats.learned++;
	return res;
}

/* fdb_learn_hashed() - fdb_learn() of a packed @key of hash @hash */
static inline enum fdb_learn_result
fdb_learn_hashed(struct fdb *fdb, uint64_t key, uint64_t hash, uint32_t port_no,
		 uint64_t now_ms)
{
	uint32_t i = fdb_find_hashed(fdb, key, hash);
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

enum fdb_learn_result fdb_learn(struct fdb *fdb, const uint8_t mac[6],
				uint16_t vlan, uint32_t port_no,
				uint64_t now_ms)
{
	uint64_t key = fdb_key(mac, vlan);

	return fdb_learn_hashed(fdb, key, fdb_hash(key), port_no, now_ms);
}

/* fdb_lookup_hashed() - fdb_lookup() of a packed @key of hash @hash */
static inline uint32_t fdb_lookup_hashed(const struct fdb *fdb, uint64_t key,
					 uint64_t hash, uint64_t now_ms)
{
	const struct fdb_slot *s = &fdb->slots[fdb_find_hashed(fdb, key, hash)];

	if (s->key != key)
		return FDB_PORT_NONE;
	if (!(s->val & FDB_VAL_STATIC) && fdb_val_expired(fdb, s->val, now_ms))
		return FDB_PORT_NONE;
	return fdb_val_port(s->val);
}

uint32_t fdb_lookup(const struct fdb *fdb, const uint8_t mac[6], uint16_t vlan,
		    uint64_t now_ms)
{
	uint64_t key = fdb_key(mac, vlan);

	return fdb_lookup_hashed(fdb, key, fdb_hash(key), now_ms);
}

/* -- bursts ---------------------------------------------------------------
 *
 * A lookup in a table bigger than the caches waits for memory once; one
 * frame after another, those waits add up.  A burst's addresses are known
 * in advance, so the burst functions first hash every address and start
 * loading each one's home line (fdb_prefetch()), then do the lookups, by
 * which time most lines have arrived: the waits overlap.  Only hashes are
 * kept between the two passes, never slot numbers, so a learn that grows
 * the table or deletes entries (eviction, an expired or moved entry) in
 * the middle of a burst leaves the rest of it correct; the prefetches it
 * made are then merely wasted.  A table small enough for the caches
 * (under FDB_PREFETCH_MIN_SLOTS) is served an address at a time.
 */

/* fdb_burst_hash() - the keys and hashes of @m addresses (NULL ones
 * skipped), each bucket's line prefetched (@write: to learn there) */
static void fdb_burst_hash(const struct fdb *fdb, const uint8_t *const macs[],
			   const uint16_t vlans[], unsigned m, uint64_t *keys,
			   uint64_t *hashes, bool write)
{
	for (unsigned i = 0; i < m; i++) {
		if (!macs[i])
			continue;
		keys[i] = fdb_key(macs[i], vlans[i]);
		hashes[i] = fdb_hash(keys[i]);
		fdb_prefetch(fdb, hashes[i], write);
	}
}

void fdb_learn_burst(struct fdb *fdb, const uint8_t *const macs[],
		     const uint16_t vlans[], unsigned n, uint32_t port_no,
		     uint64_t now_ms, enum fdb_learn_result res[])
{
	uint64_t keys[FDB_BURST_MAX], hashes[FDB_BURST_MAX];

	if (fdb->mask < FDB_PREFETCH_MIN_SLOTS - 1) {
		for (unsigned i = 0; i < n; i++) {
			enum fdb_learn_result r;

			if (!macs[i])
				continue;
			r = fdb_learn(fdb, macs[i], vlans[i], port_no, now_ms);
			if (res)
				res[i] = r;
		}
		return;
	}
	while (n) {
		unsigned m = n < FDB_BURST_MAX ? n : FDB_BURST_MAX;

		fdb_burst_hash(fdb, macs, vlans, m, keys, hashes, true);
		for (unsigned i = 0; i < m; i++) {
			enum fdb_learn_result r;

			if (!macs[i])
				continue;
			r = fdb_learn_hashed(fdb, keys[i], hashes[i], port_no,
					     now_ms);
			if (res)
				res[i] = r;
		}
		macs += m;
		vlans += m;
		if (res)
			res += m;
		n -= m;
	}
}

void fdb_lookup_burst(const struct fdb *fdb, const uint8_t *const macs[],
		      const uint16_t vlans[], unsigned n, uint64_t now_ms,
		      uint32_t ports[])
{
	uint64_t keys[FDB_BURST_MAX], hashes[FDB_BURST_MAX];

	if (fdb->mask < FDB_PREFETCH_MIN_SLOTS - 1) {
		for (unsigned i = 0; i < n; i++)
			ports[i] =
			    macs[i] ? fdb_lookup(fdb, macs[i], vlans[i], now_ms)
				    : FDB_PORT_NONE;
		return;
	}
	while (n) {
		unsigned m = n < FDB_BURST_MAX ? n : FDB_BURST_MAX;

		fdb_burst_hash(fdb, macs, vlans, m, keys, hashes, false);
		for (unsigned i = 0; i < m; i++)
			ports[i] = macs[i]
				       ? fdb_lookup_hashed(fdb, keys[i],
							   hashes[i], now_ms)
				       : FDB_PORT_NONE;
		macs += m;
		vlans += m;
		ports += m;
		n -= m;
	}
}

void fdb_forward_burst(struct fdb *fdb, const uint8_t *const srcs[],
		       const uint8_t *const dsts[], const uint16_t vlans[],
		       unsigned n, uint32_t port_no, uint64_t now_ms,
		       uint32_t ports[])
{
	uint64_t skeys[FDB_BURST_MAX], shashes[FDB_BURST_MAX];
	uint64_t dkeys[FDB_BURST_MAX], dhashes[FDB_BURST_MAX];

	/* a small table, or more than one round of prefetches (every source
	 * must be learned before the first lookup) */
	if (fdb->mask < FDB_PREFETCH_MIN_SLOTS - 1 || n > FDB_BURST_MAX) {
		fdb_learn_burst(fdb, srcs, vlans, n, port_no, now_ms, NULL);
		fdb_lookup_burst(fdb, dsts, vlans, n, now_ms, ports);
		return;
	}
	fdb_burst_hash(fdb, srcs, vlans, n, skeys, shashes, true);
	fdb_burst_hash(fdb, dsts, vlans, n, dkeys, dhashes, false);
	for (unsigned i = 0; i < n; i++)
		if (srcs[i])
			fdb_learn_hashed(fdb, skeys[i], shashes[i], port_no,
					 now_ms);
	for (unsigned i = 0; i < n; i++)
		ports[i] = dsts[i] ? fdb_lookup_hashed(fdb, dkeys[i],
						       dhashes[i], now_ms)
				   : FDB_PORT_NONE;
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
		fdb_unaccount(fdb, i);
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
 * @port_no:	the port, for the port rule
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

/* fdb_drop_oldest() - delete the @n oldest learned entries of @port_no
 * (it has that many); return @n */
static unsigned fdb_drop_oldest(struct fdb *fdb, uint32_t port_no, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		fdb_remove_at(fdb, fdb->ports[port_no].oldest);
	return n;
}

unsigned fdb_flush_port(struct fdb *fdb, uint32_t port_no, bool with_static)
{
	unsigned n;

	if (with_static)
		n = fdb_sweep(fdb, FDB_SWEEP_PORT_ALL, port_no, 0);
	else	/* its own list: no walk over the whole table */
		n = fdb_drop_oldest(fdb, port_no,
				    fdb_port_learned(fdb, port_no));
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

/* -- groups and limits --------------------------------------------------- */

/* fdb_group_find() - the record of group @name, or FDB_NIL */
static uint32_t fdb_group_find(const struct fdb *fdb, uint64_t name)
{
	for (uint32_t g = 0; g < fdb->ngroups; g++)
		if (fdb->groups[g].name == name)
			return g;
	return FDB_NIL;
}

/* fdb_group_join() - the record of group @name, made if it has none;
 * FDB_NIL if memory cannot be had */
static uint32_t fdb_group_join(struct fdb *fdb, uint64_t name)
{
	uint32_t g = fdb_group_find(fdb, name);
	struct fdb_group *groups;

	if (g == FDB_NIL)
		g = fdb_group_find(fdb, FDB_GROUP_NONE);
	if (g == FDB_NIL) {
		uint32_t n = fdb->ngroups ? fdb->ngroups * 2 : 4;

		groups = realloc(fdb->groups, (size_t)n * sizeof(*groups));
		if (!groups)
			return FDB_NIL;
		memset(groups + fdb->ngroups, 0,
		       (size_t)(n - fdb->ngroups) * sizeof(*groups));
		g = fdb->ngroups;
		fdb->groups = groups;
		fdb->ngroups = n;
	}
	if (!fdb->groups[g].nports)
		fdb->groups[g] = (struct fdb_group){
		    .name = name,
		    .limit = FDB_LIMIT_DEFAULT,
		};
	return g;
}

/* fdb_group_leave() - take @port_no (with records) out of its group */
static void fdb_group_leave(struct fdb *fdb, uint32_t port_no)
{
	struct fdb_port *p = &fdb->ports[port_no];
	struct fdb_group *g;

	if (p->group == FDB_NIL)
		return;
	g = &fdb->groups[p->group];
	g->learned -= p->learned;
	if (!--g->nports)
		*g = (struct fdb_group){.name = FDB_GROUP_NONE};
	p->group = FDB_NIL;
}

bool fdb_set_port_group(struct fdb *fdb, uint32_t port_no, uint64_t group)
{
	struct fdb_port *p;
	uint32_t g;

	if (port_no >= FDB_PORT_NO_LIMIT || !fdb_reserve(fdb, port_no))
		return false;
	p = &fdb->ports[port_no];
	if (p->group != FDB_NIL && fdb->groups[p->group].name == group)
		return true;
	fdb_group_leave(fdb, port_no);
	if (group == FDB_GROUP_NONE)
		return true;
	g = fdb_group_join(fdb, group);
	if (g == FDB_NIL)
		return false;
	p->group = g;
	fdb->groups[g].nports++;
	fdb->groups[g].learned += p->learned;
	return true;
}

bool fdb_set_port_limit(struct fdb *fdb, uint32_t port_no, uint32_t limit)
{
	struct fdb_port *p;
	uint32_t max;

	if (port_no >= FDB_PORT_NO_LIMIT || !fdb_reserve(fdb, port_no))
		return false;
	p = &fdb->ports[port_no];
	p->limit = limit;
	max = fdb_port_limit(fdb, p);
	if (limit != FDB_LIMIT_DEFAULT && p->learned > max)
		fdb->stats.evicted +=
		    fdb_drop_oldest(fdb, port_no, p->learned - max);
	return true;
}

/**
 * fdb_group_trim() - bring group @g down to its limit: the oldest entries
 * of its fullest port go first, until that port is level with the next
 * fullest, so the group's ports end up as even as the cut allows
 */
static void fdb_group_trim(struct fdb *fdb, uint32_t g)
{
	uint32_t max = fdb_group_limit(fdb, &fdb->groups[g]);

	while (fdb->groups[g].learned > max) {
		uint32_t over = fdb->groups[g].learned - max;
		uint32_t first = FDB_NIL, most = 0, second = 0, n;

		for (uint32_t no = 0; no < fdb->nports; no++) {
			uint32_t c = fdb->ports[no].learned;

			if (fdb->ports[no].group != g)
				continue;
			if (c > most) {
				second = most;
				most = c;
				first = no;
			} else if (c > second) {
				second = c;
			}
		}
		n = most - second + 1;
		if (n > most)
			n = most;
		if (n > over)
			n = over;
		fdb->stats.evicted += fdb_drop_oldest(fdb, first, n);
	}
}

bool fdb_set_group_limit(struct fdb *fdb, uint64_t group, uint32_t limit)
{
	uint32_t g;

	if (group == FDB_GROUP_NONE)
		return false;
	g = fdb_group_find(fdb, group);
	if (g == FDB_NIL)
		return false;
	fdb->groups[g].limit = limit;
	if (limit != FDB_LIMIT_DEFAULT)
		fdb_group_trim(fdb, g);
	return true;
}

unsigned fdb_forget_port(struct fdb *fdb, uint32_t port_no)
{
	unsigned n = fdb_flush_port(fdb, port_no, true);

	if (port_no < fdb->nports) {
		fdb_group_leave(fdb, port_no);
		fdb->ports[port_no].limit = FDB_LIMIT_DEFAULT;
	}
	return n;
}

/* -- the table ----------------------------------------------------------- */

struct fdb *fdb_new(uint32_t max_entries, uint32_t port_max, uint64_t age_ms)
{
	struct fdb *fdb = calloc(1, sizeof(*fdb));
	struct fdb_slot *slots = fdb_slots_new(FDB_MIN_SLOTS);
	struct fdb_link *links = malloc(FDB_MIN_SLOTS * sizeof(*links));

	if (!fdb || !slots || !links) {
		free(fdb);
		free(slots);
		free(links);
		return NULL;
	}
	fdb_set_geometry(fdb, slots, links, FDB_MIN_SLOTS);
	fdb_set_limits(fdb, max_entries, port_max);
	fdb_set_group_max(fdb, FDB_GROUP_MAX_DEFAULT);
	fdb_set_age(fdb, age_ms);
	return fdb;
}

void fdb_free(struct fdb *fdb)
{
	if (!fdb)
		return;
	free(fdb->slots);
	free(fdb->links);
	free(fdb->ports);
	free(fdb->groups);
	free(fdb->by_count);
	free(fdb);
}

void fdb_set_limits(struct fdb *fdb, uint32_t max_entries, uint32_t port_max)
{
	fdb->max_entries = max_entries ? max_entries : 1;
	fdb->port_max = port_max ? port_max : 1;
}

void fdb_set_group_max(struct fdb *fdb, uint32_t group_max)
{
	fdb->group_max = group_max ? group_max : 1;
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

uint32_t fdb_group_count(const struct fdb *fdb, uint64_t group)
{
	uint32_t g = group == FDB_GROUP_NONE ? FDB_NIL
					     : fdb_group_find(fdb, group);

	return g == FDB_NIL ? 0 : fdb->groups[g].learned;
}

void fdb_get_stats(const struct fdb *fdb, struct fdb_stats *st)
{
	*st = fdb->stats;
}

/* fdb_entry_of() - slot @s (in use) as an entry */
static void fdb_entry_of(const struct fdb_slot *s, struct fdb_entry_info *e)
{
	uint64_t mac = s->key & FDB_KEY_MAC_MASK;

	for (int b = 0; b < 6; b++)
		e->mac[b] = (uint8_t)(mac >> (40 - 8 * b));
	e->vlan = (uint16_t)((s->key >> FDB_KEY_VLAN_SHIFT) & FDB_VLAN_MASK);
	e->is_static = s->val & FDB_VAL_STATIC;
	e->port_no = fdb_val_port(s->val);
	e->last_seen_ms = e->is_static ? 0 : fdb_val_seen(s->val);
}

bool fdb_get(const struct fdb *fdb, const uint8_t mac[6], uint16_t vlan,
	     uint64_t now_ms, struct fdb_entry_info *e)
{
	uint64_t key = fdb_key(mac, vlan);
	const struct fdb_slot *s = &fdb->slots[fdb_find(fdb, key)];

	if (s->key != key ||
	    (!(s->val & FDB_VAL_STATIC) && fdb_val_expired(fdb, s->val, now_ms)))
		return false;
	fdb_entry_of(s, e);
	return true;
}

void fdb_foreach(const struct fdb *fdb, uint64_t now_ms,
		 void (*cb)(const struct fdb_entry_info *e, void *ctx),
		 void *ctx)
{
	uint32_t i;

	for (i = 0; i <= fdb->mask; i++) {
		const struct fdb_slot *s = &fdb->slots[i];
		struct fdb_entry_info e;

		if (!s->key)
			continue;
		if (!(s->val & FDB_VAL_STATIC) &&
		    fdb_val_expired(fdb, s->val, now_ms))
			continue;
		fdb_entry_of(s, &e);
		cb(&e, ctx);
	}
}
