// An independent ActivityPub server built with Fedify, for Rounds' interop tests (tests/interop).
//
//   node fedify_peer.mjs [--first-knock rfc9421|draft-cavage-http-signatures-12]
//
// Listens on a free 127.0.0.1 port and prints one JSON line, {"port": N}, once it answers.
// It hosts two people, alice and bob (RSA and Ed25519 keys, so its activities carry HTTP
// signatures, LD signatures and object integrity proofs), accepts every follow, and keeps in
// memory what it received. Fedify does the ActivityPub; the control API under /_peer/ (same
// port, loopback only) lets the Python tests make it act and ask what it saw:
//
//   POST /_peer/webfinger  {handle}                   WebFinger (over http) of user@host; {subject, actor}
//   POST /_peer/follow     {as, target}               Follow an actor (its URL); returns {id}
//   POST /_peer/unfollow   {as, target}               Undo that Follow
//   POST /_peer/post       {as, content, visibility: public|followers|direct, summary, inReplyTo,
//                           mentions: [actor URL], hashtags: [name], attachments: [{url, mediaType, name}],
//                           to: [actor URL], name}  Create a Note, delivered to followers and those named
//                                                  (with `name` and `inReplyTo` a Question: a vote)
//   POST /_peer/poll       {as, content, options: [name], multiple, hours}   Create a public Question
//   POST /_peer/update     {as, id, content}          Update one of its Notes
//   POST /_peer/delete     {as, id}                   Delete one (a Tombstone)
//   POST /_peer/rename     {as, name}                 Change the display name; Update(Person) to followers
//   POST /_peer/like       {as, object, author}       Like a post; author is its actor's URL
//   POST /_peer/announce   {as, object, author}       Boost a post
//   POST /_peer/fetch      {as, url, spec}            GET an object signed as `as`; {status, body}
//   POST /_peer/send-raw   {as, inbox, activity, spec, tamper, signedSecondsAgo, repeat, sendTo}
//                          POST an activity signed by hand for `inbox`: tamper is "", "body",
//                          "signature" or "unsigned"; the same request is sent `repeat` times, to
//                          `sendTo` if given (a signature replayed elsewhere); {status, statuses}
//   POST /_peer/config     {refuseRfc9421, preferSharedInbox}   Answer 401 to RFC 9421 signed inbox
//                          POSTs (as Mastodon does); deliver posts to shared inboxes
//   GET  /_peer/state                                 {inbox: [...], handled: [...], outgoing: [...],
//                                                      served: [...], authorizations: [...],
//                                                      followers: {...}, following: {...}}
//
// `inbox` lists every POST to an inbox: path, the signature scheme it carried, Fedify's status,
// the parsed body. `handled` lists what Fedify's inbox listeners were given (verified and parsed):
// the activity as JSON and, under `parsed`, what Fedify's object model read of its object.
// `outgoing` lists every request Fedify made: method, URL, signature scheme, status (and a POST's body);
// `served` every request it answered (method, path), control API aside; `authorizations` each
// decision on fetching a note that is not public: the verified key and its owner, allowed or not.

const realFetch = globalThis.fetch;
const outgoing = [];

function schemeOf(headers) {
  if (headers.get("signature-input")) return "rfc9421";
  if (headers.get("signature") || /^signature /i.test(headers.get("authorization") ?? "")) return "cavage";
  return "none";
}

// Wrapped before Fedify is loaded, so every request Fedify makes is seen.
globalThis.fetch = async (input, init) => {
  const request = new Request(input, init);
  const entry = { method: request.method, url: request.url, scheme: schemeOf(request.headers), status: null };
  if (request.method === "POST") {
    const text = await request.clone().text();
    try { entry.body = JSON.parse(text); } catch { entry.body = text; }
  }
  outgoing.push(entry);
  try {
    const response = await realFetch(request);
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.status = `error: ${error.message}`;
    throw error;
  }
};

const http = await import("node:http");
const { Temporal } = await import("@js-temporal/polyfill");
const {
  createFederation, MemoryKvStore, generateCryptoKeyPair, signRequest,
} = await import("@fedify/fedify");
const {
  Accept, Activity, Announce, Create, Delete, Document, Endpoints, Follow, Hashtag, Like, Mention,
  Note, Person, PUBLIC_COLLECTION, Question, Collection, Reject, Tombstone, Undo, Update,
} = await import("@fedify/vocab");

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const firstKnock = option("--first-knock", "rfc9421");
const PEOPLE = ["alice", "bob"];

const keys = {};
for (const name of PEOPLE) {
  keys[name] = [await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"), await generateCryptoKeyPair("Ed25519")];
}
const inbox = [];
const handled = [];
const authorizations = []; // authorized fetch decisions on notes that are not public
const served = []; // every request other than the control API's: method, path
const followers = Object.fromEntries(PEOPLE.map((name) => [name, new Map()])); // actor URL -> {inbox, sharedInbox}
const following = Object.fromEntries(PEOPLE.map((name) => [name, new Map()])); // actor URL -> "pending"|"accepted"
const notes = new Map(); // note id -> Note
const names = {}; // identifier -> display name, once renamed
const follows = new Map(); // `${as} ${target}` -> Follow sent
const config = { refuseRfc9421: false, preferSharedInbox: false };
let counter = 0;

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    console.error(error);
    if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: String(error?.stack ?? error) }));
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = server.address().port;
const origin = `http://127.0.0.1:${port}`;

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin,
  allowPrivateAddress: true, // loopback; Fedify's default loaders otherwise refuse it
  firstKnock,
});

async function person(ctx, identifier) {
  const pairs = await ctx.getActorKeyPairs(identifier);
  return new Person({
    id: ctx.getActorUri(identifier),
    preferredUsername: identifier,
    name: names[identifier] ?? `${identifier[0].toUpperCase()}${identifier.slice(1)} (Fedify)`,
    summary: "A Fedify peer in Rounds' interop tests",
    url: ctx.getActorUri(identifier),
    inbox: ctx.getInboxUri(identifier),
    endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
    followers: ctx.getFollowersUri(identifier),
    manuallyApprovesFollowers: false,
    publicKey: pairs[0].cryptographicKey,
    assertionMethods: pairs.map((pair) => pair.multikey),
  });
}

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    return PEOPLE.includes(identifier) ? await person(ctx, identifier) : null;
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => keys[identifier] ?? []);

federation.setFollowersDispatcher("/users/{identifier}/followers", async (_ctx, identifier) => {
  const items = [...(followers[identifier]?.entries() ?? [])].map(([id, { inbox, sharedInbox }]) => ({
    id: new URL(id), inboxId: new URL(inbox), endpoints: sharedInbox ? { sharedInbox: new URL(sharedInbox) } : null,
  }));
  return { items };
});

federation
  .setObjectDispatcher(Note, "/users/{identifier}/notes/{id}", async (ctx, values) => {
    return notes.get(ctx.getObjectUri(Note, values).href) ?? null;
  })
  // Authorized fetch: a note that is not public is served only on a request whose signature Fedify
  // verified, from a server where its author has a follower; anything else gets 401.
  .authorize(async (ctx, values) => {
    const note = notes.get(ctx.getObjectUri(Note, values).href);
    const audience = note ? [...note.toIds, ...note.ccIds].map((id) => id.href) : [];
    if (!note || audience.includes(PUBLIC_COLLECTION.href)) return true;
    const key = await ctx.getSignedKey();
    const owner = key ? await ctx.getSignedKeyOwner() : null;
    const hosts = [...followers[values.identifier].keys()].map((id) => new URL(id).host);
    const allowed = owner?.id != null && hosts.includes(owner.id.host);
    authorizations.push({ note: note.id.href, keyId: key?.id?.href ?? null, owner: owner?.id?.href ?? null, allowed });
    return allowed;
  });

federation.setObjectDispatcher(Question, "/users/{identifier}/questions/{id}", async (ctx, values) => {
  return notes.get(ctx.getObjectUri(Question, values).href) ?? null;
});

// What Fedify's object model made of a received object (terms it could not read are missing).
async function understood(object) {
  const tags = [];
  const attachments = [];
  if (typeof object.getTags === "function") {
    for await (const tag of object.getTags()) {
      tags.push({ type: tag.constructor.name, name: tag.name?.toString() ?? null, href: tag.href?.href ?? null });
    }
    for await (const item of object.getAttachments()) {
      attachments.push({ type: item.constructor.name, mediaType: item.mediaType ?? null,
        url: item.url?.href ?? null, name: item.name?.toString() ?? null });
    }
  }
  const options = [];
  if (object instanceof Question) {
    for (const choices of [object.getExclusiveOptions(), object.getInclusiveOptions()]) {
      for await (const choice of choices) options.push(choice.name?.toString() ?? null);
    }
  }
  return {
    type: object.constructor.name, summary: object.summary?.toString() ?? null, sensitive: object.sensitive ?? null,
    tags, attachments, options, voters: object instanceof Question ? object.voters : null,
  };
}

function localName(ctx, uri) {
  const parsed = uri ? ctx.parseUri(uri) : null;
  return parsed?.type === "actor" ? parsed.identifier : null;
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Activity, async (ctx, activity) => {
    const json = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
    // Read before getObject(), which may replace a cross-origin embedded object by what its id serves.
    const objectId = activity.objectId?.href ?? null;
    const object = await activity.getObject().catch(() => null);
    handled.push({
      type: json.type, id: activity.id?.href, actor: activity.actorId?.href,
      object: object?.id?.href ?? objectId,
      objectType: object ? (await object.toJsonLd()).type : null,
      parsed: object ? await understood(object) : null,
      json,
    });
    if (activity instanceof Follow) {
      const me = localName(ctx, activity.objectId);
      const follower = await activity.getActor();
      if (!me || !follower) return;
      followers[me].set(follower.id.href, {
        inbox: follower.inboxId.href, sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
      });
      await ctx.sendActivity({ identifier: me }, follower, new Accept({
        id: new URL(`${ctx.getActorUri(me).href}#accepts/${++counter}`),
        actor: ctx.getActorUri(me), object: activity,
      }));
    } else if (activity instanceof Accept || activity instanceof Reject) {
      // The embedded Follow is on our origin, so Fedify reloads it by id (and gets our actor); find it by id.
      const sent = [...follows.entries()].find(([, follow]) => follow.id.href === objectId);
      const [me, target] = sent ? sent[0].split(" ") : [];
      if (me && target === activity.actorId?.href) {
        if (activity instanceof Accept) following[me].set(target, "accepted");
        else following[me].delete(target);
      }
    } else if (activity instanceof Undo && object instanceof Follow) {
      const me = localName(ctx, object.objectId);
      if (me) followers[me].delete(activity.actorId.href);
    }
  })
  .onError((_ctx, error) => console.error("inbox error", error));

// --- the control API -------------------------------------------------------------------------

function contextNow() {
  return federation.createContext(new URL(origin), undefined);
}

async function recipient(ctx, as, url) {
  const documentLoader = await ctx.getDocumentLoader({ identifier: as });
  const actor = await ctx.lookupObject(url, { documentLoader });
  if (!actor?.inboxId) throw new Error(`no actor with an inbox at ${url}`);
  return actor;
}

function nextNoteId(ctx, as) {
  return ctx.getObjectUri(Note, { identifier: as, id: `${Date.now()}-${++counter}` });
}

function audience(ctx, as, visibility, named) {
  const followersUri = ctx.getFollowersUri(as);
  if (visibility === "public") return { tos: [PUBLIC_COLLECTION, ...named], ccs: [followersUri] };
  if (visibility === "direct") return { tos: named, ccs: [] };
  return { tos: [followersUri, ...named], ccs: [] };
}

async function deliver(ctx, as, activity, named) {
  const options = { preferSharedInbox: config.preferSharedInbox };
  if (followers[as].size > 0) await ctx.sendActivity({ identifier: as }, "followers", activity, options);
  const others = named.filter((actor) => !followers[as].has(actor.id.href));
  if (others.length > 0) await ctx.sendActivity({ identifier: as }, others, activity, options);
}

const control = {
  async poll(ctx, { as, content, options, multiple = false, hours = 24 }) {
    const id = ctx.getObjectUri(Question, { identifier: as, id: `${Date.now()}-${++counter}` });
    const choices = options.map((name) => new Note({ name, replies: new Collection({ totalItems: 0 }) }));
    const question = new Question({
      id, attribution: ctx.getActorUri(as), content, url: id, published: Temporal.Now.instant(),
      endTime: Temporal.Now.instant().add({ hours }), voters: 0,
      ...(multiple ? { inclusiveOptions: choices } : { exclusiveOptions: choices }),
      ...audience(ctx, as, "public", []),
    });
    notes.set(id.href, question);
    await deliver(ctx, as, new Create({
      id: new URL(`${id.href}/activity`), actor: ctx.getActorUri(as), object: question,
      tos: question.toIds, ccs: question.ccIds,
    }), []);
    return { id: id.href };
  },
  async webfinger(_ctx, { handle }) {
    // Fedify's own WebFinger lookup always uses https; the tests' servers speak http.
    const host = handle.split("@").at(-1);
    const response = await fetch(`http://${host}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${handle}`)}`,
      { headers: { accept: "application/jrd+json" } });
    if (!response.ok) throw new Error(`WebFinger of ${handle}: ${response.status}`);
    const jrd = await response.json();
    const self = jrd.links?.find((link) => link.rel === "self" && /activity\+json|ld\+json/.test(link.type ?? ""));
    if (!self) throw new Error(`WebFinger of ${handle} names no actor`);
    return { subject: jrd.subject, actor: self.href };
  },
  async follow(ctx, { as, target }) {
    const actor = await recipient(ctx, as, target);
    const follow = new Follow({
      id: new URL(`${ctx.getActorUri(as).href}#follows/${++counter}`), actor: ctx.getActorUri(as), object: actor.id,
    });
    follows.set(`${as} ${actor.id.href}`, follow);
    following[as].set(actor.id.href, "pending");
    await ctx.sendActivity({ identifier: as }, actor, follow);
    return { id: follow.id.href };
  },
  async unfollow(ctx, { as, target }) {
    const actor = await recipient(ctx, as, target);
    const follow = follows.get(`${as} ${actor.id.href}`);
    if (!follow) throw new Error(`${as} never followed ${target}`);
    const undo = new Undo({
      id: new URL(`${ctx.getActorUri(as).href}#undo/${++counter}`), actor: ctx.getActorUri(as), object: follow,
    });
    following[as].delete(actor.id.href);
    await ctx.sendActivity({ identifier: as }, actor, undo);
    return { id: undo.id.href };
  },
  async post(ctx, body) {
    const { as, content, visibility = "public", summary, inReplyTo, mentions = [], hashtags = [],
      attachments = [], to = [], name } = body;
    const named = [];
    for (const url of [...mentions, ...to]) named.push(await recipient(ctx, as, url));
    const tags = [
      ...named.slice(0, mentions.length).map((actor) => new Mention({
        href: actor.id, name: `@${actor.preferredUsername}@${actor.id.host}`,
      })),
      ...hashtags.map((name) => new Hashtag({ href: new URL(`${origin}/tags/${name}`), name: `#${name}` })),
    ];
    const id = nextNoteId(ctx, as);
    const note = new Note({
      id, attribution: ctx.getActorUri(as), content: content ?? null, name: name ?? null,
      summary: summary ?? null, sensitive: Boolean(summary),
      replyTarget: inReplyTo ? new URL(inReplyTo) : null, url: id,
      published: Temporal.Now.instant(), tags,
      attachments: attachments.map((item) => new Document({
        url: new URL(item.url), mediaType: item.mediaType, name: item.name ?? null,
      })),
      ...audience(ctx, as, visibility, named.map((actor) => actor.id)),
    });
    notes.set(id.href, note);
    const create = new Create({
      id: new URL(`${id.href}/activity`), actor: ctx.getActorUri(as), object: note,
      tos: note.toIds, ccs: note.ccIds, published: note.published,
    });
    await deliver(ctx, as, create, named);
    return { id: id.href };
  },
  async update(ctx, { as, id, content }) {
    const old = notes.get(id);
    if (!old) throw new Error(`no note ${id}`);
    const note = old.clone({ content, updated: Temporal.Now.instant() });
    notes.set(id, note);
    const update = new Update({
      id: new URL(`${id}#updates/${++counter}`), actor: ctx.getActorUri(as), object: note,
      tos: note.toIds, ccs: note.ccIds,
    });
    await deliver(ctx, as, update, []);
    return { id: update.id.href };
  },
  async delete(ctx, { as, id }) {
    const note = notes.get(id);
    if (!note) throw new Error(`no note ${id}`);
    notes.delete(id);
    const deletion = new Delete({
      id: new URL(`${id}#delete`), actor: ctx.getActorUri(as),
      object: new Tombstone({ id: new URL(id) }), tos: note.toIds, ccs: note.ccIds,
    });
    await deliver(ctx, as, deletion, []);
    return { id: deletion.id.href };
  },
  async rename(ctx, { as, name }) {
    names[as] = name;
    const update = new Update({
      id: new URL(`${ctx.getActorUri(as).href}#profile-updates/${++counter}`), actor: ctx.getActorUri(as),
      object: await person(ctx, as), tos: [PUBLIC_COLLECTION], ccs: [ctx.getFollowersUri(as)],
    });
    await deliver(ctx, as, update, []);
    return { id: update.id.href };
  },
  async like(ctx, { as, object, author }) {
    const actor = await recipient(ctx, as, author);
    const like = new Like({
      id: new URL(`${ctx.getActorUri(as).href}#likes/${++counter}`), actor: ctx.getActorUri(as),
      object: new URL(object), to: actor.id,
    });
    await ctx.sendActivity({ identifier: as }, actor, like);
    return { id: like.id.href };
  },
  async announce(ctx, { as, object, author }) {
    const actor = await recipient(ctx, as, author);
    const announce = new Announce({
      id: new URL(`${ctx.getActorUri(as).href}#announces/${++counter}`), actor: ctx.getActorUri(as),
      object: new URL(object), tos: [PUBLIC_COLLECTION], ccs: [actor.id, ctx.getFollowersUri(as)],
      published: Temporal.Now.instant(),
    });
    await ctx.sendActivity({ identifier: as }, actor, announce);
    return { id: announce.id.href };
  },
  async fetch(ctx, { as, url, spec = "rfc9421" }) {
    const request = new Request(url, { headers: { accept: "application/activity+json" } });
    const signed = as ? await signRequest(request, keys[as][0].privateKey, keyId(ctx, as), { spec }) : request;
    const response = await realFetch(signed);
    const text = await response.text();
    let body = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    return { status: response.status, body };
  },
  async "send-raw"(ctx, { as, inbox: target, activity, spec = "rfc9421", tamper = "", signedSecondsAgo = 0,
    repeat = 1, sendTo }) {
    const body = JSON.stringify(activity);
    const request = new Request(target, {
      method: "POST", headers: { "content-type": "application/activity+json" }, body,
    });
    let sent = request;
    if (tamper !== "unsigned") {
      const currentTime = Temporal.Now.instant().subtract({ seconds: signedSecondsAgo });
      sent = await signRequest(request, keys[as][0].privateKey, keyId(ctx, as), { spec, currentTime });
    }
    const headers = new Headers(sent.headers);
    let sentBody = body;
    if (tamper === "body") sentBody = body.replace(activity.object?.content ?? "}", (text) => `${text} `);
    if (tamper === "signature") headers.set("signature", flipSignature(headers.get("signature")));
    const statuses = [];
    let text = "";
    for (let time = 0; time < repeat; time++) { // the very same request again: a replay
      const response = await realFetch(sendTo ?? target, { method: "POST", headers, body: sentBody });
      statuses.push(response.status);
      text = await response.text();
    }
    return { status: statuses[0], statuses, body: text, scheme: schemeOf(headers) };
  },
  async config(_ctx, body) {
    Object.assign(config, body);
    return config;
  },
};

function keyId(ctx, as) {
  return new URL(`${ctx.getActorUri(as).href}#main-key`);
}

function flipSignature(value) {
  // cavage: signature="base64"; RFC 9421: label=:base64: — change one character of the base64.
  const match = /(signature="|=:)([A-Za-z0-9+/]{8})/.exec(value);
  const at = match.index + match[1].length + 4;
  const replacement = value[at] === "A" ? "B" : "A";
  return value.slice(0, at) + replacement + value.slice(at + 1);
}

function state() {
  const table = (maps) => Object.fromEntries(Object.entries(maps).map(([name, map]) => [name, Object.fromEntries(map)]));
  return { inbox, handled, outgoing, served, authorizations, followers: table(followers), following: table(following), port };
}

// --- HTTP: Node's server in front of federation.fetch -----------------------------------------

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function send(res, response) {
  const headers = {};
  response.headers.forEach((value, name) => { headers[name] = value; });
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

function json(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

async function handle(req, res) {
  const url = new URL(req.url, origin);
  const body = await readBody(req);
  if (url.pathname.startsWith("/_peer/")) {
    const name = url.pathname.slice("/_peer/".length);
    if (req.method === "GET" && name === "state") return json(res, 200, state());
    const action = control[name];
    if (req.method !== "POST" || !action) return json(res, 404, { error: `no control action ${name}` });
    try {
      return json(res, 200, await action(contextNow(), JSON.parse(body.toString() || "{}")));
    } catch (error) {
      return json(res, 500, { error: String(error?.stack ?? error) });
    }
  }
  served.push({ method: req.method, path: url.pathname });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const isInbox = req.method === "POST" && /\/inbox$/.test(url.pathname);
  const entry = isInbox ? { path: url.pathname, scheme: schemeOf(headers), status: null, body: null } : null;
  if (entry) {
    inbox.push(entry);
    try { entry.body = JSON.parse(body.toString()); } catch { entry.body = body.toString(); }
    if (config.refuseRfc9421 && entry.scheme === "rfc9421") {
      entry.status = 401;
      return json(res, 401, { error: "this peer is told to refuse RFC 9421 signatures" });
    }
  }
  const request = new Request(url, {
    method: req.method, headers, body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
  });
  const response = await federation.fetch(request, { contextData: undefined });
  if (entry) entry.status = response.status;
  await send(res, response);
}

process.on("SIGTERM", () => process.exit(0)); // all its state is in memory: nothing to save
console.log(JSON.stringify({ port, origin, firstKnock }));
