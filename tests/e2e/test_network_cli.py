"""`rounds network show|check` against real member instances on loopback: one agrees, one lists a
different membership, one is not running at all."""

import pytest

from tests.support.processes import Instance, free_port, rounds_env, run_rounds

pytestmark = pytest.mark.e2e


def _network_file(path, name, members):
    lines = [f'name = "{name}"']
    for title, domain in members:
        lines += ["[[members]]", f'name = "{title}"', f'domain = "{domain}"', 'contact = "fedi@example.org"']
    path.write_text("\n".join(lines) + "\n")
    return path


def test_check_reports_each_member_and_fails_when_one_disagrees_or_is_down(new_database_url, tmp_path):
    mayo_port, inova_port, dead_port = free_port(), free_port(), free_port()
    mayo, inova, dead = (f"127.0.0.1:{port}" for port in (mayo_port, inova_port, dead_port))
    everyone = [("Mayo Clinic", mayo), ("Inova", inova), ("Swedish", dead)]
    full = _network_file(tmp_path / "network.toml", "Hospital Network", everyone)
    partial = _network_file(tmp_path / "inova-network.toml", "Hospital Network", everyone[:2])
    started = []
    try:
        for name, port, network in (("mayo", mayo_port, full), ("inova", inova_port, partial)):
            folder = tmp_path / name
            folder.mkdir()
            instance = Instance(name=name, database_url=new_database_url(empty=True), directory=folder, port=port,
                                extra={"ROUNDS_NETWORK_FILE": str(network), "ROUNDS_FEDERATION_MODE": "network",
                                       "ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true"})
            instance.start()
            started.append(instance)
        shown = started[0].cli("network", "show")
        assert shown.returncode == 0, shown.stderr
        assert "Hospital Network (federation mode: network)" in shown.stdout
        assert f"{mayo}" in shown.stdout and "(this instance)" in shown.stdout and "Swedish" in shown.stdout

        checked = started[0].cli("network", "check")
        assert checked.returncode == 1, checked.stdout + checked.stderr
        lines = checked.stdout.splitlines()
        assert lines[0] == "checking 3 members of Hospital Network"
        assert lines[1].startswith(f"[1/3] Mayo Clinic ({mayo}): ok: nodeinfo (rounds ")
        assert lines[1].endswith("same network, webfinger, key")
        assert lines[2].startswith(f"[2/3] Inova ({inova}): PROBLEM: network: it does not list {dead}")
        assert lines[3].startswith(f"[3/3] Swedish ({dead}): PROBLEM: nodeinfo:")
        assert lines[4] == "1 of 3 members ok, 2 with problems"
    finally:
        for instance in started:
            instance.stop()


def test_network_commands_without_a_network_file_say_how_to_set_one(new_database_url, tmp_path):
    env = rounds_env(new_database_url(empty=True), ROUNDS_DOMAIN="127.0.0.1:8123")
    assert run_rounds("init", env=env, cwd=tmp_path).returncode == 0
    for action in ("show", "check"):
        result = run_rounds("network", action, env=env, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip() == ("rounds: error: this instance belongs to no network: "
                                         "set ROUNDS_NETWORK_FILE to the network's TOML file")
