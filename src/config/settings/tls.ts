/**
 * The `tls:` section: the certificate, key and client CA files (../tls-settings.ts pairs them).
 */
import type { Setting } from "./setting.js";

export const tlsSettings = {
  /** Undefined (with the key) = cleartext; tls-settings.ts pairs the three files. */
  tlsCertFile: {
    flag: "tls-cert-file",
    env: "ISOTOPE_TLS_CERT_FILE",
    file: ["tls", "cert_file"],
    kind: "string",
    default: undefined,
  },
  tlsKeyFile: {
    flag: "tls-key-file",
    env: "ISOTOPE_TLS_KEY_FILE",
    file: ["tls", "key_file"],
    kind: "string",
    default: undefined,
  },
  /** Set = mutual TLS. */
  tlsClientCaFile: {
    flag: "tls-client-ca-file",
    env: "ISOTOPE_TLS_CLIENT_CA_FILE",
    file: ["tls", "client_ca_file"],
    kind: "string",
    default: undefined,
  },
} satisfies Record<string, Setting>;
