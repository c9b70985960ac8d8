/**
 * What a per-user export (`export --user ID`, a GDPR-style data takeout) holds: the rows that are
 * this user's alone, each filter with `$1` the user's id. A row that names another user (a
 * collaborator's membership, their prompts in this user's project, this user's recordings in someone
 * else's project, a transfer to another person's email) is left out, so that a takeout never carries
 * another person's data; tables not listed here are left out entirely (sessions and verification
 * tokens are credentials, rate limits and the deletion queue are bookkeeping, buckets are
 * configuration). Columns listed in `omit` are left out of the file (the OAuth tokens of linked
 * accounts: credentials, and encrypted with the server's keys anyway).
 */
export interface UserScope {
  where: string;
  omit?: string[];
}

export const USER_SCOPE: Readonly<Record<string, UserScope>> = {
  "public.users": { where: "id = $1" },
  "public.accounts": {
    where: "user_id = $1",
    omit: ["refresh_token", "access_token", "id_token", "session_state"],
  },
  "public.projects": { where: "owner_id = $1" },
  "public.project_components": { where: "owner_id = $1" },
  "public.audio_recordings": { where: "owner_id = $1 and user_id = $1" },
  "public.prompt_generations": { where: "owner_id = $1 and user_id = $1" },
  "public.user_activity": { where: "user_id = $1" },
  "public.api_usage": { where: "user_id = $1" },
  "public.error_logs": { where: "user_id = $1" },
  "public.performance_metrics": { where: "user_id = $1" },
  // The files this user uploaded (the owner is pinned to the uploader).
  "storage.objects": { where: "owner = $1" },
};
