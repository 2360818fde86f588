"""The database tables.

One `Actor` row for every ActivityPub actor we know: local people, the instance actor and
remote actors alike (`domain` is None for local ones). Local people have a `User` row too
(login, role, preferences) and every local actor a `LocalKey` (its private key, encrypted).
Ids are time-sortable integers from `storage.ids`.
"""

from storage.tables.accounts import Actor, Block, Follow, LocalKey, User
from storage.tables.client import (
    AccountList,
    Bookmark,
    ConversationMark,
    Filter,
    FilterKeyword,
    FilterStatus,
    IdempotencyKey,
    ListMember,
    Marker,
    Mute,
    Notification,
    Pin,
    Poll,
    PollOption,
    PollVote,
    StatusEdit,
    ThreadMute,
)
from storage.tables.columns import UTCDateTime, utcnow
from storage.tables.moderation import (
    AccountWarning,
    AuditEntry,
    BlocklistChange,
    BlocklistSubscription,
    DomainAllow,
    DomainBlock,
    Report,
)
from storage.tables.oauth import LoginAttempt, OAuthAccessToken, OAuthApp, OAuthAuthorizationCode
from storage.tables.queues import Delivery, Host, InboxItem
from storage.tables.statuses import (
    Favourite,
    HomeFeedEntry,
    MediaAttachment,
    Mention,
    Status,
    StatusTag,
    Tombstone,
)

__all__ = [
    "AccountList", "AccountWarning", "AuditEntry", "BlocklistChange", "BlocklistSubscription", "DomainAllow",
    "DomainBlock", "Bookmark", "ConversationMark", "Filter", "FilterKeyword", "FilterStatus", "IdempotencyKey",
    "ListMember", "Marker", "Mute", "Notification", "Pin", "Poll", "PollOption", "PollVote", "Report", "StatusEdit",
    "ThreadMute",
    "Actor", "Block", "Delivery", "Favourite", "Follow", "HomeFeedEntry", "Host", "InboxItem", "LocalKey",
    "LoginAttempt",
    "MediaAttachment", "Mention", "OAuthAccessToken", "OAuthApp", "OAuthAuthorizationCode", "Status",
    "StatusTag", "Tombstone", "UTCDateTime", "User", "utcnow",
]
