/* `quarantinectl metrics`: the daemon's figures as Prometheus families
 * (daemon.h metrics_render(); the format is prom.c's).  The same sources
 * as `status`, taken at one moment, so that a scrape and a status agree;
 * every family is written, with zeros, from the first scrape on, so that
 * rate() and alerts have a series to work on before the first outbreak. */
#include <stdio.h>

#include "daemon.h"
#include "detect.h"
#include "prom.h"

static const char *rule_label(const struct daemon *d, unsigned rule)
{
	return engine_rule_name(&d->eng, rule);
}

static void gauge1(const struct prom_sink *s, const char *name, const char *help, uint64_t v)
{
	prom_family(s, name, PROM_GAUGE, help);
	prom_u64(s, name, NULL, NULL, v);
}

static void counter1(const struct prom_sink *s, const char *name, const char *help, uint64_t v)
{
	prom_family(s, name, PROM_COUNTER, help);
	prom_u64(s, name, NULL, NULL, v);
}

/* Set elements the daemon holds in the kernel, by its view of the kernel
 * (enforce.h): a machine's MAC, its isolated addresses, its contained
 * ports. */
static uint64_t kernel_elements(struct daemon *d)
{
	uint64_t n = 0;

	for (struct hostrec *r = hostdb_first(&d->eng.hosts); r;
	     r = hostdb_next(&d->eng.hosts, r)) {
		n += r->kmac + r->nk;
		for (unsigned i = 0; i < r->naddrs; i++)
			n += r->addrs[i].kiso;
	}
	return n;
}

static void hosts(struct daemon *d, const struct prom_sink *s)
{
	unsigned per[HOST_STATE_COUNT] = {0};

	/* As status counts them: a merged record is history only. */
	for (struct hostrec *r = hostdb_first(&d->eng.hosts); r; r = hostdb_next(&d->eng.hosts, r))
		if (!r->merged)
			per[r->state < HOST_STATE_COUNT ? r->state : 0]++;
	prom_family(s, "quarantined_hosts", PROM_GAUGE,
		    "Hosts in the registry, by state (flagged, blocked, in certification or "
		    "released).");
	for (unsigned i = 0; i < HOST_STATE_COUNT; i++)
		prom_u64(s, "quarantined_hosts", "state", host_state_name((enum host_state)i),
			 per[i]);
	gauge1(s, "quarantined_hosts_max",
	       "Hosts the registry holds at most (limits.max_blocked); a full registry "
	       "blocks no more.",
	       hostdb_capacity(&d->eng.hosts));
	gauge1(s, "quarantined_kernel_elements",
	       "Set elements the daemon holds in the nftables table (MACs, isolated "
	       "addresses, contained ports).",
	       kernel_elements(d));
}

static void detections(struct daemon *d, const struct prom_sink *s)
{
	const struct engine_stats *st = &d->eng.st;

	prom_family(s, "quarantined_detections_total", PROM_COUNTER,
		    "Detections, by rule (repeats of a host's detection included).");
	for (unsigned i = 0; i < d->c->nrules; i++)
		prom_u64(s, "quarantined_detections_total", "rule", rule_label(d, i),
			 st->by_rule[i]);
	prom_u64(s, "quarantined_detections_total", "rule", rule_label(d, DETECT_RULE_TRW),
		 st->by_rule[DETECT_RULE_TRW]);
	/* Outside rules (outside.h) that detected anything: bounded by the
	 * registry's cap. */
	for (unsigned i = 0; i < d->eng.orules.n; i++)
		if (d->eng.orules.v[i].detections)
			prom_u64(s, "quarantined_detections_total", "rule", d->eng.orules.v[i].name,
				 d->eng.orules.v[i].detections);
	prom_family(s, "quarantined_detections_by_source_total", PROM_COUNTER,
		    "Detections, by source: our own (self) or from outside.");
	for (unsigned i = 0; i < SOURCE_COUNT; i++)
		prom_u64(s, "quarantined_detections_by_source_total", "source",
			 det_source_name((enum det_source)i), st->by_source[i]);
	prom_family(s, "quarantined_outside_dropped_total", PROM_COUNTER,
		    "Detections from outside dropped over their source's budget.");
	for (unsigned i = SOURCE_SELF + 1; i < SOURCE_COUNT; i++)
		prom_u64(s, "quarantined_outside_dropped_total", "source",
			 det_source_name((enum det_source)i), st->outside_dropped[i]);
	counter1(s, "quarantined_outside_invalid_total",
		 "Detections from outside refused by the parent's check of their fields.",
		 st->outside_invalid);
	counter1(s, "quarantined_outside_rules_folded_total",
		 "Detections from outside whose rule name found the registry of outside rule "
		 "names full (counted under the catch-all rule of their kind).",
		 d->eng.orules.full);
	counter1(s, "quarantined_detections_suppressed_total",
		 "Detections that repeated a host's rule and level: no new decision.",
		 st->detections_suppressed);
	counter1(s, "quarantined_registry_full_total",
		 "Detections not enforced because the registry was full of blocked hosts.",
		 st->registry_full);
	prom_family(s, "quarantined_actions_total", PROM_COUNTER,
		    "Level changes put in force, automatic or by operators, by the level put in "
		    "force (none: a release).");
	for (unsigned i = 0; i <= LEVEL_ISOLATE; i++)
		prom_u64(s, "quarantined_actions_total", "level", level_name((enum level)i),
			 st->actions_by_level[i]);
	counter1(s, "quarantined_action_errors_total",
		 "Level changes the kernel refused or that could not be sent.", st->action_errors);
	counter1(s, "quarantined_rate_limited_total",
		 "Automatic actions held back by the rate caps (enforce.max_actions_per_minute).",
		 d->eng.pol.rate_suppressed);
}

static void capture(struct daemon *d, const struct prom_sink *s)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{"quarantined_capture_received_packets_total",
		 "Packets the capture filter passed, by interface (counts start again with a new "
		 "sensor process)."},
		{"quarantined_capture_dropped_packets_total",
		 "Packets the kernel dropped for want of room in the capture buffer, by "
		 "interface."},
		{"quarantined_capture_ifdropped_packets_total",
		 "Packets the interface or its driver dropped (rx_dropped), by interface."},
	};

	for (unsigned f = 0; f < ARRAY_SIZE(fam); f++) {
		prom_family(s, fam[f].name, PROM_COUNTER, fam[f].help);
		for (unsigned i = 0; i < d->ncaps; i++) {
			const struct capture_stats *c = &d->caps[i].st;
			uint64_t v = f == 0 ? c->received : f == 1 ? c->dropped : c->ifdropped;

			prom_u64(s, fam[f].name, "interface", d->caps[i].name, v);
		}
	}
	prom_family(s, "quarantined_capture_up", PROM_GAUGE,
		    "1 when the interface is captured, 0 while it is down (retried).");
	for (unsigned i = 0; i < d->ncaps; i++)
		prom_u64(s, "quarantined_capture_up", "interface", d->caps[i].name,
			 d->link.stats.iface[i].up ? 1 : 0);
}

static void sensor(struct daemon *d, const struct prom_sink *s)
{
	const struct decode_stats *dec = engine_decode_stats(&d->eng);
	struct detect_stats ds;

	/* The sensor's figures (sensor.h), once a second; in-process
	 * sensing (tests) its own. */
	if (d->eng.det) {
		detect_get_stats(d->eng.det, &ds);
	} else {
		ds = d->link.stats.detect;
		dec = &d->link.stats.decode;
	}
	counter1(s, "quarantined_packets_total", "Packets decoded.", dec->packets);
	counter1(s, "quarantined_malformed_packets_total", "Packets truncated or malformed.",
		 dec->err[DECODE_E_TRUNCATED] + dec->err[DECODE_E_MALFORMED]);
	gauge1(s, "quarantined_hosts_tracked", "Hosts the detector's tables follow now.", ds.hosts);
	gauge1(s, "quarantined_hosts_tracked_max", "Hosts the detector's tables follow at most.",
	       ds.max_hosts);
	counter1(s, "quarantined_probes_total", "First contacts seen (probes).", ds.probes);
	if (d->eng.det)
		return;
	counter1(s, "quarantined_sensor_starts_total",
		 "Sensor processes started (the first, then one after each death).",
		 d->link.starts);
	counter1(s, "quarantined_sensor_deaths_total",
		 "Sensor processes that died or were killed for breaking the protocol.",
		 d->link.deaths);
	counter1(s, "quarantined_sensor_protocol_errors_total",
		 "Messages from the sensor refused as malformed.", d->link.protocol_errors);
	counter1(s, "quarantined_sensor_reports_lost_total",
		 "Reports the sensor could not send (its channel was full).",
		 d->link.stats.out_lost);
}

/* The feeds reader (feedlink.h): nothing without feeds.  Per feed, the
 * counts start again with a new reader, as the sensor's do. */
static void feeds(struct daemon *d, const struct prom_sink *s)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{"quarantined_feed_lines_total", "Lines read, by feed."},
		{"quarantined_feed_alerts_total", "Alerts and notices parsed, by feed."},
		{"quarantined_feed_detections_total",
		 "Detections sent to the parent (an inside host to contain or watch), by feed."},
		{"quarantined_feed_ignored_total",
		 "Alerts ignored: no inside host, an outside attacker, or the map says ignore."},
		{"quarantined_feed_errors_total",
		 "Lines refused (not JSON, not valid UTF-8, too long) and files that could not "
		 "be read, by feed."},
	};
	const struct feedlink *l = &d->feeds;

	if (!feedlink_wanted(l))
		return;
	for (unsigned f = 0; f < ARRAY_SIZE(fam); f++) {
		prom_family(s, fam[f].name, PROM_COUNTER, fam[f].help);
		for (unsigned i = 0; i < d->c->feeds.n; i++) {
			const struct fp_feed_stats *st = &l->stats.feed[i];
			uint64_t v = f == 0   ? st->lines
				     : f == 1 ? st->alerts
				     : f == 2 ? st->sent
				     : f == 3 ? st->ignored
					      : st->errors;

			prom_u64(s, fam[f].name, "feed", d->c->feeds.feed[i].name, v);
		}
	}
	prom_family(s, "quarantined_feed_up", PROM_GAUGE,
		    "1 while the feed's file is followed or a client writes to its socket.");
	for (unsigned i = 0; i < d->c->feeds.n; i++)
		prom_u64(s, "quarantined_feed_up", "feed", d->c->feeds.feed[i].name,
			 l->pid && l->stats.feed[i].state == FP_STATE_FOLLOWING ? 1 : 0);
	counter1(s, "quarantined_feeds_reader_starts_total",
		 "Feeds reader processes started (the first, then one after each death or "
		 "reload).",
		 l->starts);
	counter1(s, "quarantined_feeds_reader_deaths_total",
		 "Feeds reader processes that died or were killed for breaking the protocol.",
		 l->deaths);
	counter1(s, "quarantined_feeds_reader_protocol_errors_total",
		 "Messages from the feeds reader refused.", l->protocol_errors);
}

static void kernel(struct daemon *d, const struct prom_sink *s)
{
	counter1(s, "quarantined_nft_transactions_total",
		 "nftables transactions sent (resends included).", d->enf.st.transactions);
	counter1(s, "quarantined_nft_element_changes_total",
		 "Set element changes the kernel accepted.", d->enf.st.elements);
	prom_histogram(s, "quarantined_nft_commit_duration_seconds",
		       "Time to put a batch of changes in the kernel, from sending the "
		       "transaction to its last acknowledgement (resends included).",
		       &d->enf.st.apply);
	counter1(s, "quarantined_repairs_total",
		 "Checks of the table after outside changes (nft by hand, another program).",
		 d->rep.st.repairs);
	counter1(s, "quarantined_repairs_restored_total",
		 "Checks that put something back in the table.", d->rep.st.repaired);
	counter1(s, "quarantined_repairs_failed_total", "Checks that failed.", d->rep.st.failures);
	counter1(s, "quarantined_repair_holds_total",
		 "Times repairs stopped because the table kept changing.", d->rep.st.holds);
}

static void save(struct daemon *d, const struct prom_sink *s)
{
	prom_family(s, "quarantined_state_save_last_duration_seconds", PROM_GAUGE,
		    "Time the last successful save of the state took (write, fsync, rename).");
	prom_seconds(s, "quarantined_state_save_last_duration_seconds", NULL, NULL,
		     d->save_cost_us);
	prom_histogram(s, "quarantined_state_save_duration_seconds",
		       "Time each successful save of the state took.", &d->save_hist);
	gauge1(s, "quarantined_state_save_failures",
	       "Failed saves of the state since the last successful one (0: saving works).",
	       d->save_failures);
}

/* The bus, as the sync program last reported it (quarantine-sync(8),
 * STATUS): written once it has reported, like the feeds' once they are
 * configured.  The lag only while it is known (connected, consuming). */
static void bus(struct daemon *d, const struct prom_sink *s)
{
	const struct sync_report *r = &d->sync;
	usec_t now = daemon_wall_us();

	if (!r->at_us)
		return;
	gauge1(s, "quarantined_bus_connected",
	       "1 while the sync program is connected to the bus (its last report).",
	       r->connected ? 1 : 0);
	prom_family(s, "quarantined_bus_report_age_seconds", PROM_GAUGE,
		    "Time since the sync program last reported (every 5 s while it runs).");
	prom_seconds(s, "quarantined_bus_report_age_seconds", NULL, NULL,
		     now > r->at_us ? now - r->at_us : 0);
	gauge1(s, "quarantined_bus_revision",
	       "The last revision of the bucket's stream this daemon applied.", d->eng.sync_rev);
	if (r->last_known && r->seen_known) {
		gauge1(s, "quarantined_bus_lag_records",
		       "Records of the bucket's stream past the last one the sync program "
		       "handled.",
		       r->last > r->seen ? r->last - r->seen : 0);
		prom_family(s, "quarantined_bus_lag_oldest_seconds", PROM_GAUGE,
			    "Age of the oldest record not handled yet (0: none, or not known).");
		prom_seconds(s, "quarantined_bus_lag_oldest_seconds", NULL, NULL,
			     r->last > r->seen && r->oldest_us && r->at_us > r->oldest_us
				     ? r->at_us - r->oldest_us
				     : 0);
	}
	gauge1(s, "quarantined_bus_peers",
	       "Other gateways whose records the sync program has read.",
	       r->npeers + r->peers_more);
	prom_family(s, "quarantined_bus_peer_last_record_timestamp_seconds", PROM_GAUGE,
		    "The bus's time of a gateway's latest record (the 16 most recent gateways).");
	for (unsigned i = 0; i < r->npeers; i++)
		prom_seconds(s, "quarantined_bus_peer_last_record_timestamp_seconds", "gateway",
			     r->peers[i].gw, r->peers[i].stored_us);
	gauge1(s, "quarantined_bus_outbox",
	       "Decisions of this gateway waiting for the bus in the sync program's outbox.",
	       r->outbox);
	gauge1(s, "quarantined_bus_view_machines", "Machines in the sync program's merge view.",
	       r->view);
	counter1(s, "quarantined_bus_applied_total",
		 "Decisions of other gateways this daemon applied since it started.", r->applied);
	counter1(s, "quarantined_bus_refused_total",
		 "Decisions of other gateways refused since the daemon started.", r->refused);
}

void metrics_render(struct daemon *d, const struct prom_sink *s)
{
	usec_t up = daemon_mono_us() - d->start_mono;
	bool enforce = d->mode == MODE_ENFORCE;

	prom_family(s, "quarantined_build_info", PROM_GAUGE,
		    "Always 1; the version of the running daemon as a label.");
	prom_u64(s, "quarantined_build_info", "version", QD_VERSION_STRING, 1);
	prom_family(s, "quarantined_uptime_seconds", PROM_GAUGE, "Time since the daemon started.");
	prom_seconds(s, "quarantined_uptime_seconds", NULL, NULL, up);
	prom_family(s, "quarantined_mode", PROM_GAUGE,
		    "1 for the mode the daemon runs in: enforce (blocks) or alert (reports "
		    "only).");
	prom_u64(s, "quarantined_mode", "mode", "alert", enforce ? 0 : 1);
	prom_u64(s, "quarantined_mode", "mode", "enforce", enforce ? 1 : 0);
	gauge1(s, "quarantined_paused",
	       "1 while automatic actions are paused (quarantinectl pause).",
	       d->eng.pol.paused ? 1 : 0);
	gauge1(s, "quarantined_outbreak",
	       "1 while outbreak mode is on (quarantinectl outbreak on).", d->ob.on ? 1 : 0);
	hosts(d, s);
	detections(d, s);
	capture(d, s);
	sensor(d, s);
	feeds(d, s);
	kernel(d, s);
	save(d, s);
	bus(d, s);
}
