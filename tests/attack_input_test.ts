/**
 * Bad input against every function, on the real stack (gateway, function processes, Postgres,
 * the Stripe emulator): hand-picked nasties first, then fast-check. Whatever arrives, the answer
 * is below 500 and every error has the documented shape; a request refused before its key is
 * claimed (400, 401, 405, 413, 415) writes nothing and calls Stripe for nothing.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { startTestStack, type TestStack } from "./harness.ts";
import { BEANS, guestBody, INTEGRATION, SHOP, userBody } from "./checkout_helpers.ts";
import { signatureHeader } from "../local/stripe-emulator/signing.ts";
import {
  assertAnswerShape,
  type Footprint,
  footprint,
  REFUSED_BEFORE_CLAIM,
} from "./attack_helpers.ts";

const FUNCTIONS = [
  "guest-checkout",
  "guest-checkout/cancel",
  "enhanced-checkout",
  "enhanced-checkout/cancel",
  "refund-order",
  "stripe-webhook",
  "stripe-reconcile",
  "outbox-dispatch",
  "checkout-status",
] as const;
type Fn = typeof FUNCTIONS[number];

/** The functions that read a JSON body (the rest ignore it, or verify raw signed bytes). */
const READS_JSON_BODY = new Set<Fn>([
  "guest-checkout",
  "guest-checkout/cancel",
  "enhanced-checkout",
  "enhanced-checkout/cancel",
  "refund-order",
]);

interface Attempt {
  label: string;
  path: string;
  method: string;
  headers: [string, string][];
  body?: string | Uint8Array;
}

interface Credentials {
  user: string;
  secretKey: string;
  webhookSecret: string;
}

/** The headers a well-formed call of `fn` carries, so a fuzzed part is the only thing wrong. */
function baseHeaders(fn: Fn, creds: Credentials): [string, string][] {
  const headers: [string, string][] = [
    ["content-type", "application/json"],
    ["idempotency-key", crypto.randomUUID()],
  ];
  if (fn.startsWith("enhanced-checkout")) headers.push(["authorization", `Bearer ${creds.user}`]);
  if (fn === "refund-order") headers.push(["apikey", creds.secretKey]);
  return headers;
}

function validBody(fn: Fn): unknown {
  if (fn === "guest-checkout") return guestBody();
  if (fn === "enhanced-checkout") return userBody();
  if (fn.endsWith("/cancel") || fn === "refund-order") return { order_id: crypto.randomUUID() };
  return {};
}

async function send(stack: TestStack, attempt: Attempt): Promise<{ status: number; text: string }> {
  const headers = new Headers();
  for (const [name, value] of attempt.headers) headers.append(name, value);
  const response = await fetch(`${stack.functionsUrl}/${attempt.path}`, {
    method: attempt.method,
    headers,
    body: attempt.method === "GET" || attempt.method === "HEAD" || attempt.body === undefined
      ? undefined
      : typeof attempt.body === "string"
      ? attempt.body
      : new Uint8Array(attempt.body),
  });
  return { status: response.status, text: await response.text() };
}

/** One attempt and its checks; returns the status for the caller's own assertions. */
async function probe(stack: TestStack, attempt: Attempt): Promise<number> {
  const before = await footprint(stack);
  const { status, text } = await send(stack, attempt);
  assertAnswerShape(attempt.label, status, text, attempt.method);
  if (REFUSED_BEFORE_CLAIM.has(status) || attempt.path.startsWith("stripe-webhook")) {
    const after: Footprint = await footprint(stack);
    assert.deepEqual(after, before, `${attempt.label}: ${status} but something was written`);
  }
  return status;
}

/** Strings that break naive code or Postgres text (NUL, lone surrogates, huge, prototype keys). */
const NASTY_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "\u202e",
  "\ufeff",
  "💳".repeat(100),
  "x".repeat(5000),
  "__proto__",
  "constructor",
  "-0",
  "NaN",
  "Infinity",
  "1e400",
  "null",
  "true",
  "${jndi:ldap://x}",
  "'; drop table orders; --",
  "%00",
  "\r\n",
];

function withNulAndSurrogates(fn: Fn): [string, unknown][] {
  const url = (s: string) => `${SHOP}/thanks${s}`;
  const common: [string, unknown][] = [];
  if (fn === "guest-checkout" || fn === "enhanced-checkout") {
    const base = fn === "guest-checkout" ? guestBody : userBody;
    for (const s of ["\u0000", "\ud800", "\udc00x", " ", "\t", "\n", "\u007f"]) {
      const shown = JSON.stringify(s);
      common.push([`success_url with ${shown}`, base({ success_url: url(s) })]);
      common.push([`cancel_url with ${shown}`, base({ cancel_url: url(s) })]);
    }
    common.push(["email with NUL", base({ email: "a\u0000@example.com" })]);
    if (fn === "enhanced-checkout") {
      common.push(["promotion_code with NUL", base({ promotion_code: "promo_a\u0000" })]);
    }
  }
  return common;
}

/** Hand-written bodies: each is wrong, or odd in a way the function must survive. */
function nastyBodies(fn: Fn): [string, string | Uint8Array][] {
  const valid = validBody(fn) as Record<string, unknown>;
  const text = (label: string, body: unknown): [string, string] => [label, JSON.stringify(body)];
  const first = Object.keys(valid)[0] ?? "order_id";
  return [
    ["empty", ""],
    ["not JSON", "{"],
    ["null", "null"],
    ["an array", "[]"],
    ["a string", '"x"'],
    ["not UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ["UTF-16", new Uint8Array([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00])],
    ["deeply nested arrays", "[".repeat(20_000) + "]".repeat(20_000)],
    ["deeply nested objects", '{"a":'.repeat(5_000) + "1" + "}".repeat(5_000)],
    ["over 64 KiB", JSON.stringify({ ...valid, pad: "x".repeat(70_000) })],
    ['"__proto__" key', `{"__proto__":{"admin":true},${JSON.stringify(valid).slice(1)}`],
    text('"constructor" key', { ...valid, constructor: { prototype: 1 } }),
    text("an array where the object goes", [valid]),
    ...NASTY_STRINGS.map((s) =>
      text(`${first} = ${JSON.stringify(s).slice(0, 20)}`, {
        ...valid,
        [first]: s,
      })
    ),
    [
      `${first} = 1e400`,
      JSON.stringify(valid).replace(/^\{"[^"]+":("[^"]*"|\[[^\]]*\])/, `{"${first}":1e400`),
    ],
    ...withNulAndSurrogates(fn).map(([label, body]) => text(label, body)),
    text("quantity -0", { ...valid, items: [{ product_id: BEANS, quantity: -0 }] }),
    text("quantity 1.5", { ...valid, items: [{ product_id: BEANS, quantity: 1.5 }] }),
    text("quantity 2^53", { ...valid, items: [{ product_id: BEANS, quantity: 2 ** 53 }] }),
    text("amount -0", { ...valid, amount: -0 }),
    text("amount 2^31", { ...valid, amount: 2 ** 31 }),
    text("amount string", { ...valid, amount: "100" }),
    text("order_id array", { order_id: [crypto.randomUUID()] }),
  ];
}

const HEADER_VARIANTS: [string, (h: [string, string][]) => [string, string][]][] = [
  ["no content-type", (h) => h.filter(([n]) => n !== "content-type")],
  ["text/plain", (h) => set(h, "content-type", "text/plain")],
  ["application/jsonp", (h) => set(h, "content-type", "application/jsonp")],
  ["form", (h) => set(h, "content-type", "application/x-www-form-urlencoded")],
  ["two content-types", (h) => [...h, ["content-type", "text/html"]]],
  ["no key", (h) => h.filter(([n]) => n !== "idempotency-key")],
  ["empty key", (h) => set(h, "idempotency-key", "")],
  ["256-char key", (h) => set(h, "idempotency-key", "k".repeat(256))],
  ["8 KiB key", (h) => set(h, "idempotency-key", "k".repeat(8192))],
  ["latin-1 key", (h) => set(h, "idempotency-key", "cl\u00e9")],
  ["key with a space", (h) => set(h, "idempotency-key", "a b")],
  ["bad quoted key", (h) => set(h, "idempotency-key", '"a"b"')],
  ["two keys", (h) => [...h, ["idempotency-key", crypto.randomUUID()]]],
  ["differing legacy key", (h) => [...h, ["x-idempotency-key", crypto.randomUUID()]]],
  ["Basic auth", (h) => set(h, "authorization", "Basic YWRtaW46YWRtaW4=")],
  ["Bearer nothing", (h) => set(h, "authorization", "Bearer ")],
  ["Bearer garbage JWT", (h) => set(h, "authorization", "Bearer eyJhbGciOiJub25lIn0.e30.")],
  ["8 KiB bearer", (h) => set(h, "authorization", `Bearer ${"a".repeat(8192)}`)],
  ["latin-1 apikey", (h) => set(h, "apikey", "sb_secret_\u00e9")],
  ["two authorizations", (h) => [...h, ["authorization", "Bearer x"]]],
];

function set(h: [string, string][], name: string, value: string): [string, string][] {
  return [...h.filter(([n]) => n !== name), [name, value]];
}

async function webhookHeaders(
  body: string | Uint8Array,
  secret: string,
): Promise<[string, string][]> {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  return [["content-type", "application/json"], [
    "stripe-signature",
    await signatureHeader(secret, text),
  ]];
}

Deno.test("every function survives hand-picked bad input", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  const creds: Credentials = {
    user: await stack.mintUserToken({ sub: crypto.randomUUID(), email: "u@example.com" }),
    secretKey: stack.secretKey,
    webhookSecret: stack.webhookSecret,
  };

  for (const fn of FUNCTIONS) {
    await t.step(`${fn}: bad bodies`, async () => {
      for (const [label, body] of nastyBodies(fn)) {
        const headers = fn === "stripe-webhook"
          ? await webhookHeaders(body, creds.webhookSecret)
          : baseHeaders(fn, creds);
        await probe(stack, { label: `${fn} ${label}`, path: fn, method: "POST", headers, body });
      }
    });
    await t.step(`${fn}: bad headers and methods`, async () => {
      const body = JSON.stringify(validBody(fn));
      for (const [label, variant] of HEADER_VARIANTS) {
        await probe(stack, {
          label: `${fn} ${label}`,
          path: fn,
          method: fn === "checkout-status" ? "GET" : "POST",
          headers: variant(baseHeaders(fn, creds)),
          body,
        });
      }
      if (READS_JSON_BODY.has(fn)) {
        // A valid body declared in another charset: never read as if it were UTF-8.
        for (
          const type of ["application/json; charset=utf-16", 'application/json;charset="Latin1"']
        ) {
          const status = await probe(stack, {
            label: `${fn} ${type}`,
            path: fn,
            method: "POST",
            headers: set(baseHeaders(fn, creds), "content-type", type),
            body,
          });
          assert.equal(status, 415, `${fn} ${type}`);
        }
      }
      for (const method of ["GET", "PUT", "DELETE", "PATCH", "HEAD", "QUERY"]) {
        if (fn === "checkout-status" && method === "GET") continue;
        const status = await probe(stack, {
          label: `${fn} ${method}`,
          path: fn,
          method,
          headers: baseHeaders(fn, creds),
          body,
        });
        assert.equal(status, 405, `${fn} ${method}`);
      }
    });
  }

  await t.step("checkout-status: bad query strings", async () => {
    const queries = [
      "",
      "?session_id=",
      "?session_id=cs_",
      `?session_id=cs_${"a".repeat(251)}`,
      "?session_id=cs_%00",
      "?session_id=cs_a%0a",
      "?session_id=%ff%fe",
      "?session_id=cs_%F0%9F%92%B3",
      "?session_id=cs_a&session_id=cs_b",
      "?session_id[]=cs_a",
      "?%zz=1&session_id=%",
      "?session_id=pi_123",
      "?session_id=cs_test_%27%3B--",
      `?session_id=cs_${"a".repeat(250)}`,
    ];
    for (const query of queries) {
      const status = await probe(stack, {
        label: `checkout-status ${query.slice(0, 60)}`,
        path: `checkout-status${query}`,
        method: "GET",
        headers: [],
      });
      assert.ok(status === 400 || status === 404, `${query}: ${status}`);
    }
  });
});

const fcHeaderValue = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "binary-ascii", maxLength: 60 }),
  fc.constantFrom(...NASTY_STRINGS),
  // Header values cannot carry control characters (fetch refuses them) nor code points > 0xff.
  // deno-lint-ignore no-control-regex
).map((s) => s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, "").replace(/[^\x00-\xff]/g, "?"));

const fcJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(...NASTY_STRINGS),
  fc.record({
    email: fc.oneof(fc.emailAddress(), fc.constantFrom(...NASTY_STRINGS)),
    items: fc.oneof(
      fc.array(
        fc.record({
          product_id: fc.oneof(fc.uuid(), fc.constant(BEANS), fc.constantFrom(...NASTY_STRINGS)),
          quantity: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(...NASTY_STRINGS)),
        }, { requiredKeys: [] }),
        { maxLength: 60 },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    success_url: fc.oneof(
      fc.webUrl(),
      fc.constantFrom(...NASTY_STRINGS).map((s) => `${SHOP}/${s}`),
    ),
    cancel_url: fc.oneof(fc.webUrl(), fc.constant(`${SHOP}/cart`)),
    order_id: fc.oneof(fc.uuid(), fc.constantFrom(...NASTY_STRINGS)),
    amount: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(...NASTY_STRINGS)),
    reason: fc.oneof(fc.constantFrom("duplicate", "fraud"), fc.string()),
    promotion_code: fc.string(),
  }, { requiredKeys: [] }),
);

const fcAttempt = (creds: Credentials) =>
  fc.record({
    fn: fc.constantFrom(...FUNCTIONS),
    method: fc.oneof(
      { weight: 5, arbitrary: fc.constant("POST") },
      { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "PURGE") },
    ),
    body: fc.oneof(
      { weight: 4, arbitrary: fcJson.map((v) => JSON.stringify(v) ?? "") },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    ),
    contentType: fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json;charset=latin1",
      "text/plain",
      "",
    ),
    key: fc.option(fcHeaderValue, { nil: undefined }),
    extraKey: fc.option(fcHeaderValue, { nil: undefined }),
    authorization: fc.option(
      fc.oneof(
        fcHeaderValue.map((v) => `Bearer ${v}`),
        fc.constantFrom(`Bearer ${creds.user}`, `bearer ${creds.user}`, creds.user),
        fcHeaderValue,
      ),
      { nil: undefined },
    ),
    apikey: fc.option(
      fc.oneof(
        fcHeaderValue,
        fc.constantFrom(creds.secretKey.slice(0, -1), creds.secretKey.toUpperCase()),
      ),
      { nil: undefined },
    ),
    signature: fc.option(fcHeaderValue, { nil: undefined }),
    query: fc.option(fcHeaderValue.map((v) => `?session_id=${encodeURIComponent(v)}`), {
      nil: undefined,
    }),
  }).map((a): Attempt => {
    const headers: [string, string][] = [];
    if (a.contentType) headers.push(["content-type", a.contentType]);
    if (a.key !== undefined) headers.push(["idempotency-key", a.key]);
    if (a.extraKey !== undefined) headers.push(["x-idempotency-key", a.extraKey]);
    if (a.authorization !== undefined) headers.push(["authorization", a.authorization]);
    if (a.apikey !== undefined) headers.push(["apikey", a.apikey]);
    if (a.signature !== undefined) headers.push(["stripe-signature", a.signature]);
    return {
      label: `fuzz ${a.fn} ${a.method}`,
      path: a.fn === "checkout-status" ? `${a.fn}${a.query ?? ""}` : a.fn,
      method: a.fn === "checkout-status" && a.method === "POST" ? "GET" : a.method,
      headers,
      body: a.body,
    };
  });

const RUNS = Number(Deno.env.get("ATTACK_RUNS") ?? 400);

Deno.test(
  "fuzzed requests: never a 5xx, errors in shape, nothing written when refused",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const creds: Credentials = {
      user: await stack.mintUserToken({ sub: crypto.randomUUID(), email: "u@example.com" }),
      secretKey: stack.secretKey,
      webhookSecret: stack.webhookSecret,
    };
    await fc.assert(
      fc.asyncProperty(fcAttempt(creds), async (attempt) => {
        await probe(stack, attempt);
      }),
      { numRuns: RUNS, seed: Number(Deno.env.get("ATTACK_SEED") ?? Date.now() % 2 ** 31) },
    );
    assert.ok(stack.counters.functions() >= RUNS, `${stack.counters.functions()} calls made`);
  },
);
