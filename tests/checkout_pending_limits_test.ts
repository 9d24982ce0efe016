/**
 * Reservations are not free for anyone to hold: open (pending) checkouts are limited per
 * e-mail (per user for enhanced-checkout) and per client IP, atomically in begin_checkout,
 * so parallel requests never overshoot the limit and losers reserve no stock.
 */
import assert from "node:assert/strict";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  callCheckout,
  type CheckoutAnswer,
  emulator,
  guestBody,
  INTEGRATION,
  sessionsCreated,
  stockOf,
  userBody,
} from "./checkout_helpers.ts";
import { createProduct } from "./webhook_helpers.ts";
import { clientIpFrom } from "../supabase/functions/_shared/client_ip.ts";
import { parseDevEnv } from "../local/stack/dev_config.ts";

function codeOf(answer: CheckoutAnswer): string | undefined {
  return (answer.json.error as { code?: string } | undefined)?.code;
}

function tally(answers: CheckoutAnswer[]): { created: number; limited: number; other: string[] } {
  const other = answers.filter((a) =>
    a.status !== 201 && !(a.status === 429 && codeOf(a) === "too_many_pending_checkouts")
  ).map((a) => `${a.status} ${a.text}`);
  return {
    created: answers.filter((a) => a.status === 201).length,
    limited: answers.filter((a) => a.status === 429).length,
    other,
  };
}

async function pendingOrders(stack: TestStack, email: string): Promise<number> {
  const [row] = await stack.sql<{ n: number }[]>`
    select count(*)::int as n from public.orders where email = ${email} and status = 'pending'`;
  return row?.n ?? 0;
}

Deno.test("the client IP is the first x-forwarded-for hop", () => {
  const ip = (value: string | null) =>
    clientIpFrom(new Headers(value === null ? {} : { "x-forwarded-for": value }));
  assert.equal(ip("203.0.113.7, 10.0.0.1"), "203.0.113.7");
  assert.equal(ip(" 2001:db8::1 ,10.0.0.1"), "2001:db8::1");
  assert.equal(ip("198.51.100.2"), "198.51.100.2");
  assert.equal(ip(null), undefined);
  assert.equal(ip(""), undefined);
  assert.equal(ip("unknown, 10.0.0.1"), undefined);
  assert.equal(ip("'; drop table orders; --"), undefined);
  // An IPv6 zone id: node:net's isIP accepts it, Postgres's inet refuses it.
  assert.equal(ip("fe80::1%eth0"), undefined);
  assert.equal(ip("::1%1, 10.0.0.1"), undefined);
});

Deno.test("open checkouts per e-mail and per user", INTEGRATION, async (t) => {
  // The defaults (the harness turns the limits off for every other test).
  await using stack = await startTestStack({
    functionEnv: { PENDING_CHECKOUTS_PER_EMAIL: "3", PENDING_CHECKOUTS_PER_IP: "20" },
  });
  const product = await createProduct(stack.sql, 100);
  const items = [{ product_id: product, quantity: 1 }];

  await t.step(
    "50 parallel checkouts from one e-mail: exactly 3 succeed, the rest 429, stock for 3",
    async () => {
      const email = "greedy@example.com";
      const answers = await Promise.all(
        Array.from(
          { length: 50 },
          () => callCheckout(stack, "guest-checkout", { body: guestBody({ email, items }) }),
        ),
      );
      const { created, limited, other } = tally(answers);
      assert.deepEqual(other, []);
      assert.equal(created, 3);
      assert.equal(limited, 47);
      assert.equal(await stockOf(stack, product), 97, "stock reserved only for the winners");
      assert.equal(await pendingOrders(stack, email), 3);
      assert.equal(await sessionsCreated(stack), 3);

      const loser = answers.find((a) => a.status === 429);
      assert.ok(loser);
      assert.match(loser.headers.get("retry-after") ?? "", /^\d+$/);
      const retryAfter = Number(loser.headers.get("retry-after"));
      assert.ok(retryAfter >= 1 && retryAfter <= 31 * 60 + 60, `Retry-After ${retryAfter}`);
      assert.deepEqual((loser.json.error as { details: unknown }).details, {
        limit: 3,
        per: "email",
        retry_after_seconds: retryAfter,
      });
    },
  );

  await t.step("the 429 is stored and replayed under its key", async () => {
    const key = crypto.randomUUID();
    const body = guestBody({ email: "greedy@example.com", items });
    const first = await callCheckout(stack, "guest-checkout", { key, body });
    assert.equal(first.status, 429, first.text);
    assert.match(first.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
    const again = await callCheckout(stack, "guest-checkout", { key, body });
    assert.equal(again.status, 429);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.text, first.text);
    assert.equal(again.headers.get("retry-after"), first.headers.get("retry-after"));
  });

  await t.step("e-mails differing only in case share the limit", async () => {
    const answer = await callCheckout(stack, "guest-checkout", {
      body: guestBody({ email: "GREEDY@example.com", items }),
    });
    assert.equal(answer.status, 429, answer.text);
  });

  await t.step("a reservation that ends frees its place", async () => {
    const [order] = await stack.sql<{ checkout_session_id: string }[]>`
      select checkout_session_id from public.orders
      where email = 'greedy@example.com' and status = 'pending' limit 1`;
    assert.ok(order);
    await emulator(stack).pay(order.checkout_session_id);
    await emulator(stack).waitForDeliveries();
    assert.equal(await pendingOrders(stack, "greedy@example.com"), 2);
    const next = await callCheckout(stack, "guest-checkout", {
      body: guestBody({ email: "greedy@example.com", items }),
    });
    assert.equal(next.status, 201, next.text);
  });

  await t.step("enhanced-checkout: the limit applies per user", async () => {
    const user = crypto.randomUUID();
    const token = await stack.mintUserToken({ sub: user, email: "user@example.com" });
    const answers = await Promise.all(
      Array.from(
        { length: 8 },
        () => callCheckout(stack, "enhanced-checkout", { token, body: userBody({ items }) }),
      ),
    );
    const { created, limited, other } = tally(answers);
    assert.deepEqual(other, []);
    assert.equal(created, 3);
    assert.equal(limited, 5);
    const loser = answers.find((a) => a.status === 429);
    assert.equal((loser?.json.error as { details: { per: string } }).details.per, "user");
  });
});

Deno.test("open checkouts per client IP; 0 disables a limit", INTEGRATION, async (t) => {
  await using stack = await startTestStack({
    functionEnv: { PENDING_CHECKOUTS_PER_EMAIL: "0", PENDING_CHECKOUTS_PER_IP: "4" },
  });
  const product = await createProduct(stack.sql, 100);
  const items = [{ product_id: product, quantity: 1 }];

  await t.step("with PENDING_CHECKOUTS_PER_EMAIL=0 one e-mail may hold many", async () => {
    for (let i = 0; i < 5; i++) {
      const answer = await callCheckout(stack, "guest-checkout", {
        body: guestBody({ email: "many@example.com", items }),
        headers: { "x-forwarded-for": `198.51.100.${i + 1}` },
      });
      assert.equal(answer.status, 201, answer.text);
    }
  });

  await t.step(
    "20 parallel checkouts from one IP (first x-forwarded-for hop): exactly 4 succeed",
    async () => {
      const before = await stockOf(stack, product);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          callCheckout(stack, "guest-checkout", {
            body: guestBody({ email: `shopper${i}@example.com`, items }),
            // Each request's proxy differs; the client (first hop) is the same.
            headers: { "x-forwarded-for": `203.0.113.9, 10.0.0.${i + 1}` },
          })),
      );
      const { created, limited, other } = tally(answers);
      assert.deepEqual(other, []);
      assert.equal(created, 4);
      assert.equal(limited, 16);
      assert.equal(await stockOf(stack, product), (before ?? 0) - 4);
      const loser = answers.find((a) => a.status === 429);
      assert.equal((loser?.json.error as { details: { per: string } }).details.per, "ip");
    },
  );
});

Deno.test("deno task dev hands both limits on to the functions", () => {
  const env = parseDevEnv({ PENDING_CHECKOUTS_PER_EMAIL: "5", PENDING_CHECKOUTS_PER_IP: "0" });
  assert.deepEqual(env.functionEnv, {
    PENDING_CHECKOUTS_PER_EMAIL: "5",
    PENDING_CHECKOUTS_PER_IP: "0",
  });
});
