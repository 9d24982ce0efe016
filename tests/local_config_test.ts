import assert from "node:assert/strict";
import { parseDevEnv } from "../local/stack/dev_config.ts";
import { httpStatusForSqlState } from "../local/stack/postgrest_errors.ts";
import { parseSummary } from "./run.ts";

Deno.test("dev config applies defaults and names the variable that is wrong", () => {
  const defaults = parseDevEnv({});
  assert.equal(defaults.PORT, 54321);
  assert.equal(defaults.STRIPE_EMULATOR_PORT, 12111);
  assert.equal(defaults.DATABASE_URL, undefined);
  assert.equal(parseDevEnv({ PORT: "" }).PORT, 54321, "an empty variable counts as unset");
  for (
    const [name, value] of [
      ["PORT", "http"],
      ["PORT", "70000"],
      ["DATABASE_URL", "mysql://localhost/db"],
      ["STRIPE_API_BASE", "not a url"],
      ["STRIPE_SECRET_KEY", "pk_test_123"],
      ["STRIPE_WEBHOOK_SECRET", "secret"],
      ["SUPABASE_JWT_SECRET", "short"],
      ["ALLOWED_ORIGINS", "localhost:3000"],
      ["ALLOWED_ORIGINS", "http://localhost:3000, not an origin"],
    ]
  ) {
    assert.throws(
      () => parseDevEnv({ [name as string]: value as string }),
      new RegExp(name as string),
    );
  }
  // A restricted key works for the functions, so deno task dev takes it too.
  assert.equal(parseDevEnv({ STRIPE_SECRET_KEY: "rk_test_123" }).STRIPE_SECRET_KEY, "rk_test_123");
  const parsed = parseDevEnv({
    DATABASE_URL: "postgresql://postgres:postgres@127.0.0.1:5432/postgres",
    STRIPE_WEBHOOK_SECRET: "whsec_new,whsec_old",
    ALLOWED_ORIGINS: "http://localhost:3000, https://shop.example",
  });
  assert.equal(parsed.STRIPE_WEBHOOK_SECRET, "whsec_new,whsec_old");
});

Deno.test("dev config normalises ALLOWED_ORIGINS as the functions do", () => {
  const parsed = parseDevEnv({ ALLOWED_ORIGINS: "https://shop.example/, http://localhost:3000" });
  assert.equal(parsed.ALLOWED_ORIGINS, "https://shop.example,http://localhost:3000");
  assert.equal(parseDevEnv({}).ALLOWED_ORIGINS, undefined);
});

Deno.test("dev config forwards only the documented function settings that are set", () => {
  const parsed = parseDevEnv({
    IDEMPOTENCY_LEASE_SECONDS: "90",
    STRIPE_TIMEOUT_MS: "",
    JWT_SECRET: "legacy-secret",
    UNRELATED: "x",
  });
  assert.deepEqual(parsed.functionEnv, {
    IDEMPOTENCY_LEASE_SECONDS: "90",
    JWT_SECRET: "legacy-secret",
  });
});

Deno.test("SQLSTATEs map to PostgREST's documented HTTP statuses", () => {
  const table: [string, number][] = [
    ["08006", 503],
    ["09000", 500],
    ["0L000", 403],
    ["0P000", 403],
    ["23503", 409],
    ["23505", 409],
    ["23502", 400],
    ["25006", 405],
    ["25001", 500],
    ["28000", 403],
    ["2D000", 500],
    ["38000", 500],
    ["39000", 500],
    ["3B000", 500],
    ["40001", 500],
    ["53400", 500],
    ["53200", 503],
    ["54001", 500],
    ["55000", 500],
    ["57014", 500],
    ["58000", 500],
    ["F0000", 500],
    ["HV000", 500],
    ["P0001", 400],
    ["P0002", 500],
    ["XX000", 500],
    ["42883", 404],
    ["42P01", 404],
    ["42P17", 500],
    ["22P02", 400],
    ["42601", 400],
    ["PT402", 402],
    ["PT418", 418],
  ];
  for (const [code, status] of table) {
    assert.equal(httpStatusForSqlState(code, true), status, code);
  }
  assert.equal(httpStatusForSqlState("42501", false), 401, "anon lacks a privilege");
  assert.equal(httpStatusForSqlState("42501", true), 403, "a signed-in role lacks a privilege");
});

Deno.test("the test runner reads deno test's summary, steps and colours included", () => {
  assert.deepEqual(parseSummary("\nok | 12 passed | 0 failed (3s)\n"), { passed: 12, failed: 0 });
  assert.deepEqual(
    parseSummary("\n\x1b[31mFAILED\x1b[0m | 3 passed (5 steps) | 2 failed \x1b[38;5;245m(1s)\n"),
    { passed: 3, failed: 2 },
  );
  assert.equal(parseSummary("error: Module not found"), undefined);
});

Deno.test("dev config: the outbox receiver and the schedules of outbox and reconcile", () => {
  const defaults = parseDevEnv({});
  assert.equal(defaults.OUTBOX_WEBHOOK_URL, undefined, "the stack's own sink");
  assert.equal(defaults.OUTBOX_INTERVAL_SECONDS, 60);
  assert.equal(defaults.RECONCILE_INTERVAL_SECONDS, 300);
  const parsed = parseDevEnv({
    OUTBOX_WEBHOOK_URL: "https://shop.example/hooks/outbox",
    OUTBOX_WEBHOOK_SECRET: "whsec_" + btoa("a-receiver-secret-of-24b"),
    OUTBOX_INTERVAL_SECONDS: "0",
    RECONCILE_INTERVAL_SECONDS: "30",
    OUTBOX_RETRY_BASE_SECONDS: "2",
  });
  assert.equal(parsed.OUTBOX_INTERVAL_SECONDS, 0);
  assert.equal(parsed.RECONCILE_INTERVAL_SECONDS, 30);
  assert.deepEqual(parsed.functionEnv, { OUTBOX_RETRY_BASE_SECONDS: "2" });
  for (
    const [name, value] of [
      ["OUTBOX_WEBHOOK_URL", "ftp://shop.example"],
      ["OUTBOX_WEBHOOK_SECRET", "not-a-secret"],
      ["OUTBOX_INTERVAL_SECONDS", "-1"],
      ["RECONCILE_INTERVAL_SECONDS", "soon"],
    ]
  ) {
    assert.throws(
      () => parseDevEnv({ [name as string]: value as string }),
      new RegExp(name as string),
    );
  }
});
