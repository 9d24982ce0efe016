import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../supabase/functions/_shared/config.ts";

const valid = {
  SUPABASE_URL: "http://127.0.0.1:54321",
  SUPABASE_SERVICE_ROLE_KEY: "service-role-jwt",
  STRIPE_SECRET_KEY: "sk_test_123",
  ALLOWED_ORIGINS: "http://localhost:3000, https://shop.example/",
};

Deno.test("parses a valid environment with the documented defaults", () => {
  const config = parseConfig(valid);
  assert.deepEqual(config.ALLOWED_ORIGINS, ["http://localhost:3000", "https://shop.example"]);
  assert.equal(config.CHECKOUT_SESSION_TTL_MINUTES, 30);
  assert.equal(config.IDEMPOTENCY_LEASE_SECONDS, 60);
  assert.equal(config.IDEMPOTENCY_KEY_TTL_HOURS, 24);
  assert.equal(config.STRIPE_API_BASE, undefined);
});

Deno.test("a missing secret fails fast with a message that names it", () => {
  for (const name of Object.keys(valid)) {
    const env: Record<string, string | undefined> = { ...valid, [name]: undefined };
    assert.throws(() => parseConfig(env), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, new RegExp(name));
      return true;
    });
  }
});

Deno.test("rejects a publishable key where the secret key belongs", () => {
  assert.throws(
    () => parseConfig({ ...valid, STRIPE_SECRET_KEY: "pk_test_123" }),
    /STRIPE_SECRET_KEY must be a Stripe secret key/,
  );
});

Deno.test("rejects a bad origin and names it", () => {
  assert.throws(
    () => parseConfig({ ...valid, ALLOWED_ORIGINS: "http://ok.example,not a url" }),
    /ALLOWED_ORIGINS has a bad origin: not a url/,
  );
});

Deno.test("rejects a session TTL outside Stripe's 30-1440 minutes", () => {
  for (const ttl of ["29", "1441", "abc"]) {
    assert.throws(
      () => parseConfig({ ...valid, CHECKOUT_SESSION_TTL_MINUTES: ttl }),
      /CHECKOUT_SESSION_TTL_MINUTES/,
    );
  }
});

Deno.test("rejects a lease shorter than the longest Stripe call", () => {
  assert.throws(
    () =>
      parseConfig({
        ...valid,
        IDEMPOTENCY_LEASE_SECONDS: "30",
        STRIPE_TIMEOUT_MS: "20000",
        STRIPE_MAX_NETWORK_RETRIES: "1",
      }),
    /IDEMPOTENCY_LEASE_SECONDS \(30\) must exceed the longest Stripe call, 42 s/,
  );
  assert.equal(
    parseConfig({
      ...valid,
      IDEMPOTENCY_LEASE_SECONDS: "3",
      STRIPE_TIMEOUT_MS: "500",
      STRIPE_MAX_NETWORK_RETRIES: "0",
    })
      .IDEMPOTENCY_LEASE_SECONDS,
    3,
  );
});
