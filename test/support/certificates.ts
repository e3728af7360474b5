// Certificates for TLS tests, made with the openssl command line in a temporary directory: a CA,
// a server certificate for 127.0.0.1 / localhost and a client certificate signed by it, and a
// client certificate signed by a CA the server does not know.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Certificates {
  dir: string;
  /** PEM contents. */
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** Signed by another CA: a server with a client CA must refuse it. */
  strangerCert: Buffer;
  strangerKey: Buffer;
  /** Paths of the same files, for configuration that names files. */
  paths: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  remove(): void;
}

export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "isotope-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string) =>
    openssl(
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    );
  const signed = (name: string, by: string, extensions: string) => {
    writeFileSync(at(`${name}.ext`), extensions);
    openssl("req", ...ecKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${by}.pem`,
      "-CAkey",
      `${by}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  };
  ca("isotope-test-ca");
  ca("stranger-ca");
  signed("server", "isotope-test-ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  signed("client", "isotope-test-ca", "extendedKeyUsage=clientAuth\n");
  signed("stranger", "stranger-ca", "extendedKeyUsage=clientAuth\n");
  const read = (name: string) => readFileSync(at(name));
  return {
    dir,
    ca: read("isotope-test-ca.pem"),
    serverCert: read("server.pem"),
    serverKey: read("server.key"),
    clientCert: read("client.pem"),
    clientKey: read("client.key"),
    strangerCert: read("stranger.pem"),
    strangerKey: read("stranger.key"),
    paths: {
      ca: at("isotope-test-ca.pem"),
      serverCert: at("server.pem"),
      serverKey: at("server.key"),
      clientCert: at("client.pem"),
      clientKey: at("client.key"),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
