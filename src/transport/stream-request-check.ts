/**
 * Server-streaming calls with a protobuf body stay on connect-es, with their one request message
 * checked first. connect-es decodes that message inside the call and, for bytes protobuf cannot
 * decode, answers INTERNAL (hard-coded in its binary serialization). This reads the request body —
 * a single small message — and when it is not the request message answers INVALID_ARGUMENT in the
 * caller's protocol; any other body is handed to connect-es as received (see connect-adapter.ts),
 * to be decoded and served, or refused with connect-es's own answer (truncated, compressed, two
 * messages…).
 */
import type { BinaryReadOptions, DescMessage, JsonWriteOptions } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { BinaryCall } from "./binary-call.js";
import type { NodeRequest, NodeResponse } from "./node-handler.js";
import { writeStreamError } from "./protocol-answers.js";
import { readBody } from "./request-body.js";
import { bodyTooLarge, decodeRequest, envelopedBodyLimit, singleEnvelopedMessage } from "./request-message.js";

export interface StreamRequestCheckOptions {
  readMaxBytes: number;
  binaryOptions: Partial<BinaryReadOptions>;
  /** For Connect's end-stream error JSON. */
  jsonOptions: Partial<JsonWriteOptions>;
  /** Serves the call through connect-es from the body already read. */
  replay: (req: NodeRequest, res: NodeResponse, body: Uint8Array) => void;
  log: Logger;
}

export type StreamRequestCheck = (call: BinaryCall, req: NodeRequest, res: NodeResponse) => void;

export function createStreamRequestCheck(options: StreamRequestCheckOptions): StreamRequestCheck {
  const { readMaxBytes, binaryOptions, jsonOptions, log } = options;
  return (call, req, res) => {
    // A client that leaves before its body ends is never answered (readBody does not call back).
    const refuse = (error: ConnectError) => {
      try {
        writeStreamError(call.protocol, req, res, error, jsonOptions);
      } catch (reason) {
        log.debug(
          { procedure: `${call.spec.method.parent.typeName}/${call.spec.method.name}`, err: reason },
          "response not completed",
        );
      }
    };
    readBody(req, envelopedBodyLimit(readMaxBytes), (read) => {
      if (read.kind === "too large") {
        refuse(bodyTooLarge(readMaxBytes));
        return;
      }
      const error = undecodable(call.spec.method.input, read.body, readMaxBytes, binaryOptions);
      if (error === undefined) options.replay(req, res, read.body);
      else refuse(error);
    });
  };
}

/** The INVALID_ARGUMENT for a well-framed message that protobuf cannot decode, else undefined. */
function undecodable(
  schema: DescMessage,
  body: Buffer,
  readMaxBytes: number,
  binaryOptions: Partial<BinaryReadOptions>,
): ConnectError | undefined {
  let message: Uint8Array;
  try {
    message = singleEnvelopedMessage(body, readMaxBytes);
  } catch {
    // A framing fault (no message, two, truncated, compressed): connect-es answers it itself.
    return undefined;
  }
  try {
    decodeRequest(schema, message, binaryOptions);
    return undefined;
  } catch (error) {
    return error as ConnectError;
  }
}
