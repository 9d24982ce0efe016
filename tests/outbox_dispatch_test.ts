/**
 * outbox-dispatch end to end: real stack, real receivers over HTTP, real concurrency.
 * Signatures are checked with the `standardwebhooks` library, as a shop would.
 */
import assert from "node:assert/strict";
import { Webhook } from "npm:standardwebhooks@1.1.1";
import { startTestStack } from "./harness.ts";
import { emulator, INTEGRATION, sleep, waitUntil } from "./checkout_helpers.ts";
import { guestCheckout, runOps } from "./webhook_helpers.ts";
import { BEANS } from "./checkout_helpers.ts";
import {
  dispatch,
  enqueueMessages,
  outboxRows,
  RECEIVER_SECRET,
  startReceiver,
} from "./outbox_helpers.ts";
import { OUTBOX_SINK_PATH } from "../local/stack/outbox_sink.ts";
import { freePort } from "../local/stack/ports.ts";

const FAST_RETRIES = { OUTBOX_RETRY_BASE_SECONDS: "0.05", OUTBOX_WEBHOOK_SECRET: RECEIVER_SECRET };

Deno.test(
  "a paid order's message reaches the stack's sink right after the webhook, signed",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const checkout = await guestCheckout(stack, [{ product_id: BEANS, quantity: 1 }]);
    await emulator(stack).pay(checkout.checkout_session_id);
    // No dispatch call here: stripe-webhook kicks outbox-dispatch once the payment committed.
    await waitUntil(
      "the message is delivered",
      async () => (await outboxRows(stack))[0]?.status === "done",
    );
    const [message] = stack.outboxSink.messages();
    assert.equal(message?.type, "order.paid");
    assert.equal(message?.order_id, checkout.order_id);
    assert.deepEqual(
      {
        amount_total: (message?.data as Record<string, unknown>).amount_total,
        checkout_session_id: (message?.data as Record<string, unknown>).checkout_session_id,
      },
      { amount_total: checkout.amount_total, checkout_session_id: checkout.checkout_session_id },
    );
    const [row] = await outboxRows(stack);
    assert.equal(row?.status, "done");
    assert.equal(row?.message_id, message?.id);
    const listed = await (await fetch(`${stack.apiUrl}${OUTBOX_SINK_PATH}`)).json();
    assert.equal(listed.messages.length, 1);
    assert.equal(listed.rejected, 0);
  },
);

Deno.test("outbox-dispatch takes only a secret key, and only POST", INTEGRATION, async () => {
  await using stack = await startTestStack();
  const url = `${stack.functionsUrl}/outbox-dispatch`;
  const cases: [RequestInit, number][] = [
    [{ method: "POST" }, 401],
    [{ method: "POST", headers: { apikey: stack.anonKey } }, 401],
    [{ method: "POST", headers: { authorization: `Bearer ${stack.anonKey}` } }, 401],
    [{ method: "POST", headers: { apikey: stack.publishableKey } }, 401],
    [{ method: "POST", headers: { apikey: stack.secretKey } }, 200],
    [{ method: "GET", headers: { apikey: stack.serviceRoleKey } }, 405],
    [{ method: "POST", headers: { apikey: stack.serviceRoleKey } }, 200],
    [{ method: "POST", headers: { authorization: `Bearer ${stack.serviceRoleKey}` } }, 200],
  ];
  for (const [init, status] of cases) {
    const response = await fetch(url, init);
    const body = await response.json();
    assert.equal(response.status, status, JSON.stringify(init));
    if (status !== 200) assert.ok(body.error?.code, JSON.stringify(body));
  }
});

Deno.test(
  "a receiver answering 500 three times gets the message on the 4th attempt, same id",
  INTEGRATION,
  async () => {
    await using receiver = startReceiver({ answer: (n) => n <= 3 ? 500 : 200 });
    await using stack = await startTestStack({
      functionEnv: { ...FAST_RETRIES, OUTBOX_WEBHOOK_URL: receiver.url },
    });
    const [id] = await enqueueMessages(stack, 1);
    for (let pass = 0; pass < 50; pass++) {
      await dispatch(stack);
      if ((await outboxRows(stack))[0]?.status === "done") break;
      await sleep(50);
    }
    const [row] = await outboxRows(stack);
    assert.deepEqual({ status: row?.status, attempts: row?.attempts }, {
      status: "done",
      attempts: 4,
    });
    assert.deepEqual(receiver.deliveries.map((d) => d.status), [500, 500, 500, 200]);
    assert.deepEqual(new Set(receiver.deliveries.map((d) => d.id)), new Set([row?.message_id]));
    assert.ok(receiver.deliveries.every((d) => d.verified), "every signature verifies");
    assert.ok(id);
  },
);

Deno.test(
  "a receiver that is down: backoff, dead, listed by ops, re-queued, delivered",
  INTEGRATION,
  async () => {
    // Free a moment ago, so nothing listens there (yet): connections are refused.
    const port = freePort();
    await using stack = await startTestStack({
      functionEnv: {
        ...FAST_RETRIES,
        // Long enough that the growth of the wait shows above the time a delivery takes.
        OUTBOX_RETRY_BASE_SECONDS: "1",
        OUTBOX_MAX_ATTEMPTS: "3",
        OUTBOX_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/outbox`,
      },
    });
    const [id] = await enqueueMessages(stack, 1);
    const waits: number[] = [];
    for (let pass = 0; pass < 100; pass++) {
      const summary = await dispatch(stack);
      const [row] = await stack.sql<{ status: string; wait: number }[]>`
        select status, extract(epoch from next_attempt_at - last_attempt_at)::float8 as wait
        from public.outbox`;
      if (summary.retrying === 1) waits.push(row?.wait ?? 0);
      if (row?.status === "dead") break;
      await sleep(30);
    }
    const [dead] = await outboxRows(stack);
    assert.equal(dead?.status, "dead");
    assert.equal(dead?.attempts, 3);
    assert.match(dead?.last_error ?? "", /^attempt 3: /);
    assert.equal(waits.length, 2);
    assert.ok(waits[1]! > waits[0]!, `the wait grows: ${waits}`);

    // The cleanup has run, as pg_cron runs it: ops then speaks only of the outbox.
    await stack.sql`select public.cleanup_expired_idempotency_keys(1000)`;
    const ops = (...args: string[]) => runOps(stack, ...args);
    const report = await ops();
    const text = report.stdout;
    assert.equal(report.code, 1, "something needs a human");
    assert.match(text, new RegExp(`#${id}\\s+order\\.paid`));
    assert.match(text, /Outbox backlog: 0 new, 0 retrying, 0 in flight, 1 dead/);

    const requeued = await ops(`--requeue=${id}`);
    assert.equal(requeued.code, 0, requeued.stderr);
    await using receiver = startReceiver({ port });
    const summary = await dispatch(stack);
    assert.equal(summary.delivered, 1);
    assert.equal(receiver.deliveries[0]?.id, dead?.message_id, "the same id after the re-queue");
    assert.equal((await outboxRows(stack))[0]?.status, "done");
    assert.equal((await ops()).code, 0, "nothing left for a human");
  },
);

Deno.test(
  "two dispatchers in parallel: no message is in flight twice, each delivered once",
  INTEGRATION,
  async () => {
    await using receiver = startReceiver({ delayMs: 20 });
    await using stack = await startTestStack({
      functionEnv: { ...FAST_RETRIES, OUTBOX_WEBHOOK_URL: receiver.url, OUTBOX_CONCURRENCY: "4" },
    });
    await enqueueMessages(stack, 120);
    const summaries = await Promise.all([dispatch(stack), dispatch(stack), dispatch(stack)]);
    assert.equal(summaries.reduce((n, s) => n + Number(s.delivered), 0), 120);
    assert.ok(summaries.filter((s) => Number(s.delivered) > 0).length >= 2, "both worked");
    assert.equal(receiver.deliveries.length, 120);
    assert.equal(new Set(receiver.deliveries.map((d) => d.id)).size, 120);
    assert.equal(receiver.maxConcurrentPerId(), 1);
    assert.ok((await outboxRows(stack)).every((r) => r.status === "done" && r.attempts === 1));
  },
);

Deno.test(
  "a slow receiver times out without holding the other deliveries",
  INTEGRATION,
  async () => {
    await using slow = startReceiver({ delayMs: 1_500 });
    await using stack = await startTestStack({
      functionEnv: {
        ...FAST_RETRIES,
        OUTBOX_WEBHOOK_URL: slow.url,
        OUTBOX_DELIVERY_TIMEOUT_MS: "300",
        OUTBOX_CONCURRENCY: "4",
      },
    });
    await enqueueMessages(stack, 8);
    const started = Date.now();
    const summary = await dispatch(stack);
    const took = Date.now() - started;
    assert.equal(summary.retrying, 8);
    // 8 messages, 4 at a time, 300 ms each: two rounds, not 8 × 1.5 s.
    assert.ok(took < 1_500, `took ${took} ms`);
    assert.ok(
      (await outboxRows(stack)).every((r) => /no answer within 300 ms/.test(r.last_error ?? "")),
    );
  },
);

Deno.test("a signature made with another secret does not verify", () => {
  const message = JSON.stringify({ id: "m1", type: "order.paid" });
  const signature = new Webhook("whsec_" + btoa("another-secret-another-secret!!")).sign(
    "m1",
    new Date(),
    message,
  );
  assert.throws(() =>
    new Webhook(RECEIVER_SECRET).verify(message, {
      "webhook-id": "m1",
      "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
      "webhook-signature": signature,
    })
  );
});
