import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  BEANS,
  callCheckout,
  emulator,
  FILTERS,
  guestBody,
  INTEGRATION,
  KETTLE,
  sessionsCreated,
  stockOf,
  userBody,
} from "./checkout_helpers.ts";

Deno.test("checkout under real concurrency", INTEGRATION, async (t) => {
  await using stack = await startTestStack();

  await t.step(
    "50 concurrent identical requests make 1 order, 1 reservation, 1 session",
    async () => {
      const key = crypto.randomUUID();
      const stock = await stockOf(stack, BEANS);
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => callCheckout(stack, "guest-checkout", { key })),
      );
      const created = answers.filter((a) => a.status === 201);
      const replayed = answers.filter((a) => a.status === 200);
      const busy = answers.filter((a) => a.status === 409);
      assert.equal(created.length, 1, answers.map((a) => a.status).join(","));
      assert.equal(created.length + replayed.length + busy.length, 50);
      for (const a of replayed) {
        assert.equal(a.headers.get("idempotent-replayed"), "true");
        assert.equal(a.text, created[0]?.text);
      }
      for (const a of busy) {
        assert.equal((a.json.error as { code: string }).code, "idempotency_key_in_use");
        assert.match(a.headers.get("retry-after") ?? "", /^\d+$/);
      }
      const orders = await stack.sql`select id from public.orders where idempotency_key = ${key}`;
      assert.equal(orders.length, 1);
      assert.equal(await stockOf(stack, BEANS), (stock ?? 0) - 2, "stock reserved once");
      assert.equal(await sessionsCreated(stack), 1);

      // Once the first has finished, every retry gets the stored response.
      const retries = await Promise.all(
        Array.from({ length: 10 }, () => callCheckout(stack, "guest-checkout", { key })),
      );
      for (const r of retries) {
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("idempotent-replayed"), "true");
        assert.equal(r.text, created[0]?.text);
      }
    },
  );

  await t.step("20 concurrent carts for a product with stock 5: exactly 5 succeed", async () => {
    await stack.sql`update public.products set stock = 5 where id = ${KETTLE}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        callCheckout(stack, "guest-checkout", {
          body: guestBody({
            email: `buyer${i}@example.com`,
            // Different carts: each also takes a different quantity of filters.
            items: [{ product_id: KETTLE, quantity: 1 }, { product_id: FILTERS, quantity: i + 1 }],
          }),
        })),
    );
    const ok = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 409);
    assert.equal(ok.length, 5, answers.map((a) => a.status).join(","));
    assert.equal(refused.length, 15);
    for (const a of refused) {
      const error = a.json.error as { code: string; details: { items: { product_id: string }[] } };
      assert.equal(error.code, "insufficient_stock");
      assert.deepEqual(error.details.items.map((i) => i.product_id), [KETTLE]);
    }
    assert.equal(await stockOf(stack, KETTLE), 0);
    const [never] = await stack.sql`select count(*)::int as n from public.products where stock < 0`;
    assert.equal(never?.n, 0);
  });

  await t.step(
    "two concurrent first checkouts of a new user create one Stripe Customer",
    async () => {
      const sub = crypto.randomUUID();
      const token = await stack.mintUserToken({ sub, email: "first@example.com" });
      const before = (await emulator(stack).counters()).created.customer;
      const answers = await Promise.all([
        callCheckout(stack, "enhanced-checkout", { token, body: userBody() }),
        callCheckout(stack, "enhanced-checkout", {
          token,
          body: userBody({ items: [{ product_id: FILTERS, quantity: 1 }] }),
        }),
      ]);
      for (const a of answers) assert.equal(a.status, 201, a.text);
      assert.equal((await emulator(stack).counters()).created.customer - before, 1);
      const customers = await stack.sql<{ stripe_customer_id: string }[]>`
      select distinct stripe_customer_id from public.orders where user_id = ${sub}`;
      assert.equal(customers.length, 1);
    },
  );
});
