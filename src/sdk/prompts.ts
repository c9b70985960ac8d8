import type { Tables } from "../../database/types/database.types.ts";
import { dataError } from "../errors.ts";
import { decodeCursor, keysetArgs, type Page, page } from "./cursor.ts";
import { type Actor, inTransaction, type Runner, requireUser } from "./db.ts";
import { PROMPT_COLUMNS as COLUMNS, PROMPT_HISTORY_PAGE } from "./queries.ts";
import * as v from "./validate.ts";

export type PromptGeneration = Tables<"prompt_generations">;

export interface NewGeneration {
  projectId: string;
  inputSnapshot: Record<string, unknown>;
  model: string;
  provider: string;
  status: "completed" | "failed" | "cancelled" | "pending";
  output?: string;
  errorMessage?: string;
  inputTokens?: number;
  outputTokens?: number;
  /** Decimal string or number of US dollars, up to 6 decimals. */
  costUsd?: string | number;
  latencyMs?: number;
}

export function prompts(runner: Runner, actor: Actor) {
  return {
    /** Records a generation and its API usage (tokens, cost) atomically: both rows or neither. */
    async record(input: NewGeneration): Promise<PromptGeneration> {
      const op = "prompts.record";
      const user = requireUser(actor, op);
      v.uuid(op, "projectId", input.projectId);
      v.object(op, "inputSnapshot", input.inputSnapshot);
      v.text(op, "model", input.model, 100);
      v.text(op, "provider", input.provider, 50);
      v.oneOf(op, "status", input.status, ["completed", "failed", "cancelled", "pending"] as const);
      const inTokens =
        input.inputTokens === undefined ? 0 : v.int(op, "inputTokens", input.inputTokens, 0, 2_147_483_647);
      const outTokens =
        input.outputTokens === undefined
          ? 0
          : v.int(op, "outputTokens", input.outputTokens, 0, 2_147_483_647);
      const cost = String(input.costUsd ?? 0);
      if (!/^\d{1,6}(\.\d{1,6})?$/.test(cost))
        throw dataError("INVALID_INPUT", `${op}: costUsd must be a decimal of at most 6 places`);
      const output = v.optionalText(op, "output", input.output, 200_000);
      const errorMessage = v.optionalText(op, "errorMessage", input.errorMessage, 2000);
      const latency =
        input.latencyMs === undefined ? null : v.int(op, "latencyMs", input.latencyMs, 0, 2_147_483_647);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<PromptGeneration>(
          `insert into public.prompt_generations
             (project_id, user_id, input_snapshot, output, model, status, input_tokens, output_tokens, cost_usd, latency_ms, error_message, completed_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, case when $6 in ('completed', 'failed', 'cancelled') then now() end)
           returning ${COLUMNS}`,
          [
            input.projectId,
            user,
            input.inputSnapshot,
            output,
            input.model,
            input.status,
            inTokens,
            outTokens,
            cost,
            latency,
            errorMessage,
          ],
        );
        // A statement of its own: api_usage's policy must see the generation it names, and a
        // sibling statement of one WITH shares its snapshot, taken before the generation existed.
        await tx.query(
          `insert into public.api_usage (user_id, project_id, generation_id, provider, model, endpoint, input_tokens, output_tokens, cost_usd, latency_ms)
           select g.user_id, g.project_id, g.id, $2, g.model, 'prompt.generate', g.input_tokens, g.output_tokens, g.cost_usd, g.latency_ms
             from public.prompt_generations g where g.id = $1`,
          [(rows[0] as PromptGeneration).id, input.provider],
        );
        return rows[0] as PromptGeneration;
      });
    },

    /** A project's generations, newest first (keyset cursor). */
    async history(
      projectId: string,
      options: { limit?: number; cursor?: string } = {},
    ): Promise<Page<PromptGeneration>> {
      const op = "prompts.history";
      v.uuid(op, "projectId", projectId);
      const limit = v.limit(op, options.limit);
      const after = decodeCursor(op, options.cursor);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<PromptGeneration & { cursor_at: string }>(
          ...keysetArgs(PROMPT_HISTORY_PAGE, projectId, after, limit),
        );
        return page(rows, limit);
      });
    },
  };
}
