#!/bin/sh
# Repack Debian's dovecot-core so that, once installed, it is in CentOS's stock state (lab-reference
# section 4): `#mail_location =` (no mbox default), `ssl = required`, and, as `yum install dovecot`
# leaves it, the service neither enabled nor started by the install.
set -eu
repo=$1
deb=$(ls "$repo"/dovecot-core_*.deb)
work=$(mktemp -d)
dpkg-deb -R "$deb" "$work"
conf="$work/usr/share/dovecot/conf.d"  # Debian installs these into /etc/dovecot with ucf
sed -i 's|^mail_location = mbox:~/mail:INBOX=/var/mail/%u$|#mail_location = |' "$conf/10-mail.conf"
sed -i 's|^ssl = yes$|ssl = required|' "$conf/10-ssl.conf"
grep -qx '#mail_location = ' "$conf/10-mail.conf"
grep -qx 'ssl = required' "$conf/10-ssl.conf"
grep -qx '#disable_plaintext_auth = yes' "$conf/10-auth.conf"
sed -i -e "s/deb-systemd-helper enable /true /" -e 's/deb-systemd-invoke \$_dh_action /true /' \
  -e 's/invoke-rc.d --skip-systemd-native dovecot \$_dh_action/true/' -e 's/invoke-rc.d dovecot restart/true/' \
  "$work/DEBIAN/postinst"
(cd "$work" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum > DEBIAN/md5sums)
rm "$deb"
dpkg-deb -b "$work" "$deb" >/dev/null
rm -rf "$work"
