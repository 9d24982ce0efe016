/** The configurations of outbox-dispatch, checkout-status and stripe-reconcile. */
import assert from "node:assert/strict";
import { parseOutboxConfig } from "../supabase/functions/_shared/outbox_config.ts";
import { parseReconcileConfig } from "../supabase/functions/_shared/reconcile_config.ts";
import { parseStatusConfig } from "../supabase/functions/_shared/status_config.ts";

const BASE = {
  SUPABASE_URL: "http://127.0.0.1:54321",
  SUPABASE_SERVICE_ROLE_KEY: "service-role-key",
  STRIPE_SECRET_KEY: "sk_test_123",
};
const OUTBOX = {
  ...BASE,
  OUTBOX_WEBHOOK_URL: "https://shop.example/hooks/outbox",
  OUTBOX_WEBHOOK_SECRET: "whsec_" + btoa("a-receiver-secret-of-24b"),
};

Deno.test("outbox-dispatch: documented defaults; a missing receiver or bad secret names itself", () => {
  const config = parseOutboxConfig(OUTBOX);
  assert.equal(config.OUTBOX_RETRY_BASE_SECONDS, 30);
  assert.equal(config.OUTBOX_MAX_ATTEMPTS, 14);
  assert.equal(config.OUTBOX_CONCURRENCY, 4);
  assert.equal(config.OUTBOX_DELIVERY_TIMEOUT_MS, 10_000);
  assert.equal(
    parseOutboxConfig({ ...OUTBOX, OUTBOX_RETRY_BASE_SECONDS: "0.5" })
      .OUTBOX_RETRY_BASE_SECONDS,
    0.5,
  );
  for (
    const [name, value] of [
      ["OUTBOX_WEBHOOK_URL", undefined],
      ["OUTBOX_WEBHOOK_URL", "mailto:shop@example.com"],
      ["OUTBOX_WEBHOOK_SECRET", undefined],
      ["OUTBOX_WEBHOOK_SECRET", "sk_live_not_a_webhook_secret"],
      ["OUTBOX_RETRY_BASE_SECONDS", "0"],
      ["OUTBOX_MAX_ATTEMPTS", "1.5"],
      ["OUTBOX_CONCURRENCY", "0"],
    ] as const
  ) {
    assert.throws(() => parseOutboxConfig({ ...OUTBOX, [name]: value }), new RegExp(name));
  }
});

Deno.test("checkout-status and stripe-reconcile: defaults and named errors", () => {
  const status = parseStatusConfig({ ...BASE, ALLOWED_ORIGINS: "http://localhost:3000" });
  assert.equal(status.CHECKOUT_STATUS_THROTTLE_SECONDS, 5);
  assert.throws(() => parseStatusConfig(BASE), /ALLOWED_ORIGINS/);
  const reconcile = parseReconcileConfig(BASE);
  assert.equal(reconcile.RECONCILE_OVERLAP_SECONDS, 300);
  assert.equal(reconcile.RECONCILE_TIME_BUDGET_SECONDS, 60);
  assert.equal(reconcile.RECONCILE_MAX_ATTEMPTS, 10);
  assert.throws(
    () => parseReconcileConfig({ ...BASE, RECONCILE_MAX_ATTEMPTS: "0" }),
    /RECONCILE_MAX_ATTEMPTS/,
  );
  assert.throws(
    () => parseReconcileConfig({ ...BASE, STRIPE_SECRET_KEY: "pk_test_1" }),
    /STRIPE_SECRET_KEY/,
  );
  assert.throws(
    () => parseReconcileConfig({ ...BASE, RECONCILE_TIME_BUDGET_SECONDS: "900" }),
    /RECONCILE_TIME_BUDGET_SECONDS/,
  );
});
