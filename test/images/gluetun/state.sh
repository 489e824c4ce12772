# Stand-in Gluetun: state kept in files under /state, shared by the control server handler
# (control.sh), the health server handler (health.sh) and fakectl. Sourced, not executed.
#   status     running | stopped
#   port       forwarded port, empty = none
#   public_ip  empty while the VPN is down
#   healthy    1 | 0
#   port_saved, public_ip_saved  what a reconnect restores
#   health_ran exists once FAKE_HEALTH_START_DELAY has passed

STATE=/state

# st_get NAME: sets $v (empty when the file is missing or empty).
st_get() {
	v=""
	[ -f "$STATE/$1" ] && IFS= read -r v <"$STATE/$1"
	return 0
}

# st_set NAME VALUE (atomic replace).
st_set() {
	printf '%s\n' "$2" >"$STATE/.$1.$$" && mv -f "$STATE/.$1.$$" "$STATE/$1"
}

# Mirror of gluetun's VPN_PORT_FORWARDING_STATUS_FILE (/tmp/gluetun/forwarded_port).
st_port_file() {
	mkdir -p /tmp/gluetun
	if [ -n "$1" ]; then printf '%s\n' "$1" >/tmp/gluetun/forwarded_port; else : >/tmp/gluetun/forwarded_port; fi
}

st_set_port() { # PORT ("" = none)
	st_set port "$1"
	[ -n "$1" ] && st_set port_saved "$1"
	st_port_file "$1"
}

# A VPN stop as gluetun's cleanup does it: public IP and forwarded port cleared.
vpn_stop() {
	st_get port
	[ -n "$v" ] && st_set port_saved "$v"
	st_get public_ip
	[ -n "$v" ] && st_set public_ip_saved "$v"
	st_set status stopped
	st_set public_ip ""
	st_set port ""
	st_port_file ""
}

# A VPN (re)start: IP restored; port PORT if given, else the one saved at the last stop.
vpn_start() { # [PORT]
	st_set status running
	st_get public_ip_saved
	st_set public_ip "$v"
	if [ -n "${1:-}" ]; then
		st_set_port "$1"
	else
		st_get port_saved
		st_set port "$v"
		st_port_file "$v"
	fi
}

st_json() {
	st_get status
	s=$v
	st_get port
	p=${v:-0}
	st_get public_ip
	ip=$v
	st_get healthy
	h=false
	[ "$v" = 1 ] && h=true
	r=false
	[ -f "$STATE/health_ran" ] && r=true
	printf '{"status":"%s","port":%s,"public_ip":"%s","healthy":%s,"health_ran":%s}\n' "$s" "$p" "$ip" "$h" "$r"
}
