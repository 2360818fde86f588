"""ActivityStreams vocabulary: contexts, media types, addressing constants. Pure: no I/O."""

from __future__ import annotations

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# Peers write the public collection three ways (AS2 §5.6 allows the compacted forms).
PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})

ACTIVITY_JSON = "application/activity+json"
LD_JSON_PROFILE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
# Content types under which an ActivityStreams document may be served (AS2 core §2).
ACTIVITY_MEDIA_TYPES = frozenset({"application/activity+json", "application/ld+json"})

# Mastodon's extension terms we emit, so JSON-LD processors read them right.
EXTENSIONS_CONTEXT = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",  # in no published context: without this, JSON-LD readers drop our tags
    "blurhash": "toot:blurhash",
    "votersCount": "toot:votersCount",
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
}
ACTOR_CONTEXT = [AS_CONTEXT, SECURITY_CONTEXT, EXTENSIONS_CONTEXT]
