# Shared by the sync tests (sync.sh, and others that need the same
# organisation): three gateways, each with its own LAN and daemon, and a
# three-node NATS cluster with JetStream (the bucket replicated on all
# three, R3), every gateway with its quarantine-sync.  Sourced after lib.sh
# and qd_init; sync_setup builds it all and returns when every daemon says
# its sync program is connected.
#
# Gateway A is lib.sh's topology (namespace gw, LAN 10.66.1.0/24 on br0,
# the worm on 10.66.1.10).  Gateway B is a second gateway namespace (gwb)
# with its own LAN 10.66.3.0/24 and daemon, gateway C a third (gwc, LAN
# 10.66.4.0/24); all protect every LAN (one organisation: a machine may
# walk from one floor to another).  The three nats-server nodes listen on
# 127.0.0.1-3 of a namespace of their own (bus), with
# contrib/nats/quarantine-cluster.conf; the sync programs run there too:
# the only link between a sync program and its daemon is the control
# socket, a path.  Nothing is linked to the root namespace; lib.sh's traps
# stop every process by pid and delete every namespace.
#
# Two options, set before sync_setup (sync-cluster.sh sets both):
#  SYNC_NETNS=1  every sync program in a namespace of its own (sa, sb, sc),
#                linked by a veth to a bridge bus0 of the namespace bus;
#                the nodes listen on 10.66.9.1-3 there, the sync programs
#                are 10.66.9.11-13: sync_cut G and sync_heal G cut gateway
#                G's sync program off from every node and link it again.
#  SYNC_TLS=1    the cluster with TLS and client certificates
#                (contrib/nats/quarantine-cluster-tls.conf): a CA, one
#                certificate per node (its address in its subjectAltName)
#                and one per gateway and for the administrator, made here
#                with openssl in $QD_TMP/pki; tls:// URLs, and sync.tls in
#                every gateway's configuration.
#
# Needs QD_SYNC (quarantine-sync) and QD_KVTOOL (tests/e2e/kvtool), and
# nats-server and sqlite3 in PATH (and openssl with SYNC_TLS=1): skips (77)
# without them.

SYNC_NETNS=${SYNC_NETNS:-0}
SYNC_TLS=${SYNC_TLS:-0}
for t in nats-server sqlite3 $([ "$SYNC_TLS" = 1 ] && echo openssl); do
	if ! command -v $t >/dev/null; then
		echo "SKIP: $t is not installed (tools/deps.sh installs it)"
		exit 77
	fi
done
if [ ! -x "${QD_SYNC:-}" ] || [ ! -x "${QD_KVTOOL:-}" ]; then
	echo "SKIP: quarantine-sync was not built (meson -Dsync=enabled)"
	exit 77
fi
CONTRIB=$(cd "$QD_DIR/../../contrib/nats" && pwd)
ADMIN_PW=admin-$$
GWB=10.66.3.1
B_HOST=10.66.3.10
B_NB=10.66.3.30
B_SOCK=$QD_TMP/b.sock
B_STATE=$QD_TMP/bstate
B_EVENTS=$QD_TMP/b.events
B_DPID=""
mkdir -p "$B_STATE"
: >"$B_EVENTS"

# On failure, the sync programs' and B's words too, before lib.sh's
# cleanup removes them.
sync_logs() {
	local f
	for f in sync-a.log sync-b.log sync-c.log b.log c.log b.events c.events; do
		echo "---- $f (tail) ----"
		grep -v 'published gw-a.ip4-10-66-1-1[0-3]' "$QD_TMP/$f" 2>/dev/null | tail -n 25 | cut -c1-300
	done
}
trap 'rc=$?; [ $rc = 0 ] || [ $rc = 77 ] || sync_logs; (exit $rc); qd_cleanup' EXIT

qctlb() {
	"$QD_CTL" -S "$B_SOCK" "$@"
}
# in_set_b SET ELEMENT: the element is in a set of B's table.
in_set_b() {
	qd_in gwb nft list set inet quarantined "$1" 2>/dev/null | grep -qwF -- "$2"
}
# in_any_set_b ADDR: ADDR is in one of the sets of B's table (B has no
# remediation or admin networks: every set there blocks).
in_any_set_b() {
	qd_in gwb nft list table inet quarantined 2>/dev/null | grep -qwF -- "$1"
}
wait_b() {
	local timeout=$1
	shift
	$QD_PY wait-event "$B_EVENTS" "$timeout" --from "${B_MARK:-0}" "$@"
}
# outbox_has FILE PATTERN...: the outbox FILE holds a line matching each
# PATTERN (grep -E); 1 while it does not exist yet (grep's 2 would end a
# qd_wait at once).
outbox_has() {
	local f=$1 pat
	shift
	[ -e "$f" ] || return 1
	for pat in "$@"; do
		grep -Eq -- "$pat" "$f" || return 1
	done
}
sync_up() { # sync_up SOCKET: the daemon says its sync program is connected
	"$QD_CTL" -S "$1" --json status 2>/dev/null |
		$QD_PY json "d.get('bus', {}).get('connected', False)" | grep -qx true
}

# sync_setup: builds the three gateways, the cluster and the bucket, starts
# the three sync programs (pids in SYNC_A, SYNC_B, SYNC_C) and returns when
# every daemon says its sync program is connected.
sync_setup() {
	qd_say "gateway A: lib.sh's topology and daemon"
	QD_HOSTS="inf ben" qd_topology || exit 1
	qd_config
	qd_config_net 'protected = [ "10.66.1.0/24", "10.66.3.0/24", "10.66.4.0/24" ];'
	qd_daemon_start || exit 1

	qd_say "gateway B: its own namespace, LAN 10.66.3.0/24 and daemon"
	_qd_ns gwb || exit 1
	qd_in gwb ip link add br0 type bridge
	qd_in gwb ip addr add $GWB/24 dev br0
	qd_in gwb ip link set br0 up
	_qd_ns bh || exit 1
	qd_in gwb ip link add v-bh type veth peer name eth0 netns "${QD_NS}bh"
	qd_in gwb ip link set v-bh master br0
	qd_in gwb ip link set v-bh up
	qd_in bh ip addr add $B_HOST/24 dev eth0
	qd_in bh ip link set eth0 up
	cat >"$QD_TMP/b.conf" <<-EOF
	capture: { interfaces = [ "br0" ]; };
	networks: {
	  protected = [ "10.66.1.0/24", "10.66.3.0/24", "10.66.4.0/24" ];
	  never_block = [ "$B_NB" ];
	};
	control: { socket = "$B_SOCK"; };
	state: { dir = "$B_STATE"; };
	EOF
	ip netns exec "${QD_NS}gwb" "$QD_Q" -f -o json -i br0 -c "$QD_TMP/b.conf" -S "$B_SOCK" \
		-D "$B_STATE" >>"$B_EVENTS" 2>>"$QD_TMP/b.log" &
	B_DPID=$!
	QD_PIDS="$QD_PIDS $B_DPID"
	qd_wait 15 "B's daemon answers" qctlb status >/dev/null || exit 1

	qd_say "gateway C: a third namespace, LAN 10.66.4.0/24 and daemon"
	C_SOCK=$QD_TMP/c.sock
	C_EVENTS=$QD_TMP/c.events
	mkdir -p "$QD_TMP/cstate"
	: >"$C_EVENTS"
	_qd_ns gwc || exit 1
	qd_in gwc ip link add br0 type bridge
	qd_in gwc ip addr add 10.66.4.1/24 dev br0
	qd_in gwc ip link set br0 up
	sed -e "s|$B_SOCK|$C_SOCK|" -e "s|$B_STATE|$QD_TMP/cstate|" -e "s|$B_NB|10.66.4.30|" \
		"$QD_TMP/b.conf" >"$QD_TMP/c.conf"
	ip netns exec "${QD_NS}gwc" "$QD_Q" -f -o json -i br0 -c "$QD_TMP/c.conf" -S "$C_SOCK" \
		-D "$QD_TMP/cstate" >>"$C_EVENTS" 2>>"$QD_TMP/c.log" &
	C_DPID=$!
	QD_PIDS="$QD_PIDS $C_DPID"
	qd_wait 15 "C's daemon answers" "$QD_CTL" -S "$C_SOCK" status >/dev/null || exit 1
	in_any_set_c() {
		qd_in gwc nft list table inet quarantined 2>/dev/null | grep -qwF -- "$1"
	}
	wait_c() {
		local timeout=$1
		shift
		$QD_PY wait-event "$C_EVENTS" "$timeout" --from "${C_MARK:-0}" "$@"
	}

	qd_say "the bus: three nats-server nodes with JetStream, one bucket R3"
	_qd_ns bus || exit 1
	NODE_NET=127.0.0
	NODE_CONF=$CONTRIB/quarantine-cluster.conf
	NODE_SCHEME=nats
	if [ "$SYNC_NETNS" = 1 ]; then
		NODE_NET=10.66.9
		qd_in bus ip link add bus0 type bridge
		for i in 1 2 3; do
			qd_in bus ip addr add $NODE_NET.$i/24 dev bus0
		done
		qd_in bus ip link set bus0 up
		for g in a b c; do
			_qd_ns s$g || exit 1
			qd_in bus ip link add v-s$g type veth peer name eth0 netns "${QD_NS}s$g"
			qd_in bus ip link set v-s$g master bus0
			qd_in bus ip link set v-s$g up
			qd_in s$g ip addr add "$NODE_NET.$(sync_gw_index $g)/24" dev eth0
			qd_in s$g ip link set eth0 up
		done
	fi
	if [ "$SYNC_TLS" = 1 ]; then
		NODE_CONF=$CONTRIB/quarantine-cluster-tls.conf
		NODE_SCHEME=tls
		sync_pki || exit 1
		export KVTOOL_CA=$QD_TMP/pki/ca.pem KVTOOL_CERT=$QD_TMP/pki/admin.pem \
			KVTOOL_KEY=$QD_TMP/pki/admin.key
	fi
	SYNC_URLS="$NODE_SCHEME://$NODE_NET.1:4222,$NODE_SCHEME://$NODE_NET.2:4222,$NODE_SCHEME://$NODE_NET.3:4222"
	start_node() { # start_node I: node nI on NODE_NET.I, its pid in NODE_I
		mkdir -p "$QD_TMP/n$1"
		QS_NAME=n$1 QS_HOST=$NODE_NET.$1 QS_STORE=$QD_TMP/n$1 \
			QS_ROUTE1=nats-route://$NODE_NET.1:6222 QS_ROUTE2=nats-route://$NODE_NET.2:6222 \
			QS_ROUTE3=nats-route://$NODE_NET.3:6222 QS_ADMIN_PASSWORD=$ADMIN_PW \
			QS_GW_A_PASSWORD=pw-a-$$ QS_GW_B_PASSWORD=pw-b-$$ QS_GW_C_PASSWORD=pw-c-$$ \
			QS_CA=$QD_TMP/pki/ca.pem QS_CERT=$QD_TMP/pki/n$1.pem QS_KEY=$QD_TMP/pki/n$1.key \
			qd_bg bus nats-server -c "$NODE_CONF" -l "$QD_TMP/n$1.log"
		eval "NODE_$1=\$QD_LAST"
	}
	for i in 1 2 3; do
		start_node $i
	done
	kv() { # kv ARGS...: kvtool as the cluster's administrator
		qd_in bus "$QD_KVTOOL" "$SYNC_URLS" admin "$ADMIN_PW" "$@"
	}
	# The cluster forms and elects its JetStream leader first: poll.
	qd_wait 60 "the bucket is created with 3 replicas" kv create quarantine 3 2>/dev/null || {
		tail -n 5 "$QD_TMP"/n*.log
		kv create quarantine 3
		exit 1
	}

	for g in a b c; do
		echo "pw-$g-$$" >"$QD_TMP/gw-$g.pass"
		sock=$QD_SOCK
		[ $g = b ] && sock=$B_SOCK
		[ $g = c ] && sock=$C_SOCK
		mkdir -p "$QD_TMP/sync-$g.state"
		tls=""
		[ "$SYNC_TLS" = 1 ] &&
			tls="tls = { ca = \"$QD_TMP/pki/ca.pem\"; cert = \"$QD_TMP/pki/gw-$g.pem\"; key = \"$QD_TMP/pki/gw-$g.key\"; };"
		cat >"$QD_TMP/sync-$g.conf" <<-EOF
			sync: {
			  gateway = "gw-$g";
			  servers = [ "$NODE_SCHEME://$NODE_NET.1:4222", "$NODE_SCHEME://$NODE_NET.2:4222", "$NODE_SCHEME://$NODE_NET.3:4222" ];
			  user = "gw-$g";
			  password_file = "$QD_TMP/gw-$g.pass";
			  $tls
			  socket = "$sock";
			  state_dir = "$QD_TMP/sync-$g.state";
			};
		EOF
		qd_check "quarantine-sync -n accepts gw-$g's configuration" \
			"$QD_SYNC" -n -c "$QD_TMP/sync-$g.conf"
	done
	start_sync() { # start_sync a|b|c [CONF]: its pid in QD_LAST
		local ns=bus
		[ "$SYNC_NETNS" = 1 ] && ns=s$1
		ip netns exec "$QD_NS$ns" "$QD_SYNC" -d -c "${2:-$QD_TMP/sync-$1.conf}" \
			>>"$QD_TMP/sync-$1.log" 2>&1 &
		QD_LAST=$!
		QD_PIDS="$QD_PIDS $QD_LAST"
	}
	start_sync a
	SYNC_A=$QD_LAST
	start_sync b
	SYNC_B=$QD_LAST
	start_sync c
	SYNC_C=$QD_LAST
	qd_wait 30 "A's daemon says the bus is connected" sync_up "$QD_SOCK" || {
		tail -20 "$QD_TMP/sync-a.log"
		exit 1
	}
	qd_wait 30 "B's daemon says the bus is connected" sync_up "$B_SOCK" || {
		tail -20 "$QD_TMP/sync-b.log"
		exit 1
	}
	qd_wait 30 "C's daemon says the bus is connected" sync_up "$C_SOCK" || {
		tail -20 "$QD_TMP/sync-c.log"
		exit 1
	}
	qctlb status | grep '^bus:'
}

sync_gw_index() { # a -> 11, b -> 12, c -> 13: the sync program's address
	case $1 in
	a) echo 11 ;;
	b) echo 12 ;;
	c) echo 13 ;;
	esac
}

# sync_pki: a CA, a certificate for each node (its address as an IP
# subjectAltName, which the clients check: nats.c says "IP address
# mismatch" otherwise; serverAuth and clientAuth, for the routes too), one
# for each gateway and one for the administrator (clientAuth), in
# $QD_TMP/pki.
sync_pki() {
	local d=$QD_TMP/pki n
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=quarantine test CA" \
		2>>"$d/openssl.log" || return 1
	_sync_cert() { # NAME EXTENSIONS
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$d/$1.key" -out "$d/$1.csr" -subj "/CN=$1" 2>>"$d/openssl.log" &&
			printf '%b' "$2" >"$d/$1.ext" &&
			openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
				-CAcreateserial -days 2 -extfile "$d/$1.ext" -out "$d/$1.pem" \
				2>>"$d/openssl.log"
	}
	for n in 1 2 3; do
		_sync_cert n$n "subjectAltName=IP:$NODE_NET.$n\nextendedKeyUsage=serverAuth,clientAuth\n" || return 1
	done
	for n in gw-a gw-b gw-c admin; do
		_sync_cert $n "extendedKeyUsage=clientAuth\n" || return 1
	done
}

# sync_cut G: gateway G's sync program (SYNC_NETNS=1) cut off from every
# node: its namespace drops whatever it sends or receives on the bus, as
# a cable cut further away would (no reset, no unreachable: silence).
sync_cut() {
	qd_in s$1 nft -f - <<-EOF
		table inet synccut {
			chain in { type filter hook input priority -10; policy accept; ip saddr $NODE_NET.0/24 drop; }
			chain out { type filter hook output priority -10; policy accept; ip daddr $NODE_NET.0/24 drop; }
		}
	EOF
}

# sync_heal G: the link again.
sync_heal() {
	qd_in s$1 nft delete table inet synccut
}
