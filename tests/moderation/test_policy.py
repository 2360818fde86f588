import pytest

from moderation.network import Member, Network, NetworkFileError, load_network
from moderation.policy import DomainPolicy

NETWORK = Network(name="Hospital Network", members=(Member("Mayo", "mayo.example"), Member("Inova", "inova.example")))


def test_open_mode_federates_with_anyone():
    assert DomainPolicy("open").allows("anywhere.example")


@pytest.mark.parametrize(("domain", "allowed"), [
    ("mayo.example", True), ("MAYO.example.", True), ("social.mayo.example", True),
    ("evilmayo.example", False), ("mayo.example.evil.test", False), ("other.example", False),
])
def test_network_mode_allows_members_and_their_subdomains_only(domain, allowed):
    policy = DomainPolicy("network", NETWORK)
    assert policy.allows(domain) is allowed
    assert (policy.refusal(domain) is None) is allowed


def test_allowlist_mode_adds_listed_domains_to_the_members():
    policy = DomainPolicy("allowlist", NETWORK, frozenset({"partner.example"}))
    assert policy.allows("partner.example") and policy.allows("inova.example")
    assert "allowlist" in policy.refusal("stranger.example")


def test_network_file_is_read_and_bad_ones_are_named(tmp_path):
    good = tmp_path / "network.toml"
    good.write_text('name = "HN"\n[[members]]\nname = "Mayo"\ndomain = "Mayo.Example"\n')
    assert load_network(good) == Network("HN", (Member("Mayo", "mayo.example"),))
    bad = tmp_path / "bad.toml"
    for text, message in [("name = ", "not valid TOML"), ("[[members]]\nname='x'\ndomain='a.b'", "needs a `name`"),
                          ('name="HN"\n[[members]]\nname="x"\n', "member 1: needs a `domain`"),
                          ('name="HN"\n[[members]]\nname="x"\ndomain="a.b"\n[[members]]\nname="y"\ndomain="A.B"',
                           "listed twice")]:
        bad.write_text(text)
        with pytest.raises(NetworkFileError, match=message):
            load_network(bad)
