"""Errors raised by `actors`.

    AccountError                 a local account cannot be created or changed as asked
    ├── InvalidUsername          not letters, digits and underscores, too long, or reserved
    ├── UsernameTaken            another account has it (compared case-insensitively)
    ├── InvalidEmail
    ├── EmailTaken
    ├── WeakPassword
    └── InvalidRole
    KeyUnavailable               a stored private key cannot be opened (wrong instance secret?)
"""


class AccountError(ValueError):
    """Base of the account errors; the message says what is wrong, for people."""

    field = ""


class InvalidUsername(AccountError):
    field = "username"


class UsernameTaken(AccountError):
    field = "username"


class InvalidEmail(AccountError):
    field = "email"


class EmailTaken(AccountError):
    field = "email"


class WeakPassword(AccountError):
    field = "password"


class InvalidRole(AccountError):
    field = "role"


class KeyUnavailable(RuntimeError):
    """A stored private key cannot be decrypted: the instance secret changed or the row is damaged."""
