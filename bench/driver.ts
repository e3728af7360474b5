/**
 * One bench run of a Node path in its own process: opens the path (paths.ts), drives it in a
 * closed loop (workload.ts) and prints, on stdout, `window-open` and `window-closed` as the measured
 * window opens and closes (run.ts reads the other processes' CPU then), and last its figures as
 * one JSON line. driver.py is the same for the Python path.
 * Usage (run.ts compiles it first, tsconfig.bench.json): node .bench-build/bench/driver.js '<json DriverArgs>'
 */
import type { DriverArgs, OpenPath, PathName } from "./paths.js";
import { openConnectHttp1Lean, openConnectNode, openGrpcJs, openLean, openProductClient } from "./rpc-paths.js";
import { openLimit, openPeer, openProductSql } from "./sql-paths.js";
import { closedLoop } from "./workload.js";

const openers: Record<Exclude<PathName, "python">, (args: DriverArgs) => Promise<OpenPath>> = {
  limit: openLimit,
  "product-sql": openProductSql,
  peer: openPeer,
  client: openProductClient,
  "connect-node": openConnectNode,
  "grpc-js": openGrpcJs,
  "product-lean": openLean,
  "connect-h1-lean": openConnectHttp1Lean,
  "product-nocache": openConnectNode,
};

const args = JSON.parse(process.argv[2] as string) as DriverArgs;
const opener = args.path === "python" ? undefined : openers[args.path];
if (!opener) throw new Error(`driver.ts has no path ${args.path}`);
const path = await opener(args);
const figures = await closedLoop(path.call, args, {
  opened: () => process.stdout.write("window-open\n"),
  closed: () => process.stdout.write("window-closed\n"),
});
await path.close();
process.stdout.write(`${JSON.stringify(figures)}\n`);
// A client may keep its connection open; the run is over.
process.exit(0);
