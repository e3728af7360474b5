// Container health check: calls grpc.health.v1.Health/Check over gRPC (h2c) with @grpc/grpc-js,
// a production dependency, and exits 0 only for SERVING. Port from PORT (default 50051).
import grpc from "@grpc/grpc-js";

const port = process.env.PORT || "50051";
// The Check request is an empty message (service ""): zero bytes on the wire.
const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
client.makeUnaryRequest(
  "/grpc.health.v1.Health/Check",
  () => Buffer.alloc(0),
  (bytes) => bytes,
  {},
  { deadline: Date.now() + 4000 },
  (error, response) => {
    // HealthCheckResponse: field 1 (status) varint; SERVING = 1 → bytes 08 01.
    const serving = !error && response && response.length === 2 && response[0] === 0x08 && response[1] === 0x01;
    if (!serving) console.error(error ? error.message : `not serving (${response?.toString("hex")})`);
    client.close();
    process.exit(serving ? 0 : 1);
  },
);
