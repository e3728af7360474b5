// Container health check: calls grpc.health.v1.Health/Check over gRPC with @grpc/grpc-js, a
// production dependency, and exits 0 only for SERVING. Port from PORT (default 50051).
// TLS when ISOTOPE_TLS_CERT_FILE is set (the server's own certificate is not verified: this is a
// loopback probe of our own process); for mutual TLS, ISOTOPE_HEALTHCHECK_CERT_FILE and
// ISOTOPE_HEALTHCHECK_KEY_FILE name a client certificate; with auth.protect_health,
// ISOTOPE_HEALTHCHECK_TOKEN is sent as the bearer token. TLS set only in config.yaml is not seen.
import { readFileSync } from "node:fs";
import grpc from "@grpc/grpc-js";

const env = process.env;
const port = env.PORT || "50051";
const file = (path) => (path ? readFileSync(path) : null);
const credentials = env.ISOTOPE_TLS_CERT_FILE
  ? grpc.credentials.createSsl(null, file(env.ISOTOPE_HEALTHCHECK_KEY_FILE), file(env.ISOTOPE_HEALTHCHECK_CERT_FILE), {
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    })
  : grpc.credentials.createInsecure();
const metadata = new grpc.Metadata();
if (env.ISOTOPE_HEALTHCHECK_TOKEN) metadata.set("authorization", `Bearer ${env.ISOTOPE_HEALTHCHECK_TOKEN}`);
const client = new grpc.Client(`127.0.0.1:${port}`, credentials);
// The Check request is an empty message (service ""): zero bytes on the wire.
client.makeUnaryRequest(
  "/grpc.health.v1.Health/Check",
  () => Buffer.alloc(0),
  (bytes) => bytes,
  {},
  metadata,
  { deadline: Date.now() + 4000 },
  (error, response) => {
    // HealthCheckResponse: field 1 (status) varint; SERVING = 1 → bytes 08 01.
    const serving = !error && response && response.length === 2 && response[0] === 0x08 && response[1] === 0x01;
    if (!serving) console.error(error ? error.message : `not serving (${response?.toString("hex")})`);
    client.close();
    process.exit(serving ? 0 : 1);
  },
);
