/**
 * TLS on the one port: HTTP/2 and HTTP/1.1 chosen by ALPN (so gRPC, gRPC-Web and Connect all work
 * as over cleartext), and mutual TLS when a client CA is configured — a client without a
 * certificate signed by it is refused during the handshake, before any RPC runs.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { ConfigError, type TlsConfig } from "../config/load-config.js";
import { installLane } from "./grpc-lane.js";
import { defaultSniffTimeoutMs, type Listener } from "./listener.js";
import type { NodeHandler } from "./node-handler.js";

/** PEM contents of the files TlsConfig names. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** CA that signs client certificates: present = mutual TLS. */
  clientCa?: Buffer;
}

/**
 * Reads the files and checks they are what their settings say — a certificate, its private key, a
 * CA certificate — so a wrong file stops the service at start as a ConfigError naming the setting,
 * rather than as an OpenSSL error once the database is already open (or, for a key posing as the
 * client CA, not at all: node:tls ignores it and refuses every client).
 */
export function readTlsMaterial(config: TlsConfig): TlsMaterial {
  const problems: string[] = [];
  const read = (setting: string, path: string): Buffer => {
    try {
      const pem = readFileSync(path);
      if (!pem.includes("-----BEGIN ")) problems.push(`${setting}: ${path} is not a PEM file`);
      return pem;
    } catch (error) {
      problems.push(`${setting}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      return Buffer.alloc(0);
    }
  };
  const material: TlsMaterial = {
    cert: read("tls.cert_file", config.certFile),
    key: read("tls.key_file", config.keyFile),
    ...(config.clientCaFile === undefined ? {} : { clientCa: read("tls.client_ca_file", config.clientCaFile) }),
  };
  if (problems.length === 0) problems.push(...mismatches(material));
  if (problems.length > 0) throw new ConfigError(problems);
  return material;
}

/** What is wrong with PEM material that did read: each problem names its setting. */
function mismatches(material: TlsMaterial): string[] {
  const problems: string[] = [];
  const certificate = (setting: string, pem: Buffer): X509Certificate | undefined => {
    try {
      return new X509Certificate(pem);
    } catch {
      problems.push(`${setting}: not a PEM certificate`);
      return undefined;
    }
  };
  const cert = certificate("tls.cert_file", material.cert);
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(material.key);
  } catch {
    problems.push("tls.key_file: not a PEM private key");
  }
  if (cert !== undefined && key !== undefined && !cert.checkPrivateKey(key)) {
    problems.push("tls.key_file: not the private key of the certificate in tls.cert_file");
  }
  if (material.clientCa !== undefined) certificate("tls.client_ca_file", material.clientCa);
  return problems;
}

/**
 * The TLS counterpart of createDualListener: one secure server for both HTTP versions. A peer that
 * has not finished its handshake within `handshakeTimeoutMs` is dropped, as cleartext drops one
 * that has not spoken (node's own default would let it hold a descriptor for two minutes).
 */
export function createTlsListener(
  handler: NodeHandler,
  material: TlsMaterial,
  options: { handshakeTimeoutMs?: number } = {},
): Listener {
  const server = http2.createSecureServer(
    {
      allowHTTP1: true,
      handshakeTimeout: options.handshakeTimeoutMs ?? defaultSniffTimeoutMs,
      ALPNProtocols: ["h2", "http/1.1"],
      cert: material.cert,
      key: material.key,
      ...(material.clientCa === undefined
        ? {}
        : { ca: material.clientCa, requestCert: true, rejectUnauthorized: true }),
    },
    handler,
  );
  if (handler.lane) installLane(server, handler.lane);
  return { net: server, http2: server };
}
