#!/bin/sh
# Turn Debian's freshly installed Postfix into the stock state of a CentOS PC (lab-reference section 4):
# the long upstream main.cf with Red Hat's active lines, master.cf without chroot.
# The result is also kept under /usr/share/labsim/stock/ so `labsim check` can diff against it.
set -eu
cf=/etc/postfix/main.cf
cp /usr/share/postfix/main.cf.dist "$cf"
sed -i \
  -e 's|^#inet_interfaces = \$myhostname, localhost$|&\ninet_interfaces = localhost|' \
  -e 's|^#mydestination = \$myhostname, localhost.\$mydomain, localhost$|mydestination = $myhostname, localhost.$mydomain, localhost|' \
  -e 's|^mynetworks = 127.0.0.0/8$||' \
  -e 's|^#alias_maps = hash:/etc/aliases$|alias_maps = hash:/etc/aliases|' \
  -e 's|^#alias_database = hash:/etc/aliases$|alias_database = hash:/etc/aliases|' \
  -e 's|^smtpd_banner = \$myhostname ESMTP \$mail_name (Debian/GNU)$||' \
  -e 's|^sendmail_path =$|sendmail_path = /usr/sbin/sendmail|' \
  -e 's|^newaliases_path =$|newaliases_path = /usr/bin/newaliases|' \
  -e 's|^mailq_path =$|mailq_path = /usr/bin/mailq|' \
  -e 's|^setgid_group =$|setgid_group = postdrop|' \
  -e 's|^html_directory =$|html_directory = no|' \
  -e 's|^manpage_directory =$|manpage_directory = /usr/share/man|' \
  -e 's|^sample_directory =$|sample_directory = /usr/share/doc/postfix/examples|' \
  -e 's|^readme_directory =$|readme_directory = no|' \
  "$cf"
postalias /etc/aliases  # before inet_protocols = all: a build container has no ::1
# Postfix's own integrity check, once, here; then the quick-start mark that `postfix quick-stop` leaves,
# so the first start of each PC skips the check (about 0.45 s of CPU per PC). Every later start checks.
postfix check
touch /var/spool/postfix/quick-start
# The mail queue is a volume that labsim creates empty; labsim-init fills a new one from this copy at
# first boot (cheaper than the engine copying the image's directory into each volume).
mkdir -p /usr/share/labsim
cp -a /var/spool/postfix /usr/share/labsim/spool-skel
sed -i 's|^inet_protocols = ipv4$|inet_protocols = all|' "$cf"
# CentOS runs no Postfix service chrooted.
postconf -F '*/*/chroot = n'
for line in '#myhostname = virtual.domain.tld' '#myorigin = $mydomain' '#inet_interfaces = all' \
  'inet_interfaces = localhost' 'mydestination = $myhostname, localhost.$mydomain, localhost' \
  '#mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain' '#home_mailbox = Maildir/'; do
  grep -qxF "$line" "$cf" || { echo "stock main.cf lacks: $line" >&2; exit 1; }
done
grep -q '^#mynetworks = ' "$cf"
if grep -Eq '^(default_transport|relay_transport) *= *error' "$cf"; then echo "relaying broken" >&2; exit 1; fi
mkdir -p /usr/share/labsim/stock/etc/postfix
cp "$cf" /etc/postfix/master.cf /usr/share/labsim/stock/etc/postfix/
# firewalld's default zone as on a CentOS 7 PC: public, with ssh and dhcpv6-client.
sed -i 's/^DefaultZone=.*/DefaultZone=public/' /etc/firewalld/firewalld.conf
# Nothing a container cannot use, nothing a lab PC does not need at boot. polkit and logind are not
# needed either (root's firewall-cmd and systemctl work without them; nobody logs in on a console):
# about 15 MiB less per PC.
systemctl mask polkit.service systemd-logind.service getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
  systemd-remount-fs.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
  dpkg-db-backup.timer systemd-sysusers.service >/dev/null 2>&1 || true
# Postfix runs as one CentOS-style postfix.service (units/postfix.service), not Debian's postfix@-.
# Generators that find nothing in a container are skipped (they run at every boot and daemon-reload).
mkdir -p /etc/systemd/system-generators
for gen in postfix-instance-generator systemd-cryptsetup-generator systemd-gpt-auto-generator \
  systemd-hibernate-resume-generator systemd-integritysetup-generator systemd-veritysetup-generator \
  systemd-system-update-generator systemd-debug-generator systemd-run-generator systemd-getty-generator \
  systemd-sysv-generator; do
  ln -sf /dev/null "/etc/systemd/system-generators/$gen"
done
# With polkit and logind masked, D-Bus must not try to start them on demand: firewalld asks for polkit
# at every one of its ~300 configuration objects at start, and each ask went D-Bus -> systemd -> refused.
rm -f /usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service \
  /usr/share/dbus-1/system-services/org.freedesktop.login1.service
# The system bus is dbus-broker, as on CentOS Stream 9 (and cheaper than dbus-daemon for firewalld's
# start: about 0.05 CPU-s less per PC).
systemctl enable dbus-broker.service
systemctl enable labsim-init.service postfix.service firewalld.service
