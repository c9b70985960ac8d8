import { loadModule, normalize } from "libpg-query";

/**
 * pg_stat_activity holds statements as sent, constants included (a user's data, a password), and so
 * does pg_stat_statements for a statement that switched the role: only their normalized form ($n for
 * every constant) is shown, cut to 300 characters, and nothing when it does not parse (a text cut at
 * track_activity_query_size, say).
 */
export async function safeQueryText(text: string | null): Promise<string> {
  if (!text) return "";
  await loadModule();
  try {
    const normalized = await normalize(text);
    return normalized.length > 300 ? `${normalized.slice(0, 299)}…` : normalized;
  } catch {
    return "(not shown: the statement could not be normalized, so its values cannot be hidden)";
  }
}
