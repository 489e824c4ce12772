#!/usr/bin/env bash
# A Docker Swarm made of private dockerd instances, for the Swarm tests (run as root). Never touches
# the host's dockerd or its networking: each node is a dockerd in its own network namespace, the
# nodes talk over a private /24 that exists only inside those namespaces (a bridge in node 0's
# namespace, a veth pair to each other node), node 0 is the manager.
#   swarm-lab.sh up NAME NODES OCTET IMAGE...  namespaces ep-NAME-0..N-1 on 10.231.OCTET.0/24, swarm
#                                              joined, the images loaded on every node (one node:
#                                              the manager advertises 127.0.0.1, no /24)
#   swarm-lab.sh stop NAME I                   stop node I's dockerd (the node goes down)
#   swarm-lab.sh down NAME                     stop every dockerd, remove their state and namespaces
# Node I's socket: /run/eplab/NAME-I.sock; its address 10.231.OCTET.(I+1) (127.0.0.1 alone).
set -euo pipefail
cmd=${1:?usage}; name=${2:?name}
run=/run/eplab; data=/var/lib/eplab
mkdir -p $run

ns() { echo "ep-$name-$1"; }
sock() { echo "$run/$name-$1.sock"; }
d() { local i=$1; shift; DOCKER_HOST=unix://$(sock "$i") docker "$@"; }

start_node() {
  local i=$1
  # Why its own UTS namespace: each node gets its own hostname, as on real machines.
  nsenter --net=/var/run/netns/"$(ns "$i")" unshare --uts setsid sh -c "hostname $(ns "$i") && exec dockerd --data-root $data/"$name-$i" \
    --exec-root $run/$name-$i.x --pidfile $run/$name-$i.pid -H unix://$(sock "$i")" \
    >$run/"$name-$i".log 2>&1 </dev/null &
  for _ in $(seq 1 240); do d "$i" info >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "dockerd of node $i did not start:" >&2; tail -20 $run/"$name-$i".log >&2; return 1
}

stop_node() {
  local pidf=$run/$name-$1.pid pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidf"
}

case $cmd in
  up)
    nodes=${3:?nodes}; octet=${4:?octet}; shift 4
    # shellcheck source=scripts/apt.sh
    command -v ip >/dev/null 2>&1 || { source "$(dirname "$0")/../../scripts/apt.sh"; apt_install iproute2; }
    net=10.231.$octet
    for i in $(seq 0 $((nodes - 1))); do
      ip netns add "$(ns "$i")"
      ip -n "$(ns "$i")" link set lo up
    done
    # One node: the manager on its loopback, as a one-host swarm is made (its engines at 127.0.0.1).
    manager=127.0.0.1
    if [ "$nodes" -gt 1 ]; then
      manager=$net.1
      ip -n "$(ns 0)" link add br0 type bridge
      ip -n "$(ns 0)" addr add $net.1/24 dev br0
      ip -n "$(ns 0)" link set br0 up
    fi
    for i in $(seq 1 $((nodes - 1))); do
      ip link add "eplab$$-$i" netns "$(ns 0)" type veth peer name eth0 netns "$(ns "$i")"
      ip -n "$(ns 0)" link set "eplab$$-$i" master br0 up
      ip -n "$(ns "$i")" addr add $net.$((i + 1))/24 dev eth0
      ip -n "$(ns "$i")" link set eth0 up
    done
    pids=()
    for i in $(seq 0 $((nodes - 1))); do start_node "$i" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    d 0 swarm init --advertise-addr $manager --listen-addr $manager:2377 >/dev/null
    # Why: a node is declared down after a few missed heartbeats; 1 s keeps the node-down test short.
    d 0 swarm update --dispatcher-heartbeat 1s >/dev/null
    token=$(d 0 swarm join-token -q worker)
    for i in $(seq 1 $((nodes - 1))); do
      d "$i" swarm join --token "$token" --advertise-addr $net.$((i + 1)) $manager:2377 >/dev/null
    done
    for image in "$@"; do
      for i in $(seq 0 $((nodes - 1))); do docker save "$image" | d "$i" load -q >/dev/null; done
    done
    ;;
  stop) stop_node "${3:?node}" ;;
  down)
    pids=()
    for pidf in $run/"$name"-*.pid; do
      [ -e "$pidf" ] || continue
      i=${pidf#"$run/$name-"}; i=${i%.pid}
      { d "$i" rm -f $(d "$i" ps -aq 2>/dev/null) >/dev/null 2>&1 || true; stop_node "$i"; } & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    for nsname in $(ip netns list | awk '{print $1}' | grep "^ep-$name-" || true); do
      for p in $(ip netns pids "$nsname" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
      ip netns del "$nsname" 2>/dev/null || true
    done
    for dir in $data/"$name"-* $run/"$name"-*.x; do
      [ -e "$dir" ] || continue
      grep -o " $dir[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
      rm -rf "$dir"
    done
    rm -f $run/"$name"-*.sock $run/"$name"-*.log
    ;;
  *) echo "usage: swarm-lab.sh up|stop|down NAME ..." >&2; exit 2 ;;
esac
