/** What every SessionService handler is given (built once by src/rpc/routes.ts). */
import type { Limits } from "../../config/load-config.js";
import type { Db } from "../../db/database.js";
import type { ChangeFeed } from "../../feed/contract.js";
import type { SessionRepository } from "../repository/contract.js";

export interface HandlerDeps {
  /** For CheckConnection's description of the database (backend, location, pool). */
  db: Pick<Db, "backend" | "location" | "poolStats">;
  /** The whole stack: every layer's duties happen behind it. */
  repository: SessionRepository;
  limits: Limits;
  /** The change feed Watch streams from. */
  feed: ChangeFeed;
}
