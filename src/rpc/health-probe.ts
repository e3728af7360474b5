/**
 * Health follows the database: a probe asks the repository stack for a round trip every
 * `intervalMs` and sets SERVING while it answers, NOT_SERVING from the first failure — logged once
 * per change. (The round trip goes through every layer: the spool learns the database's clock
 * from it and replays what is pending.)
 */
import type { Logger } from "pino";
import { HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { SessionRepository } from "../sessions/repository/contract.js";
import type { HealthService } from "./health.js";

export interface HealthProbe {
  /** One probe now; resolves when health reflects it. */
  check(): Promise<void>;
  /** Probes every interval from now on. */
  start(): void;
  stop(): void;
}

export function createHealthProbe(options: {
  repository: SessionRepository;
  health: HealthService;
  intervalMs: number;
  log: Logger;
}): HealthProbe {
  const { repository, health, intervalMs, log } = options;
  let stopped = false;
  let lastServing: boolean | undefined;
  let timer: NodeJS.Timeout | undefined;

  const setStatus = (serving: boolean) => {
    const status = serving ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;
    health.set("", status);
    health.set(SessionService.typeName, status);
  };
  const check = async () => {
    let serving = false;
    try {
      await repository.ping(AbortSignal.timeout(Math.max(500, intervalMs)));
      serving = true;
    } catch {
      serving = false;
    }
    if (stopped) return;
    if (serving !== lastServing) {
      if (lastServing !== undefined)
        log.warn({ serving }, serving ? "database answers again" : "database does not answer");
      lastServing = serving;
      setStatus(serving);
    }
  };
  const loop = async () => {
    await check();
    if (!stopped) timer = setTimeout(loop, intervalMs);
  };
  return {
    check,
    start() {
      timer = setTimeout(loop, intervalMs);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
