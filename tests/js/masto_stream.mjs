// Follow one stream with masto.js's streaming client (the WebSocket one Elk and Phanpy use)
// and print each event as a line of JSON, until the server closes the stream.
//
//   node masto_stream.mjs STREAMING_URL TOKEN CHANNEL [PARAMS_JSON]
//
// CHANNEL walks masto.js's streaming client: "user", "user.notification", "public.local",
// "hashtag" (PARAMS_JSON {"tag": "x"}), "list" ({"list": "1"}). Each event prints as
// {"stream": [...], "event": "...", "payload": ...}; the end prints {"closed": true}, an
// error {"error": message}.
import { createStreamingAPIClient } from "masto";

const [streamingApiUrl, accessToken, channel, paramsJson] = process.argv.slice(2);
const client = createStreamingAPIClient({ streamingApiUrl, accessToken, retry: false });
let resource = client;
for (const segment of channel.split(".")) resource = resource[segment];
const subscription = resource.subscribe(paramsJson ? JSON.parse(paramsJson) : undefined);
try {
  for await (const event of subscription) console.log(JSON.stringify(event));
  console.log(JSON.stringify({ closed: true }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error.message ?? error) }));
} finally {
  client.close();
}
process.exit(0);
