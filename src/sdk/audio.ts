import { Readable } from "node:stream";
import type { Tables } from "../../database/types/database.types.ts";
import { dataError, VpbError } from "../errors.ts";
import { signUrlToken } from "../storage/auth.ts";
import { storageToDataError } from "../storage/errors.ts";
import * as objects from "../storage/objects.ts";
import { decodeCursor, keysetArgs, type Page, page } from "./cursor.ts";
import { type Actor, inTransaction, type Runner, requireUser, type Tx } from "./db.ts";
import { AUDIO_FILE, AUDIO_PAGE, AUDIO_COLUMNS as COLUMNS } from "./queries.ts";
import type { SdkStorage } from "./storage-config.ts";
import * as v from "./validate.ts";

export type AudioRecording = Tables<"audio_recordings">;

/** The bucket of every recording (005): private, 50 MB, audio types. */
export const AUDIO_BUCKET = "audio-recordings";

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

export interface AudioUploadOptions {
  /** The file's name, kept after `{timestamp}_` in its path: 1 to 200 characters, no `/`. */
  filename: string;
  /** Its type as the browser gives it (`audio/webm;codecs=opus`): the bucket must take it and the bytes must be of it. */
  mimeType: string;
  /** The component the recording belongs to (of the same project). */
  componentId?: string;
  durationSeconds?: number;
}

/** A file's bytes: whole (its size is then known before a byte is stored) or streamed. */
export type AudioFile = Uint8Array | Blob | Readable;

/** Inserts the recording's row (the database checks path, type and size); `mime` without parameters. */
async function insertRecording(tx: Tx, user: string, input: NewRecording, mime: string) {
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
}

/** The storage service's checks and driver, as createDb's `storage` option set them up. */
function requireStorage(storage: SdkStorage | undefined, operation: string): SdkStorage {
  if (!storage) {
    throw new VpbError(
      "CONFIG_INVALID",
      `${operation}: createDb was given no storage option`,
      "Pass createDb({ storage: { driver, jwtSecret, url } }): the storage service's driver, JWT secret and URL.",
    );
  }
  return storage;
}

function readable(file: AudioFile): { body: Readable; length: number | undefined } {
  if (file instanceof Readable) return { body: file, length: undefined };
  if (file instanceof Uint8Array)
    return { body: Readable.from([Buffer.from(file)]), length: file.byteLength };
  if (typeof Blob !== "undefined" && file instanceof Blob) {
    return { body: Readable.fromWeb(file.stream() as never), length: file.size };
  }
  throw new TypeError("audio.upload: file must be a Uint8Array, a Blob or a Readable");
}

export function audio(runner: Runner, actor: Actor, storage?: SdkStorage) {
  return {
    /** Records the metadata of an uploaded file; the database checks path, type and size. */
    async register(input: NewRecording): Promise<AudioRecording> {
      const op = "audio.register";
      const user = requireUser(actor, op);
      v.uuid(op, "projectId", input.projectId);
      v.text(op, "storagePath", input.storagePath, 300);
      // Browsers send "audio/webm;codecs=opus": the parameters are not part of the type.
      const mime = v.text(op, "mimeType", input.mimeType, 100).split(";")[0]?.trim().toLowerCase() ?? "";
      v.int(op, "sizeBytes", input.sizeBytes, 1, 52_428_800);
      if (input.durationMs !== undefined) v.int(op, "durationMs", input.durationMs, 0, 14_400_000);
      if (input.componentId !== undefined) v.uuid(op, "componentId", input.componentId);
      return inTransaction(runner, actor, op, (tx) => insertRecording(tx, user, input, mime));
    },

    /**
     * Stores a recording: the file through the storage driver under
     * `{user_id}/{project_id}/{timestamp}_{filename}`, then its storage.objects row and its
     * audio_recordings row in one transaction. Both rows or neither: if the rows fail (policies,
     * quota, a component of another project) the stored bytes are removed. Size and type are judged
     * as the storage service judges them (the bucket's limits, the bytes sniffed).
     */
    async upload(projectId: string, file: AudioFile, options: AudioUploadOptions): Promise<AudioRecording> {
      const op = "audio.upload";
      const user = requireUser(actor, op);
      const svc = requireStorage(storage, op).service;
      v.uuid(op, "projectId", projectId);
      const filename = v.text(op, "filename", options.filename, 200);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
      if (/[/\\\u0000-\u001f\u007f]/.test(filename) || filename === "." || filename === "..") {
        throw dataError("INVALID_INPUT", `${op}: filename must not contain '/', '\\' or control characters`);
      }
      const mimeType = v.text(op, "mimeType", options.mimeType, 100);
      if (options.componentId !== undefined) v.uuid(op, "componentId", options.componentId);
      let durationMs: number | undefined;
      if (options.durationSeconds !== undefined) {
        const seconds = v.finite(op, "durationSeconds", options.durationSeconds);
        durationMs = v.int(op, "durationSeconds (in ms)", Math.round(seconds * 1000), 0, 14_400_000);
      }
      const { body, length } = readable(file);
      const name = `${user}/${projectId}/${Date.now()}_${filename}`;
      try {
        const { alongside } = await svc.upload(
          actor,
          {
            bucket: AUDIO_BUCKET,
            name,
            body,
            contentType: mimeType,
            contentLength: length,
            cacheControl: undefined,
            userMetadata: null,
            mode: "insert",
          },
          (tx, stored) =>
            insertRecording(
              tx,
              user,
              {
                projectId,
                storagePath: stored.name,
                mimeType: stored.mimeType,
                sizeBytes: stored.size,
                ...(durationMs === undefined ? {} : { durationMs }),
                ...(options.componentId === undefined ? {} : { componentId: options.componentId }),
              },
              stored.mimeType,
            ),
        );
        return alongside as AudioRecording;
      } catch (e) {
        throw storageToDataError(op, e);
      }
    },

    /**
     * A URL that reads the recording's file (with Range, as an `<audio>` element needs) for
     * `expiresIn` seconds, signed as the storage service signs createSignedUrl's: only a user who
     * may read the file gets one.
     */
    async signedUrl(id: string, options: { expiresIn: number }): Promise<string> {
      const op = "audio.signedUrl";
      const { service: svc, url: base } = requireStorage(storage, op);
      v.uuid(op, "id", id);
      const seconds = v.int(op, "expiresIn", options?.expiresIn, 1, svc.signedUrlMaxExpiresIn);
      const url = await inTransaction(runner, actor, op, async (tx) => {
        const file = await recordingFile(tx, op, id);
        if (!(await objects.findObject(tx, file.bucket_id, file.storage_path))) {
          throw dataError("NOT_FOUND", `${op}: the recording's file is missing or this user cannot read it`);
        }
        return `${file.bucket_id}/${file.storage_path}`;
      });
      const token = signUrlToken({ url, scope: "download" }, svc.key, seconds);
      const path = url.split("/").map(encodeURIComponent).join("/");
      return `${base}/object/sign/${path}?token=${token}`;
    },

    /**
     * Removes a recording: its row and its file's storage.objects row in one transaction (both or
     * neither: a user who may delete the row but not the file gets FORBIDDEN), then the file's bytes
     * (if that fails, the storage sweep removes them).
     */
    async remove(id: string): Promise<void> {
      const op = "audio.remove";
      const svc = requireStorage(storage, op).service;
      v.uuid(op, "id", id);
      const removed = await inTransaction(runner, actor, op, async (tx) => {
        const file = await recordingFile(tx, op, id);
        const deleted = await tx.query("delete from public.audio_recordings where id = $1", [id]);
        if (deleted.rowCount !== 1)
          throw dataError("FORBIDDEN", `${op}: the policies refuse deleting this recording`);
        const rows = await objects.deleteObjects(tx, file.bucket_id, [file.storage_path]);
        if (rows.length === 0 && (await objects.findObject(tx, file.bucket_id, file.storage_path))) {
          throw dataError("FORBIDDEN", `${op}: the storage policies refuse deleting this recording's file`);
        }
        return rows;
      });
      const keys = removed.filter((r) => r.version).map((r) => `${r.bucket_id}/${r.version}`);
      await svc.driver.delete(keys).catch(() => {});
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

async function recordingFile(tx: Tx, op: string, id: string) {
  const { rows } = await tx.query<{ bucket_id: string; storage_path: string }>(AUDIO_FILE, [id]);
  const file = rows[0];
  if (!file) throw dataError("NOT_FOUND", `${op}: the recording does not exist or this user cannot see it`);
  return file;
}
