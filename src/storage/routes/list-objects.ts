import type { FastifyInstance } from "fastify";
import { storageErrors } from "../errors.ts";
import * as objects from "../objects.ts";
import { bucketId } from "../paths.ts";
import type { StorageService } from "../service.ts";
import { body, target } from "./params.ts";

const SORT_COLUMNS = new Set(["name", "updated_at", "created_at", "last_accessed_at"]);

/** POST /object/list/:bucket {prefix, limit, offset, sortBy, search} — one folder level (storage-js `list`). */
export default function listObjects(app: FastifyInstance, svc: StorageService) {
  app.post("/object/list/:bucket", async (request) => {
    const actor = await svc.caller(request);
    const bucket = bucketId(target(request).bucket);
    const b = body(request);
    const int = (v: unknown, fallback: number, max: number, what: string) => {
      if (v === undefined || v === null) return fallback;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
        throw storageErrors.invalidRequest(`${what} must be a whole number from 0 to ${max}`);
      }
      return v;
    };
    const str = (v: unknown, what: string) => {
      if (v === undefined || v === null) return "";
      if (typeof v !== "string" || v.length > 1024)
        throw storageErrors.invalidRequest(`${what} must be a string`);
      return v;
    };
    const sortBy = (b.sortBy ?? {}) as { column?: unknown; order?: unknown };
    const column = sortBy.column ?? "name";
    const order = typeof sortBy.order === "string" ? sortBy.order.toLowerCase() : "asc";
    if (typeof column !== "string" || !SORT_COLUMNS.has(column) || (order !== "asc" && order !== "desc")) {
      throw storageErrors.invalidRequest(
        "sortBy must name a column (name, updated_at, created_at, last_accessed_at) and an order (asc, desc)",
      );
    }
    const options: objects.ListOptions = {
      prefix: str(b.prefix, "prefix"),
      search: str(b.search, "search"),
      limit: int(b.limit, 100, 1000, "limit"),
      offset: int(b.offset, 0, 1_000_000, "offset"),
      sortColumn: column as objects.ListOptions["sortColumn"],
      sortOrder: order,
    };
    return svc.tx(actor, "storage list", (tx) => objects.listLevel(tx, bucket, options));
  });
}
