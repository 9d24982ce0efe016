import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../supabase/functions/_shared/config.ts";
import { parseWebhookConfig } from "../supabase/functions/_shared/webhook_config.ts";
import {
  acceptedSecretKeys,
  supabaseSecretKey,
} from "../supabase/functions/_shared/supabase_keys.ts";

/** The functions' Supabase keys, new and legacy, as config.ts parses them at start-up. */

const SECRET = "sb_secret_0123456789abcdefghij";
const OTHER = "sb_secret_zyxwvutsrqponmlkjih";
const LEGACY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig";

const base = {
  SUPABASE_URL: "http://127.0.0.1:54321",
  STRIPE_SECRET_KEY: "sk_test_123",
  ALLOWED_ORIGINS: "http://localhost:3000",
};
const webhookBase = {
  SUPABASE_URL: "http://127.0.0.1:54321",
  STRIPE_SECRET_KEY: "sk_test_123",
  STRIPE_WEBHOOK_SECRET: "whsec_0123456789abcdef",
};

Deno.test("the secret key is SUPABASE_SECRET_KEYS' default, else its only key, else the legacy one", () => {
  const cases: [Record<string, string>, string][] = [
    [{ SUPABASE_SECRET_KEYS: JSON.stringify({ default: SECRET, other: OTHER }) }, SECRET],
    [{ SUPABASE_SECRET_KEYS: JSON.stringify({ ci: OTHER }) }, OTHER],
    [{
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: SECRET }),
      SUPABASE_SERVICE_ROLE_KEY: LEGACY,
    }, SECRET],
    [{ SUPABASE_SERVICE_ROLE_KEY: LEGACY }, LEGACY],
    [{ SUPABASE_SECRET_KEYS: "", SUPABASE_SERVICE_ROLE_KEY: LEGACY }, LEGACY],
  ];
  for (const [env, expected] of cases) {
    assert.equal(supabaseSecretKey(parseConfig({ ...base, ...env })), expected);
    assert.equal(supabaseSecretKey(parseWebhookConfig({ ...webhookBase, ...env })), expected);
  }
  const both = parseConfig({
    ...base,
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: SECRET, other: OTHER }),
    SUPABASE_SERVICE_ROLE_KEY: LEGACY,
  });
  assert.deepEqual(acceptedSecretKeys(both), {
    default: SECRET,
    other: OTHER,
    legacy_service_role: LEGACY,
  });
});

Deno.test("a bad SUPABASE_SECRET_KEYS fails fast, names the variable and never echoes a key", () => {
  const bad = [
    "sb_secret_0123456789abcdefghij",
    "{not json",
    "[]",
    "{}",
    JSON.stringify({ default: "sb_publishable_0123456789abcdef" }),
    JSON.stringify({ default: 42 }),
    JSON.stringify({ a: SECRET, b: OTHER }),
  ];
  for (const value of bad) {
    for (
      const parse of [
        () => parseConfig({ ...base, SUPABASE_SECRET_KEYS: value }),
        () => parseWebhookConfig({ ...webhookBase, SUPABASE_SECRET_KEYS: value }),
      ]
    ) {
      assert.throws(parse, (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /SUPABASE_SECRET_KEYS/);
        assert.ok(!error.message.includes("0123456789abcdef"), error.message);
        return true;
      }, value);
    }
  }
  assert.throws(
    () => parseConfig({ ...base, SUPABASE_SECRET_KEYS: JSON.stringify({ a: SECRET, b: OTHER }) }),
    /none is named "default" \(names: a, b\)/,
  );
});

Deno.test("neither secret key variable fails fast naming both", () => {
  for (const parse of [() => parseConfig(base), () => parseWebhookConfig(webhookBase)]) {
    assert.throws(parse, /SUPABASE_SECRET_KEYS or SUPABASE_SERVICE_ROLE_KEY is required/);
  }
});

Deno.test("SUPABASE_JWKS and ALLOW_ANONYMOUS_USERS are validated at start-up", () => {
  const env = { ...base, SUPABASE_SERVICE_ROLE_KEY: LEGACY };
  const key = { kty: "EC", crv: "P-256", x: "x", y: "y", kid: "k1" };
  assert.deepEqual(
    parseConfig({ ...env, SUPABASE_JWKS: JSON.stringify({ keys: [key] }) })
      .SUPABASE_JWKS,
    { keys: [key] },
  );
  assert.deepEqual(parseConfig({ ...env, SUPABASE_JWKS: JSON.stringify([key]) }).SUPABASE_JWKS, {
    keys: [key],
  });
  assert.equal(parseConfig({ ...env, SUPABASE_JWKS: "" }).SUPABASE_JWKS, undefined);
  for (const value of ["{", "{}", '{"keys":[1]}', '{"keys":[{"kid":"no kty"}]}']) {
    assert.throws(() => parseConfig({ ...env, SUPABASE_JWKS: value }), /SUPABASE_JWKS/, value);
  }
  assert.equal(parseConfig(env).ALLOW_ANONYMOUS_USERS, false);
  assert.equal(parseConfig({ ...env, ALLOW_ANONYMOUS_USERS: "true" }).ALLOW_ANONYMOUS_USERS, true);
  assert.equal(
    parseConfig({ ...env, ALLOW_ANONYMOUS_USERS: "false" }).ALLOW_ANONYMOUS_USERS,
    false,
  );
  assert.throws(
    () => parseConfig({ ...env, ALLOW_ANONYMOUS_USERS: "yes" }),
    /ALLOW_ANONYMOUS_USERS must be true or false/,
  );
});
