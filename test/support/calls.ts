// Calls through a SessionService client, shaped as tests write them.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, ConnectError } from "@connectrpc/connect";
import { type SaveRequest, SaveRequestSchema, type SessionService } from "../../gen/isotope/session/v1/session_pb.js";

type SaveInit = MessageInitShape<typeof SaveRequestSchema>;

/** `save(id, data, extra)` through `client`: a SaveRequest with the rest of its fields as given. */
export const saveThrough =
  (client: () => Client<typeof SessionService>) =>
  (sessionId: string, data: SaveRequest["data"], extra: Omit<SaveInit, "sessionId" | "data"> = {}) =>
    client().save(create(SaveRequestSchema, { ...extra, sessionId, data } as SaveInit));

/** The ConnectError a call ends with; throws when it succeeds. */
export async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}
