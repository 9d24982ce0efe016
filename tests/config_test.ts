import assert from "node:assert/strict";
import {
  ConfigError,
  parseConfig,
  SESSION_EXPIRY_MARGIN_SECONDS,
  sessionExpiresInSeconds,
} from "../supabase/functions/_shared/config.ts";

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

Deno.test("the session TTL must leave the safety margin at both of Stripe's bounds", () => {
  assert.equal(SESSION_EXPIRY_MARGIN_SECONDS, 60);
  for (const ttl of ["29", "1439", "1440"]) {
    assert.throws(
      () => parseConfig({ ...valid, CHECKOUT_SESSION_TTL_MINUTES: ttl }),
      /CHECKOUT_SESSION_TTL_MINUTES must be 30-1438/,
      ttl,
    );
  }
  for (const ttl of [30, 1438]) {
    const config = parseConfig({ ...valid, CHECKOUT_SESSION_TTL_MINUTES: String(ttl) });
    assert.equal(sessionExpiresInSeconds(config), ttl * 60 + 60);
  }
});

Deno.test("the limits default to 3 per e-mail and 20 per IP; 0 disables, below 0 is refused", () => {
  const env = valid;
  const defaults = parseConfig(env);
  assert.equal(defaults.PENDING_CHECKOUTS_PER_EMAIL, 3);
  assert.equal(defaults.PENDING_CHECKOUTS_PER_IP, 20);
  const off = parseConfig({
    ...env,
    PENDING_CHECKOUTS_PER_EMAIL: "0",
    PENDING_CHECKOUTS_PER_IP: "0",
  });
  assert.equal(off.PENDING_CHECKOUTS_PER_EMAIL, 0);
  assert.equal(off.PENDING_CHECKOUTS_PER_IP, 0);
  assert.throws(
    () => parseConfig({ ...env, PENDING_CHECKOUTS_PER_IP: "-1" }),
    /PENDING_CHECKOUTS_PER_IP must be 0 \(no limit\) or more/,
  );
});
