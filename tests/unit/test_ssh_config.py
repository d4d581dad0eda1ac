"""ssh_config and options made Endpoints: precedence, Include, host keys settings, jumps."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List, Optional

import pytest

from tasker.exec.ssh.config import SshConfig
from tasker.exec.ssh.errors import HostSpecError, SshConfigError
from tasker.exec.ssh.settings import SshOptions


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME of the run and of the process alike (paramiko expands `~` with the latter)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def make(tmp_path: Path, user_config: str = "", system_config: Optional[str] = None,
         warnings: Optional[List[str]] = None, **options) -> SshConfig:
    """An SshConfig with HOME and the system directory in tmp_path."""
    home, system = tmp_path / "home", tmp_path / "etc_ssh"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    system.mkdir(exist_ok=True)
    if user_config:
        (home / ".ssh" / "config").write_text(user_config)
    if system_config is not None:
        (system / "ssh_config").write_text(system_config)
    environ = {"HOME": str(home), "USER": "localuser"}
    sink = warnings if warnings is not None else []
    return SshConfig(SshOptions(environ=environ, **options), sink.append, system)


def test_defaults_without_any_config(tmp_path: Path) -> None:
    ep = make(tmp_path).endpoint("web1")
    home = tmp_path / "home"
    assert (ep.alias, ep.user, ep.hostname, ep.port) == ("web1", "localuser", "web1", 22)
    assert ep.identity_files == tuple(str(home / ".ssh" / n)
                                      for n in ("id_ed25519", "id_ecdsa", "id_rsa"))
    assert ep.connect_timeout == 10.0
    assert ep.proxy_jump == ()
    assert ep.known_hosts_files == (str(home / ".ssh/known_hosts"),
                                    str(home / ".ssh/known_hosts2"))
    assert ep.global_known_hosts_files == (str(tmp_path / "etc_ssh/ssh_known_hosts"),
                                           str(tmp_path / "etc_ssh/ssh_known_hosts2"))
    assert (ep.strict_host_key_checking, ep.hash_known_hosts) == ("yes", False)
    assert ep.known_hosts_name == "web1"


def test_host_blocks_alias_hostname_user_port_identity(tmp_path: Path) -> None:
    config = make(tmp_path, "Host web*\n  HostName 10.1.1.%h\n  User deploy\n  Port 2222\n"
                            "  IdentityFile ~/.ssh/deploy_key\n  ConnectTimeout 4\n")
    ep = config.endpoint("web1")
    assert (ep.hostname, ep.user, ep.port, ep.connect_timeout) == \
        ("10.1.1.web1", "deploy", 2222, 4.0)
    assert ep.identity_files == (str(tmp_path / "home/.ssh/deploy_key"),)
    assert ep.known_hosts_name == "[10.1.1.web1]:2222"
    assert ep.describe() == "deploy@web1 (10.1.1.web1) port 2222"


def test_the_user_the_task_names_wins_then_the_option_then_config(tmp_path: Path) -> None:
    text = "Host *\n  User fromconfig\n  Port 2200\n"
    assert make(tmp_path, text).endpoint("web1").user == "fromconfig"
    assert make(tmp_path, text, user="fromoption").endpoint("web1").user == "fromoption"
    ep = make(tmp_path, text, user="fromoption").endpoint("task@web1:23")
    assert (ep.user, ep.port) == ("task", 23)


def test_connect_timeout_option_wins(tmp_path: Path) -> None:
    config = make(tmp_path, "Host *\n  ConnectTimeout 4\n", connect_timeout=2.5)
    assert config.endpoint("web1").connect_timeout == 2.5


def test_first_value_wins_user_file_before_system_file(tmp_path: Path) -> None:
    config = make(tmp_path, "Host web1\n  Port 2201\nHost *\n  User u1\n",
                  "Host *\n  Port 2299\n  User u2\n  HashKnownHosts yes\n"
                  "  IdentityFile /keys/system\n")
    ep = config.endpoint("web1")
    assert (ep.port, ep.user, ep.hash_known_hosts) == (2201, "u1", True)
    assert config.endpoint("other").port == 2299
    assert ep.identity_files == ("/keys/system",)


def test_the_option_file_replaces_both_files(tmp_path: Path) -> None:
    own = tmp_path / "own_config"
    own.write_text("Host *\n  Port 2400\n")
    config = make(tmp_path, "Host *\n  Port 2201\n", "Host *\n  Port 2299\n",
                  config_file=str(own))
    assert config.endpoint("web1").port == 2400


def test_a_missing_option_file_is_a_sentence_for_every_host(tmp_path: Path) -> None:
    config = make(tmp_path, config_file=str(tmp_path / "nope"))
    for host in ("a", "b"):
        with pytest.raises(SshConfigError, match="cannot read --ssh-config .*nope: no such"):
            config.endpoint(host)


def test_include_is_followed_relative_to_dot_ssh(tmp_path: Path) -> None:
    config = make(tmp_path, "Include conf.d/*.conf\nHost *\n  Port 2299\n")
    (tmp_path / "home/.ssh/conf.d").mkdir()
    (tmp_path / "home/.ssh/conf.d/a.conf").write_text("Host web1\n  HostName 10.0.0.1\n")
    (tmp_path / "home/.ssh/conf.d/b.conf").write_text("Host web2\n  Port 2202\n")
    assert config.endpoint("web1").hostname == "10.0.0.1"
    assert config.endpoint("web2").port == 2202
    assert config.endpoint("web3").port == 2299


def test_an_unparsable_config_is_a_sentence(tmp_path: Path) -> None:
    config = make(tmp_path, "Host web1\n  Port\n")
    with pytest.raises(SshConfigError, match="cannot parse ssh_config"):
        config.endpoint("web1")


def test_a_bad_port_in_config_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(SshConfigError, match="ssh_config's port 'x' is not a positive number"):
        make(tmp_path, "Host *\n  Port x\n").endpoint("web1")


@pytest.mark.parametrize("value, expected", [
    ("yes", "yes"), ("ask", "yes"), ("accept-new", "accept-new"), ("no", "accept-new"),
    ("off", "accept-new")])
def test_strict_host_key_checking(tmp_path: Path, value: str, expected: str) -> None:
    warnings: List[str] = []
    config = make(tmp_path, f"Host *\n  StrictHostKeyChecking {value}\n", warnings=warnings)
    assert config.endpoint("a").strict_host_key_checking == expected
    assert config.endpoint("b").strict_host_key_checking == expected
    assert len(warnings) == (1 if value in ("no", "off") else 0)


def test_accept_new_option_wins_over_yes(tmp_path: Path) -> None:
    config = make(tmp_path, "Host *\n  StrictHostKeyChecking yes\n", accept_new=True)
    assert config.endpoint("a").strict_host_key_checking == "accept-new"


def test_known_hosts_files_with_tokens_and_none(tmp_path: Path) -> None:
    config = make(tmp_path, "Host a\n  UserKnownHostsFile ~/kh1 %d/kh2\n"
                            "  GlobalKnownHostsFile none\n")
    ep = config.endpoint("a")
    home = tmp_path / "home"
    assert ep.known_hosts_files == (str(home / "kh1"), str(home / "kh2"))
    assert ep.global_known_hosts_files == ()


def test_proxy_jump_chain_and_the_hop_before_the_target(tmp_path: Path) -> None:
    config = make(tmp_path, "Host inner\n  ProxyJump bastion1,ops@bastion2:2022\n"
                            "Host bastion1\n  HostName 10.9.9.9\n  ProxyJump none\n"
                            "Host bastion2\n  User nobody\n")
    ep = config.endpoint("inner")
    assert ep.proxy_jump == ("bastion1", "ops@bastion2:2022")
    assert ep.describe().endswith("via bastion1,ops@bastion2:2022")
    last = config.jump_host(ep)
    assert (last.user, last.alias, last.port, last.proxy_jump) == \
        ("ops", "bastion2", 2022, ("bastion1",))
    first = config.jump_host(last)
    assert (first.hostname, first.proxy_jump) == ("10.9.9.9", ())
    assert config.jump_host(first) is None
    assert ep.key != last.key


def test_proxy_command_is_refused(tmp_path: Path) -> None:
    config = make(tmp_path, "Host a\n  ProxyCommand nc %h %p\nHost b\n  ProxyCommand none\n")
    with pytest.raises(SshConfigError, match="use ProxyJump instead"):
        config.endpoint("a")
    assert config.endpoint("b").hostname == "b"


def test_a_bad_spec_is_raised_again_from_the_cache(tmp_path: Path) -> None:
    config = make(tmp_path)
    for _ in range(2):
        with pytest.raises(HostSpecError):
            config.endpoint("web1:99999")


def test_endpoint_is_thread_safe_and_cached(tmp_path: Path) -> None:
    config = make(tmp_path, "Host *\n  Port 2222\n")
    found: List[object] = []
    threads = [threading.Thread(target=lambda: found.append(config.endpoint("web1")))
               for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 50 and all(ep is found[0] for ep in found)
