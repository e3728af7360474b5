/**
 * grpc.health.v1.Health on Connect: Check, List and Watch over a status table the server keeps
 * up to date ("" is the whole server). Watch sends the current status at once and then every
 * change; shutdown() marks everything NOT_SERVING and ends every Watch so the server can close.
 */
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/health/v1/health_pb.js";

export interface HealthService {
  registerOn(router: ConnectRouter): void;
  set(service: string, status: Status): void;
  /** The status last set for `service` ("" = the whole server); undefined before any. */
  status(service: string): Status | undefined;
  shutdown(): void;
}

type Watcher = (status: Status | "end") => void;

export function createHealth(): HealthService {
  const statuses = new Map<string, Status>();
  const watchers = new Map<string, Set<Watcher>>();
  let ended = false;

  const notify = (service: string, status: Status | "end") => {
    for (const watcher of watchers.get(service) ?? []) watcher(status);
  };

  return {
    set(service, status) {
      if (ended || statuses.get(service) === status) return;
      statuses.set(service, status);
      notify(service, status);
    },

    status: (service) => statuses.get(service),

    shutdown() {
      for (const service of statuses.keys()) {
        statuses.set(service, Status.NOT_SERVING);
        notify(service, Status.NOT_SERVING);
      }
      ended = true;
      for (const service of watchers.keys()) notify(service, "end");
    },

    registerOn(router) {
      router.service(Health, {
        check(req) {
          const status = statuses.get(req.service);
          if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
          return { status };
        },
        list() {
          return { statuses: Object.fromEntries([...statuses].map(([service, status]) => [service, { status }])) };
        },
        async *watch(req, ctx) {
          // Changes queue between reads, so a slow reader still sees the latest status.
          const pending: Array<Status | "end"> = [statuses.get(req.service) ?? Status.SERVICE_UNKNOWN];
          let wake: (() => void) | undefined;
          const watcher: Watcher = (status) => {
            pending.push(status);
            wake?.();
          };
          const onAbort = () => wake?.();
          const set = watchers.get(req.service) ?? new Set<Watcher>();
          watchers.set(req.service, set);
          set.add(watcher);
          ctx.signal.addEventListener("abort", onAbort);
          try {
            if (ended) pending.push("end");
            for (;;) {
              while (pending.length > 0) {
                const status = pending.shift() as Status | "end";
                if (status === "end") return;
                yield { status };
              }
              if (ctx.signal.aborted) return;
              await new Promise<void>((resolve) => {
                wake = resolve;
              });
              wake = undefined;
            }
          } finally {
            set.delete(watcher);
            ctx.signal.removeEventListener("abort", onAbort);
          }
        },
      });
    },
  };
}
