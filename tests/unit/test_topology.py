"""Topology validation: every bad input is one line naming the file, the line and the fix."""

import json
from pathlib import Path

import pytest

from labsim.errors import UserInputError
from labsim.topology import json_schema, load_plan, parse_plan

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
name: t3mail
domain: t3.metro-cit.ac.jp
pcs:
  - name: pc5
  - name: pc12
    users: [user12, {name: saito, password: "it's \\"quoted\\""}]
  - range: 20-22
"""


def test_defaults_follow_the_report():
    plan = parse_plan(GOOD, "class.yml")
    pc5 = plan.pc("pc5")
    assert pc5.fqdn == "pc5.s5.t3.metro-cit.ac.jp"
    assert pc5.address == "192.168.0.105"
    assert [u.name for u in pc5.users] == ["user5"]
    assert [u.name for u in plan.pc("pc12").users] == ["user12", "saito"]
    assert plan.pc("pc12").users[1].password == 'it\'s "quoted"'
    assert [p.name for p in plan.pcs][-3:] == ["pc20", "pc21", "pc22"]
    assert plan.dns.address == "192.168.0.53" and plan.dns.fqdn == "ns.t3.metro-cit.ac.jp"
    assert plan.subnet == "192.168.0.0/24" and plan.gateway == "192.168.0.1"
    assert plan.stage == "configured" and plan.distro == "auto"


def test_shipped_topologies_load():
    plan = load_plan(ROOT / "topologies" / "class.yml")
    assert len(plan.pcs) == 40
    assert plan.pc("pc40").address == "192.168.0.140"
    assert plan.records == {"smtp": "192.168.0.10"}
    report = load_plan(ROOT / "topologies" / "report.yml")
    assert "saito" in [u.name for u in report.pc("pc12").users]


def test_published_json_schema_is_current():
    published = json.loads((ROOT / "topologies" / "topology.schema.json").read_text())
    assert published == json_schema()
    assert published["additionalProperties"] is False
    assert set(published["required"]) == {"name", "domain", "pcs"}


BASE = "name: t3mail\ndomain: t3.metro-cit.ac.jp\n"

# (case id, topology text, line expected in the message, words expected in the message)
BAD = [
    ("malformed yaml", BASE + "pcs:\n  - name: pc5\n   users: [a\n", None, ["malformed YAML"]),
    ("tab indentation", BASE + "pcs:\n\t- name: pc5\n", 4, ["malformed YAML"]),
    ("unknown top key", BASE + "pcz: []\npcs: [{name: pc1}]\n", 3, ["unknown key 'pcz'", "allowed here"]),
    ("unknown pc key", BASE + "pcs:\n  - name: pc5\n    adress: 192.168.0.5\n", 5, ["unknown key 'adress'"]),
    ("unknown dns key", BASE + "dns:\n  nmae: ns\npcs: [{name: pc1}]\n", 4, ["unknown key 'nmae'"]),
    ("missing name", "domain: t3.metro-cit.ac.jp\npcs: [{name: pc1}]\n", None, ["'name' is missing", "add it"]),
    ("missing domain", "name: t3mail\npcs: [{name: pc1}]\n", None, ["'domain' is missing"]),
    ("missing pcs", BASE, None, ["'pcs' is missing"]),
    ("empty pcs", BASE + "pcs: []\n", 3, ["at least one PC"]),
    ("duplicate pc name", BASE + "pcs:\n  - name: pc5\n  - name: pc5\n    address: 192.168.0.50\n", 5, ["duplicate host name 'pc5'", "line 4"]),
    ("duplicate via range", BASE + "pcs:\n  - name: pc5\n  - range: 1-10\n", 5, ["duplicate host name 'pc5'"]),
    ("duplicate address", BASE + "pcs:\n  - name: pc5\n  - name: pc6\n    address: 192.168.0.105\n", 6, ["already used", "own address"]),
    ("address outside subnet", BASE + "pcs:\n  - name: pc5\n    address: 10.0.0.5\n", 5, ["outside the subnet", "192.168.0.0/24"]),
    ("address equals dns", BASE + "pcs:\n  - name: pc5\n    address: 192.168.0.53\n", 5, ["already used"]),
    ("address is gateway", BASE + "pcs:\n  - name: pc5\n    address: 192.168.0.1\n", 5, ["gateway"]),
    ("address is broadcast", BASE + "pcs:\n  - name: pc5\n    address: 192.168.0.255\n", 5, ["broadcast"]),
    ("invalid address", BASE + "pcs:\n  - name: pc5\n    address: 192.168.0.300\n", 5, ["IPv4"]),
    ("invalid subnet", BASE + "subnet: 192.168.0.1/24\npcs: [{name: pc1}]\n", 3, ["subnet", "host bits"]),
    ("subnet too small", BASE + "subnet: 192.168.0.0/30\npcs: [{name: pc1}]\n", 3, ["too small"]),
    ("subnet too small for pcs", BASE + "subnet: 192.168.0.0/26\npcs: [{name: pc5}]\n", 4, ["does not fit", "larger subnet"]),
    ("invalid domain", "name: t3mail\ndomain: t3_metro..jp\npcs: [{name: pc1}]\n", 2, ["not a valid DNS domain"]),
    ("single label domain", "name: t3mail\ndomain: localdomain\npcs: [{name: pc1}]\n", 2, ["not a valid DNS domain"]),
    ("invalid lab name", "name: T3 Mail\ndomain: t3.metro-cit.ac.jp\npcs: [{name: pc1}]\n", 1, ["lab name", "lowercase"]),
    ("host name not a hostname", BASE + "pcs:\n  - name: PC_5\n", 4, ["not a valid host name"]),
    ("host name with dot", BASE + "pcs:\n  - name: pc5.s5\n", 4, ["not a valid host name"]),
    ("name without digits", BASE + "pcs:\n  - name: teacher\n", 4, ["no digits", "subdomain"]),
    ("user named root", BASE + "pcs:\n  - name: pc5\n    users: [root]\n", 5, ["system account"]),
    ("user with shell metacharacters", BASE + "pcs:\n  - name: pc5\n    users: ['u5;rm -rf /']\n", 5, ["not a valid Linux user name"]),
    ("user listed twice", BASE + "pcs:\n  - name: pc5\n    users: [user5, user5]\n", 5, ["listed twice"]),
    ("password with newline", BASE + 'pcs:\n  - name: pc5\n    users: [{name: user5, password: "a\\nb"}]\n', 5, ["newline"]),
    ("password with colon", BASE + 'pcs:\n  - name: pc5\n    users: [{name: user5, password: "a:b"}]\n', 5, ["':'"]),
    ("empty users", BASE + "pcs:\n  - name: pc5\n    users: []\n", 5, ["no users"]),
    ("10000-pc range", BASE + "pcs:\n  - range: 1-10000\n", 4, ["at most 250"]),
    ("bad range", BASE + "pcs:\n  - range: 1..40\n", 4, ["write it like 1-40"]),
    ("reversed range", BASE + "pcs:\n  - range: 40-1\n", 4, ["lower number first"]),
    ("range with users", BASE + "pcs:\n  - range: 1-3\n    users: [a]\n", 4, ["`range:` takes no"]),
    ("name and range", BASE + "pcs:\n  - name: pc1\n    range: 1-3\n", 4, ["not both"]),
    ("stage typo", BASE + "stage: configred\npcs: [{name: pc1}]\n", 3, ["stage", "'initial' or 'configured'"]),
    ("distro typo", BASE + "distro: centso\npcs: [{name: pc1}]\n", 3, ["distro", "'centos'"]),
    ("pcs not a list", BASE + "pcs: pc1\n", 3, ["YAML list"]),
    ("top level list", "- name: pc1\n", 1, ["YAML mapping"]),
    ("duplicate key", BASE + "domain: other.jp\npcs: [{name: pc1}]\n", 3, ["duplicate key 'domain'"]),
    ("bad record name", BASE + "dns:\n  records:\n    'bad name': 192.168.0.9\npcs: [{name: pc1}]\n", 5, ["record name"]),
    ("dns address outside", BASE + "dns:\n  address: 10.1.1.1\npcs: [{name: pc1}]\n", 4, ["outside the subnet"]),
]


@pytest.mark.parametrize("text,line,words", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_topology_gives_one_line_with_place_and_fix(text, line, words):
    with pytest.raises(UserInputError) as info:
        parse_plan(text, "class.yml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("class.yml")
    if line is not None:
        assert message.startswith(f"class.yml:{line}:"), message
    for word in words:
        assert word in message, message
    assert info.value.exit_code == 2


def test_at_least_25_bad_input_cases():
    assert len(BAD) >= 25


def test_empty_and_non_utf8_files(tmp_path):
    empty = tmp_path / "empty.yml"
    empty.write_text("  \n")
    with pytest.raises(UserInputError, match=r"empty.yml: the file is empty"):
        load_plan(empty)
    latin = tmp_path / "latin1.yml"
    latin.write_bytes(b"name: t3mail\ndomain: t3.metro-cit.ac.jp\n# \xe9cole\npcs: [{name: pc1}]\n")
    with pytest.raises(UserInputError, match=r"latin1.yml:3: not UTF-8"):
        load_plan(latin)
    with pytest.raises(UserInputError, match="no such file"):
        load_plan(tmp_path / "missing.yml")
