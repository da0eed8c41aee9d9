// SPDX-License-Identifier: MIT
/* qmp_cmds.c - the QMP command table and its handlers, and the peer events
 *
 * One handler per command of the schema (ctl/qapi/), in one table, in the
 * schema's order.  The server (qmp.c) has checked the arguments against the
 * schema before a handler runs, so a handler reads them without re-checking
 * names or JSON types; it checks what the schema cannot say (ranges, names
 * that must exist) and talks to the core only through its public functions
 * (netdev_*, hub_*, port_*, daemon_*).
 *
 * Owns: the port observer that turns stream peers coming and going into
 * NETDEV_STREAM_CONNECTED / NETDEV_STREAM_DISCONNECTED events (and
 * failover negotiated into FAILOVER_NEGOTIATED).
 *
 * Must never: block, keep a pointer to a session past the call, or touch a
 * backend's state.
 */

#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "announce.h"
#include "capture.h"
#include "chardev.h"
#include "clock.h"
#include "daemon.h"
#include "fdb.h"
#include "hub.h"
#include "log.h"
#include "netdev.h"
#include "guest_nic.h"
#include "port.h"
#include "qmp.h"
#include "schema.h"
#include "user.h"
#include "vxlan.h"

/* -- arguments ----------------------------------------------------------- */

/* qmp_arg_str() - a string argument, or NULL when absent */
static const char *qmp_arg_str(const json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

/* qmp_arg_int() - an integer argument into *@v; false when absent */
static bool qmp_arg_int(const json_t *args, const char *key, int64_t *v)
{
	const json_t *j = json_object_get(args, key);

	if (!json_is_integer(j))
		return false;
	*v = json_integer_value(j);
	return true;
}

/**
 * qmp_arg_hub() - the hub named by the optional "hubid" argument
 * @hub:	set to the hub, or NULL when the argument is absent
 * Return: false ("hub N does not exist") when it names no hub
 */
static bool qmp_arg_hub(const json_t *args, struct hub **hub,
			struct nh_error **errp)
{
	int64_t id;

	*hub = NULL;
	if (!qmp_arg_int(args, "hubid", &id))
		return true;
	if (id >= INT32_MIN && id <= INT32_MAX)
		*hub = hub_find((int32_t)id);
	if (!*hub) {
		nh_error_setg(errp, "hub %lld does not exist", (long long)id);
		return false;
	}
	return true;
}

/* -- the protocol and the schema ----------------------------------------- */

/* qmp_capabilities is the server's: it answers it in every state */
static bool qmp_cmd_capabilities(struct qmp_session *s, const json_t *args,
				 json_t **ret, struct nh_error **errp)
{
	return true;
}

/**
 * qmp_version_part() - the next dot-separated number of a version string
 * ("0.1.0", "1.2.3-rc1"); 0 when there is none
 */
static json_int_t qmp_version_part(const char **p)
{
	json_int_t v = 0;

	while (**p >= '0' && **p <= '9' && v < 1000000)
		v = v * 10 + (*(*p)++ - '0');
	if (**p == '.')
		(*p)++;
	return v;
}

/* query-version: nethub's version in QEMU's VersionInfo shape; the session
 * is not used (the greeting may call it with NULL) */
static bool qmp_cmd_query_version(struct qmp_session *s, const json_t *args,
				  json_t **ret, struct nh_error **errp)
{
	const char *v = NETHUB_VERSION;
	json_int_t major = qmp_version_part(&v);
	json_int_t minor = qmp_version_part(&v);
	json_int_t micro = qmp_version_part(&v);

	*ret = json_pack("{s{sI sI sI} ss}", "qemu", "major", major, "minor",
			 minor, "micro", micro, "package",
			 "nethub " NETHUB_VERSION);
	return true;
}

static bool qmp_cmd_query_commands(struct qmp_session *s, const json_t *args,
				   json_t **ret, struct nh_error **errp)
{
	*ret = schema_command_list();
	return true;
}

static bool qmp_cmd_query_qmp_schema(struct qmp_session *s, const json_t *args,
				     json_t **ret, struct nh_error **errp)
{
	*ret = schema_introspect();
	return true;
}

/* -- netdevs ------------------------------------------------------------- */

/* netdev_add: the flat Netdev union; fd names resolve on this session */
static uv_loop_t *qmp_loop; /* the daemon's, where netdevs are added */

static bool qmp_cmd_netdev_add(struct qmp_session *s, const json_t *args,
			       json_t **ret, struct nh_error **errp)
{
	return netdev_add(qmp_loop, args, errp) != NULL;
}

/* netdev_del: ports go off the switch at once; memory still reachable by
 * I/O in flight is freed by the backend when that I/O completes */
static bool qmp_cmd_netdev_del(struct qmp_session *s, const json_t *args,
			       json_t **ret, struct nh_error **errp)
{
	return netdev_del(qmp_arg_str(args, "id"), errp);
}

/* hostfwd_add, hostfwd_remove: QEMU's HMP commands for user netdevs */
static bool qmp_cmd_hostfwd_add(struct qmp_session *s, const json_t *args,
				json_t **ret, struct nh_error **errp)
{
	return user_hostfwd_add(qmp_arg_str(args, "id"),
				qmp_arg_str(args, "rule"), errp);
}

static bool qmp_cmd_hostfwd_remove(struct qmp_session *s, const json_t *args,
				   json_t **ret, struct nh_error **errp)
{
	return user_hostfwd_remove(qmp_arg_str(args, "id"),
				   qmp_arg_str(args, "rule"), errp);
}

/* -- chardevs (QEMU's socket chardev, unix paths) ----------------------- */

static bool qmp_cmd_chardev_add(struct qmp_session *s, const json_t *args,
				json_t **ret, struct nh_error **errp)
{
	return chardev_add(qmp_loop, args, errp);
}

static bool qmp_cmd_chardev_remove(struct qmp_session *s, const json_t *args,
				   json_t **ret, struct nh_error **errp)
{
	return chardev_remove(qmp_arg_str(args, "id"), errp);
}

static bool qmp_cmd_query_chardev(struct qmp_session *s, const json_t *args,
				  json_t **ret, struct nh_error **errp)
{
	*ret = chardev_query();
	return true;
}

static bool qmp_cmd_set_link(struct qmp_session *s, const json_t *args,
			     json_t **ret, struct nh_error **errp)
{
	return netdev_set_link(qmp_arg_str(args, "name"),
			       json_is_true(json_object_get(args, "up")), errp);
}

/* -- NICs: rx filters and announcements ----------------------------------
 *
 * Both act on NICs: netdevs of type "nic" (DESIGN.md, switch/nic.h), which
 * own a MAC and an rx filter.  The announce timers are the control plane's:
 * one announcer (announce.h) on the daemon's loop (the default loop), made
 * in qmp_cmds_init() and freed in qmp_cmds_fini(), before the daemon's
 * teardown closes the loop's handles.
 */

static struct announcer *qmp_announcer;

static bool qmp_is_nic(const struct netdev *nd)
{
	return !strcmp(netdev_type(nd), "nic");
}

/* qmp_nic_rx_filter() - RxFilterInfo of NIC @nd, or NULL if it cannot
 * tell; reading it re-arms the NIC's NIC_RX_FILTER_CHANGED */
static json_t *qmp_nic_rx_filter(const struct netdev *nd)
{
	struct nic *nic = nic_from_netdev(nd);

	return nic ? nic_query_rx_filter(nic) : NULL;
}

/* NIC_RX_FILTER_CHANGED: the NIC's name and its path, "/nethub/nic/ID" */
static void qmp_on_nic_changed(struct nic *nic)
{
	qmp_event("NIC_RX_FILTER_CHANGED",
		  json_pack("{ss ss}", "name", nic_name(nic), "path",
			    nic->path));
}

/**
 * set-rx-filter (nethub extension): given members replace, others stay.
 * Unknown names and non-NICs get query-rx-filter's errors.
 */
static bool qmp_cmd_set_rx_filter(struct qmp_session *s, const json_t *args,
				  json_t **ret, struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "name");
	struct netdev *nd = netdev_find(name);

	if (!nd && !port_find(name)) {
		nh_error_setg(errp, "invalid net client name: %s", name);
		return false;
	}
	if (!nd || !qmp_is_nic(nd) || !nic_from_netdev(nd)) {
		nh_error_setg(errp, "net client(%s) isn't a NIC", name);
		return false;
	}
	return nic_set_rx_filter(nic_from_netdev(nd), args, errp);
}

/**
 * query-rx-filter: every NIC's filter, or the named one.  QEMU's errors: a
 * name of no net client (here: netdev or port) is "invalid net client
 * name", one of something else than a NIC "isn't a NIC".
 */
static bool qmp_cmd_query_rx_filter(struct qmp_session *s, const json_t *args,
				    json_t **ret, struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "name");
	json_t *list = json_array();
	struct netdev *nd;

	if (!name) {
		for (nd = netdev_first(); nd; nd = nd->next) {
			json_t *info =
			    qmp_is_nic(nd) ? qmp_nic_rx_filter(nd) : NULL;

			if (info)
				json_array_append_new(list, info);
		}
		*ret = list;
		return true;
	}

	nd = netdev_find(name);
	if (!nd && !port_find(name)) {
		nh_error_setg(errp, "invalid net client name: %s", name);
	} else if (!nd || !qmp_is_nic(nd)) {
		nh_error_setg(errp, "net client(%s) isn't a NIC", name);
	} else {
		json_t *info = qmp_nic_rx_filter(nd);

		if (info) {
			json_array_append_new(list, info);
			*ret = list;
			return true;
		}
		nh_error_setg(
		    errp, "net client(%s) doesn't support rx-filter querying",
		    name);
	}
	json_decref(list);
	return false;
}

/* One round of an announce-self timer: every NIC it selects, as they
 * exist now (a NIC added meanwhile is included, a deleted one is not) */
static void qmp_announce_round(void *ctx, const struct announce_params *p,
			       uint64_t round_no)
{
	unsigned frames = 0;

	(void)ctx;
	for (struct nic *nic = nic_first(); nic; nic = nic->next)
		if (announce_params_selects(p, nic_name(nic)))
			frames += nic_announce(nic);
	log_debug("announce-self '%s': round %llu, %u frames",
		  p->id ? p->id : "", (unsigned long long)round_no, frames);
}

/**
 * qmp_announce_start() - start announcing for the NICs @p selects
 *
 * announcer_start() sends round 1 at once and runs the rest on the loop;
 * an id already running is replaced, rounds = 0 cancels it.  Names in @p
 * that are no NIC are skipped, as QEMU does.  Without an announcer (the
 * server not started: handlers run alone, or no memory at start) the
 * checked request is logged and nothing is sent.
 */
static bool qmp_announce_start(const struct announce_params *p,
			       struct nh_error **errp)
{
	if (!qmp_announcer) {
		log_warn("announce-self '%s': no announcer, nothing sent",
			 p->id ? p->id : "");
		return true;
	}
	return announcer_start(qmp_announcer, p, errp);
}

/* announce-self: AnnounceParameters, checked as announce.h says (QEMU
 * checks nothing; negative values are refused) */
static bool qmp_cmd_announce_self(struct qmp_session *s, const json_t *args,
				  json_t **ret, struct nh_error **errp)
{
	const json_t *names = json_object_get(args, "interfaces");
	struct announce_params p = {
	    .has_interfaces = names != NULL,
	    .n_interfaces = json_array_size(names),
	    .id = qmp_arg_str(args, "id"),
	};
	const char **list = NULL;
	bool ok;

	qmp_arg_int(args, "initial", &p.initial);
	qmp_arg_int(args, "max", &p.max);
	qmp_arg_int(args, "rounds", &p.rounds);
	qmp_arg_int(args, "step", &p.step);
	if (p.n_interfaces) {
		list = calloc(p.n_interfaces, sizeof(*list));
		if (!list) {
			nh_error_setg(errp, "announce-self: out of memory");
			return false;
		}
		for (size_t i = 0; i < p.n_interfaces; i++)
			list[i] = json_string_value(json_array_get(names, i));
		p.interfaces = list;
	}
	ok = announce_params_check(&p, errp) && qmp_announce_start(&p, errp);
	free(list);
	return ok;
}

/* -- file descriptors ---------------------------------------------------- */

static bool qmp_cmd_getfd(struct qmp_session *s, const json_t *args,
			  json_t **ret, struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "fdname");
	int fd = qmp_session_take_passed_fd(s);

	if (fd < 0) {
		nh_error_setg(errp,
			      "No file descriptor supplied via SCM_RIGHTS");
		return false;
	}
	/* fd=3 means descriptor 3: a name must not look like a number */
	if (name[0] >= '0' && name[0] <= '9') {
		close(fd);
		nh_error_setg(errp, "Parameter 'fdname' expects a name not "
				    "starting with a digit");
		return false;
	}
	return qmp_session_add_fd(s, name, fd, errp);
}

static bool qmp_cmd_closefd(struct qmp_session *s, const json_t *args,
			    json_t **ret, struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "fdname");

	if (!qmp_session_close_fd(s, name)) {
		nh_error_setg(errp, "File descriptor named '%s' not found",
			      name);
		return false;
	}
	return true;
}

/* quit: the server sends this reply before the loop stops */
static bool qmp_cmd_quit(struct qmp_session *s, const json_t *args,
			 json_t **ret, struct nh_error **errp)
{
	daemon_request_stop("quit");
	return true;
}

/* -- nethub's own queries ------------------------------------------------ */

static bool qmp_cmd_query_netdevs(struct qmp_session *s, const json_t *args,
				  json_t **ret, struct nh_error **errp)
{
	json_t *list = json_array();

	for (const struct netdev *nd = netdev_first(); nd; nd = nd->next)
		json_array_append_new(list, netdev_info(nd));
	*ret = list;
	return true;
}

static bool qmp_cmd_query_hubs(struct qmp_session *s, const json_t *args,
			       json_t **ret, struct nh_error **errp)
{
	uint64_t now = clock_now_ms();
	json_t *list = json_array();

	for (const struct hub *h = hub_first(); h; h = h->next)
		json_array_append_new(list, hub_info(h, now));
	*ret = list;
	return true;
}

/* A NIC's pinned MAC shows the NIC and its snooped addresses */
static void qmp_fdb_entry_nic(json_t *entry)
{
	const struct port *p;
	const struct nic *nic;
	uint8_t mac[6];

	if (!json_is_true(json_object_get(entry, "static")))
		return;
	p = port_find(json_string_value(json_object_get(entry, "port")));
	nic = p && p->netdev ? nic_of_backend(p->netdev) : NULL;
	if (!nic ||
	    !nic_parse_mac(json_string_value(json_object_get(entry, "mac")),
			   mac) ||
	    memcmp(mac, nic->mac, 6))
		return;
	json_object_set_new(entry, "nic", json_string(nic_name(nic)));
	json_object_set_new(entry, "addresses", nic_addresses(nic));
}

/* The tables of the vxlan netdevs on hub @h, or NULL when it has none */
static json_t *qmp_hub_vxlan_fdb(const struct hub *h, uint64_t now)
{
	json_t *list = NULL;

	for (const struct netdev *nd = netdev_first(); nd; nd = nd->next) {
		if (!netdev_is_vxlan(nd) || nd->hubid != h->id)
			continue;
		if (!list)
			list = json_array();
		json_array_extend(list, vxlan_fdb_json(nd, now));
	}
	return list;
}

static json_t *qmp_hub_fdb(const struct hub *h, uint64_t now)
{
	json_t *entries = hub_fdb_json(h, now), *e, *vx;
	size_t i;

	json_array_foreach(entries, i, e)
		qmp_fdb_entry_nic(e);
	e = json_pack("{si so}", "hubid", (int)h->id, "entries", entries);
	vx = qmp_hub_vxlan_fdb(h, now);
	if (vx)
		json_object_set_new(e, "vxlan", vx);
	return e;
}

/* query-fdb: [HubFdb] of every hub, or of the one "hubid" names */
static bool qmp_cmd_query_fdb(struct qmp_session *s, const json_t *args,
			      json_t **ret, struct nh_error **errp)
{
	uint64_t now = clock_now_ms();
	struct hub *one;
	json_t *list;

	if (!qmp_arg_hub(args, &one, errp))
		return false;
	list = json_array();
	if (one) {
		json_array_append_new(list, qmp_hub_fdb(one, now));
	} else {
		for (const struct hub *h = hub_first(); h; h = h->next)
			json_array_append_new(list, qmp_hub_fdb(h, now));
	}
	*ret = list;
	return true;
}

/**
 * fdb-flush: forget learned addresses (static entries stay) of every hub,
 * of one hub ("hubid"), or of one port ("port": a port name, or a netdev id
 * for all of its ports).  Given both, the port must be on that hub.
 */
static bool qmp_cmd_fdb_flush(struct qmp_session *s, const json_t *args,
			      json_t **ret, struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "port");
	unsigned flushed = 0;
	struct netdev *nd;
	struct port *p;
	struct hub *h;

	if (!qmp_arg_hub(args, &h, errp))
		return false;
	if (!name) {
		flushed = h ? hub_flush_fdb(h) : hub_flush_all();
	} else if ((p = port_find(name))) {
		if (h && p->hub != h) {
			nh_error_setg(errp, "port %s is not on hub %d", name,
				      (int)h->id);
			return false;
		}
		flushed = hub_flush_port(p);
	} else if ((nd = netdev_find(name))) {
		if (h && nd->hubid != h->id) {
			nh_error_setg(errp, "netdev %s is not on hub %d", name,
				      (int)h->id);
			return false;
		}
		for (p = nd->ports; p; p = p->netdev_next)
			flushed += hub_flush_port(p);
	} else {
		nh_error_set(errp, NH_ERR_DEVICE_NOT_FOUND,
			     "Device '%s' not found", name);
		return false;
	}
	*ret = json_pack("{sI}", "flushed", (json_int_t)flushed);
	return true;
}

/* -- port security: MAC limits and static entries ------------------------
 *
 * fdb-set-mac-limit, fdb-add, fdb-del (nethub extensions): the checks the
 * schema cannot make, then hub_set_*_mac_limit() / hub_fdb_add() / _del().
 */

#define QMP_MAC_LIMIT_MAX (16u * 1024 * 1024)
#define QMP_VLAN_MAX	  4095

/* qmp_arg_mac() - the "mac" argument: a unicast address for @unicast_only,
 * or any; false ("Parameter 'mac' expects ...") when it is neither */
static bool qmp_arg_mac(const json_t *args, bool unicast_only, uint8_t mac[6],
			struct nh_error **errp)
{
	if (!nic_parse_mac(qmp_arg_str(args, "mac"), mac)) {
		nh_error_setg(errp, "Parameter 'mac' expects a MAC address "
				    "xx:xx:xx:xx:xx:xx");
		return false;
	}
	if (unicast_only && mac_is_multicast(mac)) {
		nh_error_setg(errp, "Parameter 'mac' expects a unicast MAC "
				    "address, not a multicast one");
		return false;
	}
	return true;
}

/* qmp_arg_vlan() - the optional "vlan" argument (0 when absent) */
static bool qmp_arg_vlan(const json_t *args, uint16_t *vlan,
			 struct nh_error **errp)
{
	int64_t v = 0;

	qmp_arg_int(args, "vlan", &v);
	if (v < 0 || v > QMP_VLAN_MAX) {
		nh_error_setg(errp,
			      "Parameter 'vlan' expects a VLAN ID from 0 to %d",
			      QMP_VLAN_MAX);
		return false;
	}
	*vlan = (uint16_t)v;
	return true;
}

/* qmp_arg_port() - the port the "port" argument names, or NULL: a
 * GenericError for a netdev without a port of its own name (a listening
 * socket's peers are ID.N), else DeviceNotFound */
static struct port *qmp_arg_port(const json_t *args, struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "port");
	struct port *p = port_find(name);

	if (p)
		return p;
	if (netdev_find(name))
		nh_error_setg(errp,
			      "netdev %s has no port named %s: name one of "
			      "its ports (%s.N)",
			      name, name, name);
	else
		nh_error_set(errp, NH_ERR_DEVICE_NOT_FOUND,
			     "Device '%s' not found", name);
	return NULL;
}

/* fdb-set-mac-limit: a netdev id (shared, kept for later ports) first,
 * then a port name (that port's own) */
static bool qmp_cmd_fdb_set_mac_limit(struct qmp_session *s,
				      const json_t *args, json_t **ret,
				      struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "port");
	uint32_t limit = FDB_LIMIT_DEFAULT;
	struct netdev *nd;
	struct port *p;
	int64_t v;

	if (qmp_arg_int(args, "mac-limit", &v)) {
		if (v < 0 || v > QMP_MAC_LIMIT_MAX) {
			nh_error_setg(errp,
				      "Parameter 'mac-limit' expects a count "
				      "from 0 to %u",
				      QMP_MAC_LIMIT_MAX);
			return false;
		}
		limit = (uint32_t)v;
	}
	nd = netdev_find(name);
	if (nd) {
		hub_set_netdev_mac_limit(nd, limit);
		return true;
	}
	p = qmp_arg_port(args, errp);
	return p && hub_set_port_mac_limit(p, limit, errp);
}

/* fdb-add: pin a unicast address to a port */
static bool qmp_cmd_fdb_add(struct qmp_session *s, const json_t *args,
			    json_t **ret, struct nh_error **errp)
{
	struct port *p;
	uint8_t mac[6];
	uint16_t vlan;

	if (!qmp_arg_mac(args, true, mac, errp) ||
	    !qmp_arg_vlan(args, &vlan, errp))
		return false;
	p = qmp_arg_port(args, errp);
	return p && hub_fdb_add(p, mac, vlan, errp);
}

/* fdb-del: the hub from "hubid" or from the port; both must agree */
static bool qmp_cmd_fdb_del(struct qmp_session *s, const json_t *args,
			    json_t **ret, struct nh_error **errp)
{
	struct port *p = NULL;
	struct hub *h;
	uint8_t mac[6];
	uint16_t vlan;

	if (!qmp_arg_mac(args, false, mac, errp) ||
	    !qmp_arg_vlan(args, &vlan, errp) || !qmp_arg_hub(args, &h, errp))
		return false;
	if (qmp_arg_str(args, "port")) {
		p = qmp_arg_port(args, errp);
		if (!p)
			return false;
		if (!p->hub || (h && p->hub != h)) {
			nh_error_setg(errp, h ? "port %s is not on hub %d"
					      : "port %s is on no hub",
				      p->name, h ? (int)h->id : 0);
			return false;
		}
		h = p->hub;
	}
	if (!h) {
		nh_error_setg(errp, "fdb-del needs 'hubid' or 'port'");
		return false;
	}
	return hub_fdb_del(h, p, mac, vlan, errp);
}

/* vxlan-fdb-add, vxlan-fdb-del: the netdev, the MAC; vxlan.c the rest */
static struct netdev *qmp_arg_vxlan(const json_t *args, uint8_t mac[6],
				    struct nh_error **errp)
{
	const char *name = qmp_arg_str(args, "netdev");
	struct netdev *nd = netdev_find(name);

	if (!nd) {
		nh_error_set(errp, NH_ERR_DEVICE_NOT_FOUND,
			     "Device '%s' not found", name);
		return NULL;
	}
	if (!netdev_is_vxlan(nd)) {
		nh_error_setg(errp, "netdev %s is not a vxlan netdev", name);
		return NULL;
	}
	return qmp_arg_mac(args, false, mac, errp) ? nd : NULL;
}

static bool qmp_cmd_vxlan_fdb_add(struct qmp_session *s, const json_t *args,
				  json_t **ret, struct nh_error **errp)
{
	uint8_t mac[6];
	struct netdev *nd = qmp_arg_vxlan(args, mac, errp);

	return nd && vxlan_fdb_add(nd, mac, qmp_arg_str(args, "remote"), errp);
}

static bool qmp_cmd_vxlan_fdb_del(struct qmp_session *s, const json_t *args,
				  json_t **ret, struct nh_error **errp)
{
	uint8_t mac[6];
	struct netdev *nd = qmp_arg_vxlan(args, mac, errp);

	return nd && vxlan_fdb_del(nd, mac, qmp_arg_str(args, "remote"), errp);
}

/* port-set-alias: printable ASCII, shorter than PORT_ALIAS_MAX */
static bool qmp_cmd_port_set_alias(struct qmp_session *s, const json_t *args,
				   json_t **ret, struct nh_error **errp)
{
	const char *alias = qmp_arg_str(args, "alias");
	struct port *p;

	if (!alias)
		alias = "";
	if (strlen(alias) >= PORT_ALIAS_MAX) {
		nh_error_setg(errp, "Parameter 'alias' expects at most %d "
				    "characters",
			      PORT_ALIAS_MAX - 1);
		return false;
	}
	for (const char *c = alias; *c; c++) {
		if (*c < 0x20 || *c > 0x7e) {
			nh_error_setg(errp, "Parameter 'alias' expects "
					    "printable ASCII characters");
			return false;
		}
	}
	p = qmp_arg_port(args, errp);
	if (!p)
		return false;
	snprintf(p->alias, sizeof(p->alias), "%s", alias);
	return true;
}

/* -- end of port security ------------------------------------------------ */

/* -- captures (QEMU's filter-dump objects) ------------------------------ */

/* object-add: the flat ObjectOptions union; capture_add() checks what the
 * schema cannot (names that must exist, maxlen 0, the filter, the file) */
static bool qmp_cmd_object_add(struct qmp_session *s, const json_t *args,
			       json_t **ret, struct nh_error **errp)
{
	return capture_add(args, errp) != NULL;
}

/* object-del: returns once the capture's file is flushed and closed */
static bool qmp_cmd_object_del(struct qmp_session *s, const json_t *args,
			       json_t **ret, struct nh_error **errp)
{
	return capture_del(qmp_arg_str(args, "id"), errp);
}

static bool qmp_cmd_query_captures(struct qmp_session *s, const json_t *args,
				   json_t **ret, struct nh_error **errp)
{
	*ret = capture_query();
	return true;
}

/* -- the table ----------------------------------------------------------- */

const struct qmp_command qmp_commands[] = {
    {"qmp_capabilities", qmp_cmd_capabilities},
    {"query-version", qmp_cmd_query_version},
    {"query-commands", qmp_cmd_query_commands},
    {"query-qmp-schema", qmp_cmd_query_qmp_schema},
    {"netdev_add", qmp_cmd_netdev_add},
    {"netdev_del", qmp_cmd_netdev_del},
    {"hostfwd_add", qmp_cmd_hostfwd_add},
    {"hostfwd_remove", qmp_cmd_hostfwd_remove},
    {"set_link", qmp_cmd_set_link},
    {"vxlan-fdb-add", qmp_cmd_vxlan_fdb_add},
    {"vxlan-fdb-del", qmp_cmd_vxlan_fdb_del},
    {"chardev-add", qmp_cmd_chardev_add},
    {"chardev-remove", qmp_cmd_chardev_remove},
    {"query-chardev", qmp_cmd_query_chardev},
    {"query-rx-filter", qmp_cmd_query_rx_filter},
    {"set-rx-filter", qmp_cmd_set_rx_filter},
    {"announce-self", qmp_cmd_announce_self},
    {"getfd", qmp_cmd_getfd},
    {"closefd", qmp_cmd_closefd},
    {"quit", qmp_cmd_quit},
    {"query-netdevs", qmp_cmd_query_netdevs},
    {"query-hubs", qmp_cmd_query_hubs},
    {"query-fdb", qmp_cmd_query_fdb},
    {"fdb-flush", qmp_cmd_fdb_flush},
    {"fdb-set-mac-limit", qmp_cmd_fdb_set_mac_limit},
    {"fdb-add", qmp_cmd_fdb_add},
    {"fdb-del", qmp_cmd_fdb_del},
    {"port-set-alias", qmp_cmd_port_set_alias},
    {"object-add", qmp_cmd_object_add},
    {"object-del", qmp_cmd_object_del},
    {"query-captures", qmp_cmd_query_captures},
    {NULL, NULL},
};

const struct qmp_command *qmp_command_find(const char *name)
{
	for (const struct qmp_command *c = qmp_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

bool qmp_command_run(uv_loop_t *loop, const char *name, const json_t *args,
		     struct nh_error **errp)
{
	const struct qmp_command *cmd = qmp_command_find(name);
	json_t *ret = NULL;
	bool ok;

	if (!cmd) {
		nh_error_set(errp, NH_ERR_COMMAND_NOT_FOUND,
			     "The command %s has not been found", name);
		return false;
	}
	if (!schema_check_args(name, args, errp))
		return false;
	if (!qmp_loop)
		qmp_loop = loop;
	ok = cmd->handler(NULL, args, &ret, errp);
	json_decref(ret);
	return ok;
}

/* -- events: stream peers coming and going ------------------------------- */

/**
 * qmp_socket_address() - @sa as QEMU's SocketAddress (flat form):
 * {"type": "inet", "host": "127.0.0.1", "port": "40000"} or
 * {"type": "unix", "path": "/run/x.sock"} (abstract names: "abstract":
 * true); NULL for other families
 */
static json_t *qmp_socket_address(const struct sockaddr *sa, socklen_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
				NI_NUMERICHOST | NI_NUMERICSERV))
			return NULL;
		return json_pack("{ss ss ss}", "type", "inet", "host", host,
				 "port", serv);
	}
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;

		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		if (n && un->sun_path[0] == '\0')
			return json_pack("{ss ss# sb}", "type", "unix", "path",
					 un->sun_path + 1, (int)(n - 1),
					 "abstract", 1);
		return json_pack("{ss ss#}", "type", "unix", "path",
				 un->sun_path, (int)strnlen(un->sun_path, n));
	}
	return NULL;
}

static void qmp_on_peer_connected(struct port *p, const struct sockaddr *sa,
				  socklen_t len)
{
	json_t *addr = qmp_socket_address(sa, len);

	if (!addr) {
		log_debug("port %s: peer address of family %d not reported",
			  p->name, sa->sa_family);
		return;
	}
	qmp_event("NETDEV_STREAM_CONNECTED",
		  json_pack("{ss so}", "netdev-id", p->name, "addr", addr));
}

static void qmp_on_peer_disconnected(struct port *p)
{
	qmp_event("NETDEV_STREAM_DISCONNECTED",
		  json_pack("{ss}", "netdev-id", p->name));
}

/* FAILOVER_NEGOTIATED: device-id is the netdev's id (a vhost-user
 * netdev with failover=on stands for the guest's standby device) */
static void qmp_on_failover(struct port *p)
{
	qmp_event("FAILOVER_NEGOTIATED",
		  json_pack("{ss}", "device-id", p->netdev->id));
}

static const struct port_observer qmp_port_observer = {
    .peer_connected = qmp_on_peer_connected,
    .peer_disconnected = qmp_on_peer_disconnected,
    .failover_negotiated = qmp_on_failover,
};

void qmp_cmds_init(uv_loop_t *loop)
{
	qmp_loop = loop;
	port_add_observer(&qmp_port_observer);
	nic_set_change_cb(qmp_on_nic_changed);
	if (!qmp_announcer)
		qmp_announcer =
		    announcer_new(loop, qmp_announce_round, NULL);
	if (!qmp_announcer)
		log_err("announce-self: out of memory; it will fail");
}

void qmp_cmds_fini(void)
{
	port_remove_observer(&qmp_port_observer);
	nic_set_change_cb(NULL);
	announcer_free(qmp_announcer);
	qmp_announcer = NULL;
}
