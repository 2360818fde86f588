// The Fedify side of Rounds' "peer side by side" benchmark (bench/fedify.py): the least
// server Fedify makes, receiving the same signed Create(Note)s as Rounds' inbox ingest.
//
//   node fedify_ingest.mjs DATABASE_FILE [--queue] [--kv sqlite|memory]
//
// It lives here, beside fedify_peer.mjs, so that `@fedify/fedify` resolves from this
// directory's node_modules (Node resolves bare imports from the importing file's folder up).
// Listens on a free 127.0.0.1 port and prints one JSON line, {"port": N, ...}, once it answers.
//
// One local actor, `bench`; a personal inbox /users/bench/inbox and the shared inbox /inbox.
// Fedify does all the ActivityPub work on a POST: parses the JSON-LD, verifies the draft-cavage
// HTTP signature (fetching the sender's key from the loopback actors of bench/peer.py, hence
// allowPrivateAddress), checks that the key's owner is the activity's actor, checks and records
// the activity id (idempotence), and calls the inbox listener. The listener stores what it got
// durably: one INSERT (autocommit, one transaction) of the activity's id, actor and JSON into
// SQLite through node:sqlite, in WAL mode with synchronous=NORMAL, as Rounds runs SQLite.
//
// --kv sqlite (the default): Fedify's key-value store (its key cache, document cache and
//   idempotence records) is a table in the same SQLite file, as @fedify/sqlite would keep it;
//   Rounds keeps those things in its database too. --kv memory: Fedify's MemoryKvStore.
// --queue: Fedify's InProcessMessageQueue (in memory, not durable): the POST answers 202 once the
//   signature is verified and the activity queued; the listener runs afterwards. Without it
//   (the default) no queue: the POST answers 202 only after the listener has stored the row.
//
// GET /_bench/state -> {received, accepted, handled, stored, firstPost, lastHandled} (times: ms since
// the epoch): POSTs to an inbox, of those answered 202, activities the listener handled, rows in
// the table.

import http from "node:http";
import { DatabaseSync } from "node:sqlite";

const { createFederation, InProcessMessageQueue, MemoryKvStore } = await import("@fedify/fedify");
const { Create, Endpoints, Person } = await import("@fedify/vocab");

const args = process.argv.slice(2);
const databaseFile = args.find((arg) => !arg.startsWith("--"));
if (!databaseFile) {
  console.error("usage: node fedify_ingest.mjs DATABASE_FILE [--queue] [--kv sqlite|memory]");
  process.exit(2);
}
const useQueue = args.includes("--queue");
const kvKind = args.includes("--kv") ? args[args.indexOf("--kv") + 1] : "sqlite";

const db = new DatabaseSync(databaseFile);
db.exec("PRAGMA journal_mode=WAL");
db.exec("PRAGMA synchronous=NORMAL");
db.exec("PRAGMA busy_timeout=10000");
db.exec(`CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY, activity_id TEXT NOT NULL UNIQUE, actor TEXT NOT NULL, body TEXT NOT NULL,
  received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`);
db.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER)");
const insert = db.prepare("INSERT OR IGNORE INTO inbox (activity_id, actor, body) VALUES (?, ?, ?)");
const countRows = db.prepare("SELECT count(*) AS n FROM inbox");

// A KvStore on node:sqlite: keys as JSON arrays, values as JSON, an optional expiry.
class SqliteKvStore {
  #get = db.prepare("SELECT value, expires FROM kv WHERE key = ?");
  #set = db.prepare("INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) "
    + "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires");
  #delete = db.prepare("DELETE FROM kv WHERE key = ?");
  #all = db.prepare("SELECT key, value, expires FROM kv");

  #live(row) {
    return row != null && (row.expires == null || row.expires > Date.now());
  }

  async get(key) {
    const row = this.#get.get(JSON.stringify(key));
    return this.#live(row) ? JSON.parse(row.value) : undefined;
  }

  async set(key, value, options) {
    const ttl = options?.ttl;
    const expires = ttl == null ? null : Date.now() + ttl.total("millisecond");
    this.#set.run(JSON.stringify(key), JSON.stringify(value), expires);
  }

  async delete(key) {
    this.#delete.run(JSON.stringify(key));
  }

  async cas(key, expectedValue, newValue, options) {
    db.exec("BEGIN IMMEDIATE");
    try {
      const current = await this.get(key);
      if (JSON.stringify(current) !== JSON.stringify(expectedValue)) {
        db.exec("COMMIT");
        return false;
      }
      if (newValue === undefined) await this.delete(key);
      else await this.set(key, newValue, options);
      db.exec("COMMIT");
      return true;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  async *list(prefix = []) {
    for (const row of this.#all.all()) {
      const key = JSON.parse(row.key);
      if (this.#live(row) && prefix.every((part, index) => key[index] === part)) {
        yield { key, value: JSON.parse(row.value) };
      }
    }
  }
}

const stats = { received: 0, accepted: 0, handled: 0, firstPost: null, lastHandled: null };

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    console.error(error);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(error?.stack ?? error));
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = server.address().port;
const origin = `http://127.0.0.1:${port}`;

const federation = createFederation({
  kv: kvKind === "memory" ? new MemoryKvStore() : new SqliteKvStore(),
  origin,
  allowPrivateAddress: true, // the senders live on 127.0.0.x; Fedify's loaders refuse that by default
  ...(useQueue ? { queue: new InProcessMessageQueue() } : {}),
});

federation.setActorDispatcher("/users/{identifier}", (ctx, identifier) => {
  if (identifier !== "bench") return null;
  return new Person({
    id: ctx.getActorUri(identifier), preferredUsername: identifier, name: "Fedify bench",
    inbox: ctx.getInboxUri(identifier), endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
  });
});

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Create, async (_ctx, create) => {
    // The JSON-LD Fedify parsed, as received (toJsonLd() hands back the cached original).
    const json = await create.toJsonLd();
    insert.run(create.id.href, create.actorId.href, JSON.stringify(json));
    stats.handled += 1;
    stats.lastHandled = Date.now();
  })
  .onError((_ctx, error) => console.error("inbox listener:", error));

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function handle(req, res) {
  const url = new URL(req.url, origin);
  if (req.method === "GET" && url.pathname === "/_bench/state") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ...stats, stored: countRows.get().n }));
    return;
  }
  const body = await readBody(req);
  const isInbox = req.method === "POST" && url.pathname.endsWith("/inbox");
  if (isInbox) {
    stats.received += 1;
    stats.firstPost ??= Date.now();
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const request = new Request(url, {
    method: req.method, headers, body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
  });
  const response = await federation.fetch(request, { contextData: undefined });
  if (isInbox && response.status === 202) stats.accepted += 1;
  const out = {};
  response.headers.forEach((value, name) => { out[name] = value; });
  res.writeHead(response.status, out);
  res.end(Buffer.from(await response.arrayBuffer()));
}

process.on("SIGTERM", () => {
  server.close();
  db.close();
  process.exit(0);
});
console.log(JSON.stringify({ port, origin, queue: useQueue, kv: kvKind === "memory" ? "memory" : "sqlite" }));
