#!/usr/bin/env bash
# Data-parallel training across two "hosts" on one machine: two network namespaces joined by a
# veth pair (10.77.0.1 and 10.77.0.2), mpirun starting one rank in each through `ip netns exec`
# instead of ssh, MPI talking TCP over the veth only. Trains a small DDPM on 2 ranks that way and
# on 2 ranks of one host, and checks that both end with the same weights; then times the
# all-reduce over TCP (gen bench --allreduce). Needs root (namespaces) and a release build.
#
#   scripts/two-hosts.sh            # leaves nothing behind: namespaces and files are removed
set -euo pipefail
cd "$(dirname "$0")/.."
gen="$PWD/.build/release/gen"
[ -x "$gen" ] || { echo "two-hosts: build first: swift build -c release" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "two-hosts: needs root for ip netns" >&2; exit 1; }
work=$(mktemp -d)
cleanup() {
    ip netns del gen-host-a 2>/dev/null || true
    ip netns del gen-host-b 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cleanup; work=$(mktemp -d)

ip netns add gen-host-a
ip netns add gen-host-b
ip link add gen-veth-a type veth peer name gen-veth-b
ip link set gen-veth-a netns gen-host-a
ip link set gen-veth-b netns gen-host-b
ip -n gen-host-a addr add 10.77.0.1/24 dev gen-veth-a
ip -n gen-host-b addr add 10.77.0.2/24 dev gen-veth-b
for host in a b; do
    ip -n gen-host-$host link set lo up
    ip -n gen-host-$host link set gen-veth-$host up
done

# mpirun's remote shell: `agent HOST COMMAND…` runs COMMAND in HOST's namespace
cat > "$work/agent.sh" <<'AGENT'
#!/bin/sh
host=$1; shift
case "$host" in
  10.77.0.1) ns=gen-host-a ;;
  10.77.0.2) ns=gen-host-b ;;
  *) echo "agent: unknown host $host" >&2; exit 1 ;;
esac
exec ip netns exec "$ns" sh -c "$*"
AGENT
chmod +x "$work/agent.sh"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$work/hosts"

data="$PWD/Tests/Fixtures/data/chunked_gzip.h5"
train=(train ddpm --data "$data" --steps 20 --batch-size 9 --channels 8 --channel-multipliers 1,2 --threads 1
       --sample-every 0 --log-every 10 --warmup 2)
two_hosts=(ip netns exec gen-host-a mpirun --allow-run-as-root --hostfile "$work/hosts" --map-by node -np 2
           --mca plm_rsh_agent "$work/agent.sh" --mca plm_rsh_no_tree_spawn 1
           --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24)

received() { ip -n gen-host-b -s link show gen-veth-b | awk '/RX:/ { getline; print $1 }'; }
before=$(received)
"${two_hosts[@]}" "$gen" "${train[@]}" --out "$work/two-hosts" >/dev/null 2>&1
after=$(received)
mpirun --allow-run-as-root --oversubscribe -np 2 "$gen" "${train[@]}" --out "$work/one-host" >/dev/null 2>&1
echo "two-hosts: 20 steps on 2 ranks in 2 namespaces; $((after - before)) bytes crossed the veth to host b"
if cmp -s "$work/two-hosts/checkpoint.safetensors" "$work/one-host/checkpoint.safetensors"; then
    echo "two-hosts: same checkpoint, byte for byte, as 2 ranks on one host"
else
    echo "two-hosts: FAILED: the checkpoints differ" >&2
    exit 1
fi
echo "two-hosts: all-reduce over TCP on the veth (gen bench --allreduce):"
"${two_hosts[@]}" "$gen" bench --allreduce --reps 10 2>/dev/null | grep '"ranks"'
