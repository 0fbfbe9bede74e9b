"""The seven steps of the report as data: which lines of which file, which firewall-cmd and systemctl
calls. Shared by `labsim apply` and `labsim check`. Distro differences come from the profile."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..profiles import DistroProfile
from .edits import LineEdit

STEP_TITLES = {
    1: "DNS check",
    2: "firewall: smtp",
    3: "Postfix main.cf",
    4: "install Dovecot",
    5: "Dovecot + port 110",
    6: "mailer",
    7: "exchange",
}
ALL_STEPS = tuple(STEP_TITLES)


@dataclass(frozen=True)
class Step:
    """What one step does on a PC."""

    number: int
    title: str
    edits: tuple[LineEdit, ...] = ()
    firewall: tuple[str, ...] = ()  # firewall-cmd arguments, run at runtime and with --permanent
    systemctl: tuple[tuple[str, str], ...] = ()  # (verb, unit) after the edits
    settings: dict[str, str] = field(default_factory=dict)  # effective value after the step (postconf/doveconf)


def steps_for(profile: DistroProfile) -> dict[int, Step]:
    """The report's steps for a profile (edits still carry {fqdn} and {subnet} placeholders)."""
    p = profile.paths
    main_cf = p["main_cf"]
    same_dest = "mydestination = $myhostname, localhost.$mydomain, localhost"
    return {
        1: Step(1, STEP_TITLES[1]),
        2: Step(2, STEP_TITLES[2], firewall=("--add-service", "smtp")),
        3: Step(
            3, STEP_TITLES[3],
            edits=(
                LineEdit(main_cf, "add_below", "#myhostname = virtual.domain.tld", "myhostname = {fqdn}"),
                LineEdit(main_cf, "uncomment", "#myorigin = $mydomain", "myorigin = $mydomain"),
                LineEdit(main_cf, "uncomment", "#inet_interfaces = all", "inet_interfaces = all"),
                LineEdit(main_cf, "comment", "inet_interfaces = localhost", "inet_interfaces = localhost"),
                LineEdit(main_cf, "comment", same_dest, same_dest),
                LineEdit(main_cf, "uncomment", "#" + same_dest + ", $mydomain", same_dest + ", $mydomain"),
                LineEdit(main_cf, "replace", r"#mynetworks = [0-9./]+, 127\.0\.0\.0/8", "mynetworks = {subnet}, 127.0.0.0/8", True),
                LineEdit(main_cf, "uncomment", "#home_mailbox = Maildir/", "home_mailbox = Maildir/"),
            ),
            systemctl=(("restart", "postfix.service"),),
            settings={
                "myhostname": "{fqdn}",
                "myorigin": "$mydomain",
                "inet_interfaces": "all",
                "mydestination": "$myhostname, localhost.$mydomain, localhost, $mydomain",
                "mynetworks": "{subnet}, 127.0.0.0/8",
                "home_mailbox": "Maildir/",
            },
        ),
        4: Step(4, STEP_TITLES[4]),
        5: Step(
            5, STEP_TITLES[5],
            edits=(
                LineEdit(p["dovecot_mail"], "add_below", "#mail_location = ", "mail_location = maildir:~/Maildir"),
                LineEdit(p["dovecot_auth"], "replace", "#disable_plaintext_auth = yes", "disable_plaintext_auth = no"),
                LineEdit(p["dovecot_ssl"], "replace", "ssl = required", "ssl = no"),
            ),
            firewall=("--add-port=110/tcp",),
            systemctl=(("start", "dovecot.service"), ("enable", "dovecot.service")),
            settings={"mail_location": "maildir:~/Maildir", "disable_plaintext_auth": "no", "ssl": "no"},
        ),
        6: Step(6, STEP_TITLES[6]),
        7: Step(7, STEP_TITLES[7]),
    }


def parse_steps(step: int | None, steps: str | None) -> tuple[int, ...]:
    """`--step 3` or `--steps 1-7` (default: all seven)."""
    from ..errors import UserInputError

    if step is not None and steps is not None:
        raise UserInputError("give --step N or --steps A-B, not both")
    if step is not None:
        if step not in STEP_TITLES:
            raise UserInputError(f"--step {step}: the lab has steps 1 to 7")
        return (step,)
    if steps is None:
        return ALL_STEPS
    lo, sep, hi = steps.partition("-")
    try:
        first, last = int(lo), int(hi if sep else lo)
    except ValueError:
        raise UserInputError(f"--steps {steps}: write a range such as 1-7") from None
    if not (1 <= first <= last <= 7):
        raise UserInputError(f"--steps {steps}: the lab has steps 1 to 7; write a range such as 3-5")
    return tuple(range(first, last + 1))


def muttrc(user: str, fqdn: str, smtp_name: str, pop_name: str) -> str:
    """Step 6: the report's Evolution account, as a terminal mailer (mutt) configuration."""
    return (
        "# Step 6 of the lab: the mail account (the report configured Evolution the same way).\n"
        f'set realname = "{user}"\n'
        f'set from = "{user}@{fqdn}"\n'
        "set use_from = yes\n"
        f'set hostname = "{fqdn}"\n'
        "# sending server (SMTP)\n"
        f'set smtp_url = "smtp://{smtp_name}:25/"\n'
        "# receiving server (POP)\n"
        f'set pop_host = "pop://{user}@{pop_name}:110/"\n'
        f'set spoolfile = "pop://{user}@{pop_name}:110/"\n'
        "set pop_delete = no\n"
        "set ssl_starttls = no\n"
        "set ssl_force_tls = no\n"
        'set record = "~/sent"\n'
        "set move = no\n"
    )


MUTT_SETTINGS = ("from", "smtp_url", "spoolfile")
