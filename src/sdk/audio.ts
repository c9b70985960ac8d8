import type { Tables } from "../../database/types/database.types.ts";
import { decodeCursor, keysetArgs, type Page, page } from "./cursor.ts";
import { type Actor, inTransaction, type Runner, requireUser } from "./db.ts";
import { AUDIO_PAGE, AUDIO_COLUMNS as COLUMNS } from "./queries.ts";
import * as v from "./validate.ts";

export type AudioRecording = Tables<"audio_recordings">;

export interface NewRecording {
  projectId: string;
  /** `{user_id}/{project_id}/{timestamp}_{filename}` in the audio-recordings bucket. */
  storagePath: string;
  mimeType: string;
  sizeBytes: number;
  durationMs?: number;
  sampleRateHz?: number;
  componentId?: string;
}

export function audio(runner: Runner, actor: Actor) {
  return {
    /** Records the metadata of an uploaded file; the database checks path, type and size. */
    async register(input: NewRecording): Promise<AudioRecording> {
      const op = "audio.register";
      const user = requireUser(actor, op);
      v.uuid(op, "projectId", input.projectId);
      v.text(op, "storagePath", input.storagePath, 300);
      // Browsers send "audio/webm;codecs=opus": the parameters are not part of the type.
      const mime = v.text(op, "mimeType", input.mimeType, 100).split(";")[0]?.trim().toLowerCase();
      v.int(op, "sizeBytes", input.sizeBytes, 1, 52_428_800);
      if (input.durationMs !== undefined) v.int(op, "durationMs", input.durationMs, 0, 14_400_000);
      if (input.componentId !== undefined) v.uuid(op, "componentId", input.componentId);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<AudioRecording>(
          `insert into public.audio_recordings (project_id, user_id, storage_path, mime_type, size_bytes, duration_ms, sample_rate_hz, component_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${COLUMNS}`,
          [
            input.projectId,
            user,
            input.storagePath,
            mime,
            input.sizeBytes,
            input.durationMs ?? null,
            input.sampleRateHz ?? null,
            input.componentId ?? null,
          ],
        );
        return rows[0] as AudioRecording;
      });
    },

    /** A project's recordings, newest first (keyset cursor). */
    async list(
      projectId: string,
      options: { limit?: number; cursor?: string } = {},
    ): Promise<Page<AudioRecording>> {
      const op = "audio.list";
      v.uuid(op, "projectId", projectId);
      const limit = v.limit(op, options.limit);
      const after = decodeCursor(op, options.cursor);
      return inTransaction(runner, actor, op, async (tx) => {
        const { rows } = await tx.query<AudioRecording & { cursor_at: string }>(
          ...keysetArgs(AUDIO_PAGE, projectId, after, limit),
        );
        return page(rows, limit);
      });
    },
  };
}
