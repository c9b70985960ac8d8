/** The migrated template every test database is cloned from, made by test/run.ts. */
export const TEMPLATE_DB = "vpb_tpl";
/** Test databases start with this; a failed file's database is kept for inspection until the next run. */
export const TEST_DB_PREFIX = "vpbt_";
