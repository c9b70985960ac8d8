/**
 * Compiled, never run (test/types.test.ts runs tsc on it): the generated Database type used the way
 * an app uses it with supabase-js. Every table is selected, inserted and updated, every function the
 * app may call is called, and each `@ts-expect-error` line is a misuse the compiler must reject.
 */
import { createClient } from "@supabase/supabase-js";
import type { Database, Tables, TablesInsert, TablesUpdate } from "../../database/types/database.types.ts";

const supabase = createClient<Database>("http://127.0.0.1:54321", "anon-key");
const id = "00000000-0000-0000-0000-000000000000";

export async function everyTable(): Promise<void> {
  const user: Tables<"users"> | undefined =
    (await supabase.from("users").select("*").eq("id", id).single()).data ?? undefined;
  const plan: string | undefined = user?.plan;
  await supabase.from("users").insert({ email: "a@example.com" });
  await supabase
    .from("users")
    .update({ display_name: "Ada", settings: { theme: "dark" } })
    .eq("id", id);

  await supabase.from("accounts").select("id, provider, provider_account_id");
  await supabase
    .from("accounts")
    .insert({ user_id: id, type: "oauth", provider: "github", provider_account_id: "1" });
  await supabase.from("accounts").update({ scope: "email" }).eq("id", id);
  await supabase.from("sessions").select("expires");
  await supabase
    .from("sessions")
    .insert({ user_id: id, session_token_hash: "\\x00", expires: new Date().toISOString() });
  await supabase.from("sessions").update({ expires: new Date().toISOString() }).eq("id", id);
  await supabase.from("verification_tokens").select("identifier");
  await supabase
    .from("verification_tokens")
    .insert({ identifier: "a@example.com", token_hash: "\\x00", expires: "2030-01-01" });
  await supabase.from("verification_tokens").update({ expires: "2031-01-01" }).eq("id", id);

  const page = await supabase
    .from("projects")
    .select("id, name, updated_at, project_components(id, type, parent_id)")
    .eq("owner_id", id)
    .is("deleted_at", null)
    .order("updated_at", { ascending: false })
    .limit(20);
  const firstName: string | undefined = page.data?.[0]?.name;
  const newProject: TablesInsert<"projects"> = { owner_id: id, name: "Canvas", layout: { zoom: 1 } };
  await supabase.from("projects").insert(newProject);
  const change: TablesUpdate<"projects"> = { name: "Renamed" };
  await supabase.from("projects").update(change).eq("id", id).eq("version", 3);

  await supabase.from("project_components").select("*");
  await supabase
    .from("project_components")
    .insert({ project_id: id, type: "text", position_x: 10, content: { text: "hi" } });
  await supabase.from("project_components").update({ z_index: 2 }).eq("id", id);
  await supabase.from("audio_recordings").select("storage_path, duration_ms");
  await supabase.from("audio_recordings").insert({
    project_id: id,
    user_id: id,
    storage_path: "a/b/1_c.webm",
    mime_type: "audio/webm",
    size_bytes: 1,
  });
  await supabase.from("audio_recordings").update({ transcript: "hello" }).eq("id", id);
  await supabase.from("prompt_generations").select("output, cost_usd");
  await supabase
    .from("prompt_generations")
    .insert({ project_id: id, user_id: id, input_snapshot: {}, model: "m" });
  await supabase.from("prompt_generations").update({ status: "completed", output: "p" }).eq("id", id);
  await supabase.from("collaborators").select("role, accepted_at");
  await supabase
    .from("collaborators")
    .insert({ project_id: id, invited_email: "b@example.com", role: "editor" });
  await supabase.from("collaborators").update({ role: "viewer" }).eq("id", id);

  await supabase.from("user_activity").select("action, occurred_at");
  await supabase.from("user_activity").insert({ user_id: id, action: "project.open" });
  await supabase.from("user_activity").update({ metadata: {} }).eq("id", id);
  await supabase.from("api_usage").select("cost_usd");
  await supabase.from("api_usage").insert({ user_id: id, provider: "openai", model: "gpt" });
  await supabase.from("api_usage").update({ latency_ms: 3 }).eq("id", id);
  await supabase.from("error_logs").select("message");
  await supabase.from("error_logs").insert({ severity: "error", source: "web", message: "boom" });
  await supabase.from("error_logs").update({ source: "api" }).eq("id", id);
  await supabase.from("performance_metrics").select("metric, value");
  await supabase.from("performance_metrics").insert({ metric: "page.load", value: 1, unit: "ms" });
  await supabase.from("performance_metrics").update({ value: 2 }).eq("id", id);
  void [plan, firstName];
}

export async function everyFunction(): Promise<void> {
  const stats = await supabase.rpc("get_user_project_stats", { p_user_id: id });
  const active: number | undefined = stats.data?.[0]?.active_projects;
  const costs = await supabase.rpc("get_monthly_api_costs", { p_user_id: id, p_month: "2026-11-01" });
  const cost: number | undefined = costs.data?.[0]?.cost_usd;
  const ok: boolean | null = (await supabase.rpc("check_project_quota", { p_user_id: id, p_max: 10 })).data;
  await supabase.rpc("soft_delete_project", { p_project_id: id, p_user_id: id });
  const copy: string | null = (
    await supabase.rpc("duplicate_project", { p_source_id: id, p_user_id: id, p_name: "Copy" })
  ).data;
  await supabase.rpc("accept_invitation", { p_project_id: id });
  await supabase.rpc("log_error", { p_severity: "error", p_source: "web", p_message: "boom" });
  await supabase.rpc("record_metric", { p_metric: "page.load", p_value: 12, p_unit: "ms" });
  void [active, cost, ok, copy];
}

export async function misuses(): Promise<void> {
  // @ts-expect-error: no such table
  supabase.from("no_such_table");
  // @ts-expect-error: name is text, not a number
  await supabase.from("projects").insert({ owner_id: id, name: 5 });
  // @ts-expect-error: owner_id is required
  await supabase.from("projects").insert({ name: "no owner" });
  // @ts-expect-error: no such function
  await supabase.rpc("drop_everything", {});
  // @ts-expect-error: p_user_id is a uuid string
  await supabase.rpc("get_user_project_stats", { p_user_id: 42 });
  const row = (await supabase.from("users").select("id, email").single()).data;
  // @ts-expect-error: plan was not selected
  void row?.plan;
}
