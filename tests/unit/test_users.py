"""Users, tokens and sessions: only hashes are stored, a revoked token stops at once, names and scopes are checked."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from crimelink.access.principals import Principal, Role
from crimelink.access.sessions import LoginThrottle, SessionStore
from crimelink.access.users import UserRegistry, hash_secret, verify_secret
from crimelink.errors import AccessError


def test_tokens_and_passwords_are_stored_only_as_scrypt_hashes(tmp_path: Path) -> None:
    registry = UserRegistry(tmp_path / "users.json")
    token = registry.add("ana", Role.ANALYST, password="correct horse battery")
    text = (tmp_path / "users.json").read_text()
    assert token not in text and token.split("_", 2)[2] not in text and "correct horse" not in text  # a secret may hold "_"
    assert text.count("scrypt$") == 2
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    assert registry.authenticate_token(token) == Principal("ana", Role.ANALYST, via="token")
    assert registry.authenticate_password("ana", "correct horse battery") is not None
    assert registry.authenticate_password("ana", token) is not None  # the token works as the login page's password
    assert registry.authenticate_password("ana", "wrong") is None
    assert registry.authenticate_password("nobody", "correct horse battery") is None
    assert registry.authenticate_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert registry.authenticate_token("not a token") is None


def test_a_revoked_user_is_refused_by_a_registry_that_had_already_checked_its_token(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    worker_view = UserRegistry(path)
    token = UserRegistry(path).add("ana", Role.ANALYST)
    assert worker_view.authenticate_token(token) is not None  # now cached
    UserRegistry(path).revoke("ana")  # another process: the CLI
    assert worker_view.authenticate_token(token) is None
    listed = json.loads(path.read_text())["users"][0]
    assert listed["revoked"] and listed["tokens"] == {}


def test_an_unreadable_users_file_lets_nobody_in(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    registry = UserRegistry(path)
    token = registry.add("ana", Role.ANALYST)
    assert registry.authenticate_token(token) is not None
    path.write_text('{"users": [{"name": "ana", "role": "superuser"}]}')  # a hand edit gone wrong
    with pytest.raises(AccessError, match="cannot be read"):
        registry.authenticate_token(token)
    path.write_text("not json")
    with pytest.raises(AccessError, match="nobody can log in"):
        registry.users()


def test_roles_need_their_scope(tmp_path: Path) -> None:
    registry = UserRegistry(tmp_path / "users.json")
    with pytest.raises(AccessError, match="needs at least one --force"):
        registry.add("liaison", Role.FORCE)
    with pytest.raises(AccessError, match="needs --retailer"):
        registry.add("dev", Role.RETAILER)
    with pytest.raises(AccessError, match="applies to force users only"):
        registry.add("ana", Role.ANALYST, forces=["kent"])
    with pytest.raises(AccessError, match="not allowed"):
        registry.add("../etc", Role.ANALYST)
    registry.add("liaison", Role.FORCE, forces=["kent", "essex"])
    with pytest.raises(AccessError, match="exists"):
        registry.add("liaison", Role.FORCE, forces=["kent"])
    principal = registry.get("liaison").principal("token")  # type: ignore[union-attr]
    assert principal.sees_forces(["essex", "durham"]) and not principal.sees_forces(["durham"])


def test_hashes_verify_only_their_secret() -> None:
    stored = hash_secret("s3cret")
    assert verify_secret("s3cret", stored) and not verify_secret("s3cret!", stored)
    assert not verify_secret("s3cret", "md5$abc") and not verify_secret("s3cret", "garbage")


def test_sessions_expire_and_end() -> None:
    now = [0.0]
    sessions = SessionStore(60, clock=lambda: now[0])
    session = sessions.create(Principal("ana", Role.ANALYST))
    now[0] = 59
    assert sessions.get(session.id) is session  # and renewed
    now[0] = 118
    assert sessions.get(session.id) is session
    now[0] = 200
    assert sessions.get(session.id) is None
    other = sessions.create(Principal("ana", Role.ANALYST))
    sessions.end(other.id)
    assert sessions.get(other.id) is None


def test_the_login_throttle_locks_after_five_failures() -> None:
    throttle = LoginThrottle(attempts=5, window_seconds=300)
    for _ in range(4):
        throttle.failed("name:ana")
    assert not throttle.locked("name:ana")
    throttle.failed("name:ana")
    assert throttle.locked("name:ana", "client:1.2.3.4")
    throttle.succeeded("name:ana")
    assert not throttle.locked("name:ana")


def test_the_users_commands_add_list_and_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from crimelink.cli.commands import main
    from crimelink.settings import get_settings

    monkeypatch.setenv("CRIMELINK_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        added = runner.invoke(main, ["users", "add", "kent-li", "--role", "force", "--force", "kent"])
        assert added.exit_code == 0, added.output
        token = added.stdout.strip().splitlines()[-1]
        assert token.startswith("crl_") and UserRegistry(tmp_path / "users.json").authenticate_token(token)
        listed = runner.invoke(main, ["users", "list"])
        assert "kent-li\tforce\tkent\t1 token(s)" in listed.output
        refused = runner.invoke(main, ["users", "add", "x", "--role", "force"])
        assert refused.exit_code != 0 and "needs at least one --force" in refused.output
        assert runner.invoke(main, ["users", "revoke", "kent-li"]).exit_code == 0
        assert UserRegistry(tmp_path / "users.json").authenticate_token(token) is None
        assert "revoked" in runner.invoke(main, ["users", "list"]).output
    finally:
        get_settings.cache_clear()
