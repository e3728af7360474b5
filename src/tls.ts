/**
 * TLS on the one port: HTTP/2 and HTTP/1.1 chosen by ALPN (so gRPC, gRPC-Web and Connect all work
 * as over cleartext), and mutual TLS when a client CA is configured — a client without a
 * certificate signed by it is refused during the handshake, before any RPC runs.
 */
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { ConfigError, type TlsConfig } from "./config.js";
import type { Handler, Listener } from "./listener.js";

/** PEM contents of the files TlsConfig names. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** CA that signs client certificates: present = mutual TLS. */
  clientCa?: Buffer;
}

/** Reads the files; a missing or unreadable one is a ConfigError naming its setting. */
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
  if (problems.length > 0) throw new ConfigError(problems);
  return material;
}

/** The TLS counterpart of createDualListener: one secure server for both HTTP versions. */
export function createTlsListener(handler: Handler, material: TlsMaterial): Listener {
  const server = http2.createSecureServer(
    {
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      cert: material.cert,
      key: material.key,
      ...(material.clientCa === undefined
        ? {}
        : { ca: material.clientCa, requestCert: true, rejectUnauthorized: true }),
    },
    handler,
  );
  return { net: server, http2: server };
}
