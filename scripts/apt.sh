# Sourced by scripts/ensure-*.sh: `say`, `die` and `apt_install [APT-OPTION...] PKG...` (root only;
# retries once after `apt-get update`; log in /tmp/enginepool-apt.log). Callers set SAY_AS to prefix
# their messages.

say() { echo "${SAY_AS:-enginepool}: $*" >&2; }
die() {
	say "$*"
	exit 1
}

apt_install() {
	[ "$(id -u)" = 0 ] || die "need root to install $* (apt-get install -y $*)"
	command -v apt-get >/dev/null 2>&1 || die "apt-get not available; install $* by hand"
	say "installing $*"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y "$@" >/tmp/enginepool-apt.log 2>&1; then
		apt-get update >>/tmp/enginepool-apt.log 2>&1 || true
		apt-get install -y "$@" >>/tmp/enginepool-apt.log 2>&1 ||
			die "apt-get install -y $* failed; see /tmp/enginepool-apt.log"
	fi
}
