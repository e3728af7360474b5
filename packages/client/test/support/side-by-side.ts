// What the lean transports' tests compare with connect-node's: the parts of an error a caller
// reads, and the error a Load through a given client configuration ends with.

import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { createSessionClient, type SessionClientOptions } from "../../src/index.js";

/** Code, message, details and metadata — without the headers that tick or count (`ignored`). */
export function seen(error: unknown, ignored: readonly string[] = ["date"]) {
  const e = ConnectError.from(error);
  const metadata = [...e.metadata.entries()].filter(([key]) => !ignored.includes(key));
  return { code: e.code, message: e.rawMessage, details: e.findDetails(DurationSchema), metadata };
}

/** The error a Load ends with (undefined if it succeeds), retries off. */
export function failureOf(options: SessionClientOptions): Promise<unknown> {
  const client = createSessionClient({ retry: false, ...options });
  return client.load({ sessionId: "s1" }).then(
    () => undefined,
    (error: unknown) => error,
  );
}
