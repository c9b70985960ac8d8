import type { Statement } from "./sql-splitter.ts";

/**
 * Why the runner cannot run this statement, or undefined. Transaction control would end the
 * migration's transaction early (the rest would then commit piece by piece); COPY from STDIN or to
 * STDOUT needs a data stream the runner does not have.
 */
export function refusalOf(st: Statement): string | undefined {
  if (st.kind === "TransactionStmt") {
    return "transaction control statements are not allowed (BEGIN, COMMIT, ROLLBACK, ABORT, END, SAVEPOINT, PREPARE TRANSACTION…): vpb-db runs each migration in its own transaction";
  }
  if (st.kind === "CopyStmt" && st.node.filename === undefined && st.node.is_program !== true) {
    return st.node.is_from === true
      ? "COPY … FROM STDIN is not allowed: a migration has no data stream; insert the rows with INSERT"
      : "COPY … TO STDOUT is not allowed: a migration has no output stream";
  }
  return undefined;
}

/** A policy change: CREATE, ALTER or DROP POLICY. */
export function isPolicyStatement(st: Statement): boolean {
  return (
    st.kind === "CreatePolicyStmt" ||
    st.kind === "AlterPolicyStmt" ||
    (st.kind === "DropStmt" && st.node.removeType === "OBJECT_POLICY")
  );
}

/**
 * A statement that writes rows (a back-fill), or may (DO and CALL run code this check cannot see).
 */
export function isDataStatement(st: Statement): boolean {
  return [
    "InsertStmt",
    "UpdateStmt",
    "DeleteStmt",
    "MergeStmt",
    "CopyStmt",
    "TruncateStmt",
    "DoStmt",
    "CallStmt",
  ].includes(st.kind);
}

/** ALTER TABLE … ENABLE/DISABLE/FORCE/NO FORCE ROW LEVEL SECURITY and nothing else. */
function isRlsToggle(st: Statement): boolean {
  if (st.kind !== "AlterTableStmt") return false;
  const cmds = (st.node.cmds ?? []) as Array<{ AlterTableCmd?: { subtype?: string } }>;
  const toggles = [
    "AT_EnableRowSecurity",
    "AT_DisableRowSecurity",
    "AT_ForceRowSecurity",
    "AT_NoForceRowSecurity",
  ];
  return cmds.length > 0 && cmds.every((c) => toggles.includes(c.AlterTableCmd?.subtype ?? ""));
}

/** Catalog-only statements that take no lock on a table's rows: allowed after the policy changes. */
function isShortCatalogStatement(st: Statement): boolean {
  return (
    isPolicyStatement(st) ||
    isRlsToggle(st) ||
    [
      "GrantStmt",
      "GrantRoleStmt",
      "AlterDefaultPrivilegesStmt",
      "CommentStmt",
      "CreateFunctionStmt",
      "AlterFunctionStmt",
    ].includes(st.kind) ||
    (st.kind === "DropStmt" && st.node.removeType === "OBJECT_FUNCTION")
  );
}

export interface PolicyRuleViolation {
  statement: Statement;
  why: string;
}

/**
 * On Supabase a policy statement run as `postgres` locks Supabase's own auth and storage tables until
 * commit. So in a migration that runs in one transaction: data statements never share it with policy
 * changes, and the policy changes come last, followed only by short catalog statements.
 * A `-- vpb:no-transaction` migration commits each statement on its own and is not concerned.
 */
export function policyRuleViolations(statements: Statement[], noTransaction: boolean): PolicyRuleViolation[] {
  if (noTransaction) return [];
  const firstPolicy = statements.findIndex(isPolicyStatement);
  if (firstPolicy === -1) return [];
  const out: PolicyRuleViolation[] = [];
  statements.forEach((st, i) => {
    if (isDataStatement(st)) {
      out.push({
        statement: st,
        why: `${st.kind} writes rows in the same transaction as policy changes: move the data change to its own migration`,
      });
    } else if (i > firstPolicy && !isShortCatalogStatement(st)) {
      out.push({
        statement: st,
        why: `${st.kind} comes after a policy change: policy changes must be last, followed only by grants, comments and functions`,
      });
    }
  });
  return out;
}
