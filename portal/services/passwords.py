"""Password hashing (argon2id) and the policy for new passwords (NCSC: length and a deny list)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
MAX_LENGTH = 1024  # long enough for any pass phrase; short enough that hashing stays cheap


class PasswordPolicyError(ValueError):
    pass


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_cost, parallelism).hash("no such account")


def dummy_hash() -> str:
    """A hash no password matches in practice: verified instead when there is no account to check against,
    so an unknown e-mail takes as long as a known one."""
    cfg = current_app.config
    return _dummy_hash(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])


@cache
def _hash_slots(limit: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(limit)


@contextmanager
def hash_slot() -> Iterator[bool]:
    """A turn to hash a password in this process (MAX_CONCURRENT_HASHES at once): yields False, without
    waiting longer than HASH_WAIT_SECONDS, when none comes free, and the caller must not hash."""
    slots = _hash_slots(current_app.config["MAX_CONCURRENT_HASHES"])
    got = slots.acquire(timeout=current_app.config["HASH_WAIT_SECONDS"])
    try:
        yield got
    finally:
        if got:
            slots.release()


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(line.strip().lower() for line in COMMON_PASSWORDS.read_text().splitlines() if line.strip())


def check_new_password(password: str, *, min_length: int = 12) -> None:
    """Raise PasswordPolicyError with a message a person can act on."""
    if len(password) < min_length:
        raise PasswordPolicyError(f"Password must be {min_length} characters or more")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"Password must be {MAX_LENGTH} characters or fewer")
    if password.strip().lower() in common_passwords():
        raise PasswordPolicyError("Password is too common: choose one that others are unlikely to use")
