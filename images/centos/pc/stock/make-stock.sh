#!/bin/sh
# CentOS Stream 9 PC: the postfix package's main.cf and master.cf already are the stock state a
# student starts from (lab-reference section 4), so nothing here rewrites them. This script checks
# that the lines the report's step 3 looks for are there, keeps a copy under /usr/share/labsim/stock/
# so `labsim check` can diff against it, and prepares systemd for a container.
# No postconf here: with inet_interfaces = localhost and no IPv6 on lo, postconf itself fails
# ("no local interface found for ::1"), and whether a build container has IPv6 varies.
set -eu
cf=/etc/postfix/main.cf
for line in '#myhostname = virtual.domain.tld' '#myorigin = $mydomain' '#inet_interfaces = all' \
  'inet_interfaces = localhost' 'mydestination = $myhostname, localhost.$mydomain, localhost' \
  '#mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain' '#home_mailbox = Maildir/'; do
  grep -qxF "$line" "$cf" || { echo "stock main.cf lacks: $line" >&2; exit 1; }
done
grep -q '^#mynetworks = ' "$cf" || { echo "stock main.cf lacks a '#mynetworks = ' line" >&2; exit 1; }
if grep -Eq '^(default_transport|relay_transport) *= *error' "$cf"; then echo "relaying broken" >&2; exit 1; fi
# Red Hat's master.cf runs no service chrooted; the lab relies on that as on the Debian profile.
if grep -Eq '^[^#[:space:]]+[[:space:]]+(inet|unix|fifo|pass|unix-dgram)[[:space:]]+[-yn][[:space:]]+[-yn][[:space:]]+y[[:space:]]' \
  /etc/postfix/master.cf; then
  echo "stock master.cf runs a service chrooted" >&2; exit 1
fi
mkdir -p /usr/share/labsim/stock/etc/postfix
cp "$cf" /etc/postfix/master.cf /usr/share/labsim/stock/etc/postfix/
# The mark `postfix quick-stop` leaves: the first start of each PC (of a freshly installed package)
# skips Postfix's integrity check, about 0.45 s of CPU per PC; every later start checks.
touch /var/spool/postfix/quick-start
# The mail queue is a volume that labsim creates empty; labsim-init fills a new one from this copy at
# first boot (cheaper than the engine copying the image's directory into each volume).
mkdir -p /usr/share/labsim
cp -a /var/spool/postfix /usr/share/labsim/spool-skel
# firewalld's default zone as shipped: public (Stream 9: cockpit dhcpv6-client ssh).
conf=/etc/firewalld/firewalld.conf
sed -i 's/^DefaultZone=.*/DefaultZone=public/' "$conf"
grep -qx 'DefaultZone=public' "$conf" || { echo "$conf has no DefaultZone line" >&2; exit 1; }
zone=/usr/lib/firewalld/zones/public.xml
for svc in cockpit dhcpv6-client ssh; do
  grep -q "<service name=\"$svc\"/>" "$zone" \
    || echo "warning: $zone does not list $svc; labsim's CentOS profile expects it" >&2
done
# Nothing a container cannot use, nothing a lab PC does not need at boot (and no dnf-makecache:
# the lab has no route out; no polkit or logind: root's firewall-cmd and systemctl work without them). Masked one by one: a unit this release lacks must not stop the rest.
for unit in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-udev-settle.service systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
  sys-kernel-tracing.mount sys-fs-fuse-connections.mount dev-hugepages.mount systemd-remount-fs.service \
  systemd-firstboot.service systemd-hwdb-update.service dnf-makecache.timer fstrim.timer \
  polkit.service systemd-logind.service; do
  systemctl mask "$unit" >/dev/null 2>&1 || true
done
# With polkit and logind masked, D-Bus must not try to start them on demand (firewalld asks for polkit
# at every one of its configuration objects when it starts).
rm -f /usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service \
  /usr/share/dbus-1/system-services/org.freedesktop.login1.service
systemctl set-default multi-user.target
systemctl enable labsim-init.service postfix.service firewalld.service
