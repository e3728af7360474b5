// A TCP port free on 127.0.0.1 right now (bind port 0, read it, release it).
import net from "node:net";

export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Starts `server` on a free port, opens a connection that never sends a byte, and resolves with
 * how long the server let it live (ms); the server is closed again.
 */
export async function silentConnectionLifetime(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.on("close", () => resolve());
  });
  const lived = Date.now() - started;
  await new Promise((resolve) => server.close(resolve));
  return lived;
}
