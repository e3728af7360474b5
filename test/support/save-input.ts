// A repository SaveInput with the defaults most tests want: blind, never expiring, metadata kept.
import type { SaveInput } from "../../src/sessions/repository/contract.js";

export const saveInput = (sessionId: string, data: object, extra: Partial<SaveInput> = {}): SaveInput => ({
  sessionId,
  dataJson: JSON.stringify(data),
  metadataJson: undefined,
  expiry: { kind: "never" },
  expectedVersion: undefined,
  ...extra,
});
