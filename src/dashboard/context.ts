import type pg from "pg";

/** What every route of the dashboard shares. */
export interface DashboardContext {
  /** A small pool on the monitored database. */
  pool: pg.Pool;
  /** The project's JWT secret: the service key is checked against it. */
  jwtSecret: string;
  /** How often the page reloads its data. */
  refreshMs: number;
}
