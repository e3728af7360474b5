/**
 * TLS from three file settings: a certificate and its key turn it on, together or not at all; a
 * client CA beside them makes it mutual. Whether the files hold what they should is checked when
 * they are read (src/transport/tls.ts).
 */
import { resolve } from "node:path";

/** PEM file paths, absolute. */
export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** Set = mutual TLS: clients need a certificate this CA signed. */
  clientCaFile: string | undefined;
}

/** The TLS configuration the three files make: undefined = cleartext. Pairing mistakes go to `problems`. */
export function tlsConfig(
  files: { certFile: string | undefined; keyFile: string | undefined; clientCaFile: string | undefined },
  problems: string[],
): TlsConfig | undefined {
  const { certFile, keyFile, clientCaFile } = files;
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) problems.push("tls.client_ca_file: needs tls.cert_file and tls.key_file");
    return undefined;
  }
  if (certFile === undefined) problems.push("tls.cert_file: needed with tls.key_file");
  if (keyFile === undefined) problems.push("tls.key_file: needed with tls.cert_file");
  if (certFile === undefined || keyFile === undefined) return undefined;
  return {
    certFile: resolve(certFile),
    keyFile: resolve(keyFile),
    clientCaFile: clientCaFile === undefined ? undefined : resolve(clientCaFile),
  };
}
