// Call one masto.js method against a Rounds instance and print its answer as JSON.
//
//   node masto_call.mjs URL TOKEN PATH [ARGS_JSON] [--pages N]
//
// PATH walks masto.js's client: "v1.statuses.create", "v1.accounts.$select:ID.follow",
// "oauth.token.create" (the OAuth client; TOKEN is then ignored). In ARGS_JSON, a value
// {"$file": PATH, "type": MIME} becomes a Blob of that file (for media uploads).
// With --pages N the method's paginator is walked for up to N pages: prints [page, ...].
// Failures print {"error": message, "status": HTTP status} and exit 1.
import { readFileSync } from "node:fs";
import { createOAuthAPIClient, createRestAPIClient } from "masto";

const [url, token, path, argsJson, ...rest] = process.argv.slice(2);
const pages = rest[0] === "--pages" ? Number(rest[1]) : 0;

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if ("$file" in value) return new Blob([readFileSync(value.$file)], { type: value.type });
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, revive(item)]));
  }
  return value;
}

const oauth = path.startsWith("oauth.");
let target = oauth ? createOAuthAPIClient({ url }) : createRestAPIClient({ url, accessToken: token || undefined });
for (const segment of (oauth ? path.slice("oauth.".length) : path).split(".")) {
  target = segment.startsWith("$select:") ? target.$select(segment.slice("$select:".length)) : target[segment];
}
const args = argsJson ? revive(JSON.parse(argsJson)) : undefined;
try {
  if (pages) {
    const collected = [];
    for await (const page of target(args)) {
      collected.push(page);
      if (collected.length >= pages) break;
    }
    console.log(JSON.stringify(collected));
  } else {
    console.log(JSON.stringify((await target(args)) ?? null));
  }
} catch (error) {
  console.log(JSON.stringify({ error: String(error.message ?? error), status: error.statusCode ?? null }));
  process.exit(1);
}
