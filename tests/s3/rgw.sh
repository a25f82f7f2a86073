#!/usr/bin/env bash
# A throw-away single-node Ceph RADOS Gateway (real S3 with SigV4) on 127.0.0.1 for the S3 tests.
# One monitor, one memstore OSD (nothing on disk but logs) and radosgw with auth enabled (it does
# not start without). Installs ceph-mon, ceph-osd and radosgw from Debian 12 when missing.
#
# Usage: tests/s3/rgw.sh start|stop|status
# Env: RGW_DIR (default /tmp/tams-rgw), RGW_PORT (7480), S3_ACCESS_KEY, S3_SECRET_KEY,
#      RGW_BUCKETS (buckets to create, default "tams-a tams-b"),
#      RGW_MON_PORT (3300; v1 is RGW_MON_PORT+3489, i.e. 6789 by default).
# `start` prints the endpoint and exits once the gateway answers and the S3 user exists; the
# daemons keep running until `stop`. `start` on a running cluster stops it first.
set -euo pipefail
D=${RGW_DIR:-/tmp/tams-rgw}
PORT=${RGW_PORT:-7480}
MON2=${RGW_MON_PORT:-3300}
MON1=$((MON2 + 3489))
AK=${S3_ACCESS_KEY:-tamsaccesskey}
SK=${S3_SECRET_KEY:-tamssecretkey}
C=(-c "$D/ceph.conf")

stop() {
  for n in client.rgw.a osd.0 mon.a; do
    local f="$D/run/$n.pid"
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  status) curl -s -o /dev/null "http://127.0.0.1:$PORT/" && echo up || { echo down; exit 1; }; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

if ! command -v radosgw >/dev/null || ! command -v ceph-osd >/dev/null || ! command -v ceph-mon >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "rgw.sh: needs ceph-mon ceph-osd radosgw (apt-get install them as root)" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw >/dev/null
fi

[ -d "$D/run" ] && stop
rm -rf "$D"; mkdir -p "$D"/{mon,osd0,run,log}
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/ceph.conf" <<EOC
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]
public addr = 127.0.0.1
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = 1073741824
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
keyring = $D/keyring
[mon.a]
mon data = $D/mon
[osd.0]
osd data = $D/osd0
keyring = $D/osd0/keyring
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = localhost
EOC
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon "${C[@]}" -i a
OSDUUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(timeout 60 ceph "${C[@]}" osd new "$OSDUUID")
timeout 60 ceph "${C[@]}" auth get-or-create "osd.$ID" mon 'allow profile osd' osd 'allow *' mgr 'allow profile osd' > "$D/osd0/keyring"
ceph-osd "${C[@]}" -i "$ID" --mkfs --osd-uuid "$OSDUUID" 2>/dev/null
ceph-osd "${C[@]}" -i "$ID" 2>/dev/null
radosgw "${C[@]}" -n client.rgw.a   # daemonises once it has reached the cluster
up=0
for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && { up=1; break; }; sleep 0.5; done
[ "$up" = 1 ] || { echo "rgw.sh: the gateway did not answer on 127.0.0.1:$PORT; logs in $D/log" >&2; stop; exit 1; }
timeout 60 radosgw-admin "${C[@]}" user create --uid=tams --display-name=tams \
  --access-key="$AK" --secret="$SK" >/dev/null
for b in ${RGW_BUCKETS:-tams-a tams-b}; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
         -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -X PUT "http://127.0.0.1:$PORT/$b")
  [ "$code" = 200 ] || { echo "rgw.sh: creating bucket $b answered HTTP $code" >&2; exit 1; }
done
echo "S3 endpoint http://127.0.0.1:$PORT access key $AK buckets ${RGW_BUCKETS:-tams-a tams-b} (region: any)"
