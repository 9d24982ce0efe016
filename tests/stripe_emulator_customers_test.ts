import assert from "node:assert/strict";
import { stripeRejection, twoItemSessionParams, withEmulator } from "./stripe_emulator_helpers.ts";

Deno.test("customers.search finds customers by metadata and email, newest first", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const user = crypto.randomUUID();
    const first = await stripe.customers.create({
      email: "ada@example.com",
      metadata: { supabase_user_id: user },
    });
    await control.advanceClock(5);
    const second = await stripe.customers.create({
      email: "Ada@Example.com",
      metadata: { supabase_user_id: user, tier: "gold" },
    });
    await stripe.customers.create({
      email: "bob@example.com",
      metadata: { supabase_user_id: crypto.randomUUID() },
    });

    const byUser = await stripe.customers.search({
      query: `metadata['supabase_user_id']:'${user}'`,
    });
    assert.equal(byUser.object, "search_result");
    assert.equal(byUser.url, "/v1/customers/search");
    assert.equal(byUser.has_more, false);
    assert.equal(byUser.next_page, null);
    assert.deepEqual(byUser.data.map((c) => c.id), [second.id, first.id]);
    assert.deepEqual(byUser.data[1]?.metadata, { supabase_user_id: user });

    // `:` on strings is case-insensitive; AND narrows, OR widens, `-` negates.
    const both = await stripe.customers.search({
      query: `email:'ada@example.com' AND metadata['tier']:'gold'`,
    });
    assert.deepEqual(both.data.map((c) => c.id), [second.id]);
    const either = await stripe.customers.search({
      query: `email:"bob@example.com" OR metadata["tier"]:"gold"`,
    });
    assert.equal(either.data.length, 2);
    const notGold = await stripe.customers.search({
      query: `email~'example.com' AND -metadata['tier']:'gold'`,
    });
    assert.equal(notGold.data.length, 2);
    assert.ok(!notGold.data.some((c) => c.id === second.id));
    const none = await stripe.customers.search({ query: `metadata['supabase_user_id']:'nobody'` });
    assert.deepEqual(none.data, []);

    const counters = await control.counters();
    assert.equal(counters.calls["GET /v1/customers/search"], 5);
    assert.equal(counters.calls["GET /v1/customers/:id"], undefined);
  });
});

Deno.test("customers.search pages with limit and next_page, also through auto-pagination", async () => {
  await withEmulator({}, async ({ stripe }) => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await stripe.customers.create({ metadata: { batch: "b1" } })).id);
    }
    const query = `metadata['batch']:'b1'`;
    const page1 = await stripe.customers.search({ query, limit: 2 });
    assert.equal(page1.has_more, true);
    assert.ok(page1.next_page);
    // Created meanwhile: newest first, so it lands before the cursor and shifts nothing.
    await stripe.customers.create({ metadata: { batch: "b1" } });
    const page2 = await stripe.customers.search({ query, limit: 2, page: page1.next_page });
    const page3 = await stripe.customers.search({
      query,
      limit: 2,
      page: page2.next_page ?? undefined,
    });
    assert.equal(page3.has_more, false);
    assert.equal(page3.next_page, null);
    const seen = [...page1.data, ...page2.data, ...page3.data].map((c) => c.id);
    assert.deepEqual(seen, [...created].reverse());

    const all: string[] = [];
    for await (const customer of stripe.customers.search({ query, limit: 2 })) {
      all.push(customer.id);
    }
    assert.equal(all.length, 6);
  });
});

Deno.test("customers.list filters on the exact e-mail, newest first, and pages with starting_after", async () => {
  await withEmulator({}, async ({ stripe }) => {
    const email = `list-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const created: string[] = [];
    for (let i = 0; i < 3; i++) created.push((await stripe.customers.create({ email })).id);
    await stripe.customers.create({ email: email.toUpperCase() });
    await stripe.customers.create({ email: "other@example.com" });
    const newestFirst = created.toReversed();

    const all = await stripe.customers.list({ email, limit: 100 });
    assert.equal(all.object, "list");
    assert.equal(all.url, "/v1/customers");
    assert.equal(all.has_more, false);
    assert.deepEqual(all.data.map((c) => c.id), newestFirst, "case-sensitive, as Stripe's");

    const first = await stripe.customers.list({ email, limit: 2 });
    assert.deepEqual(first.data.map((c) => c.id), newestFirst.slice(0, 2));
    assert.equal(first.has_more, true);
    const rest = await stripe.customers.list({ email, limit: 2, starting_after: created[1] });
    assert.deepEqual(rest.data.map((c) => c.id), newestFirst.slice(2));
    assert.equal(rest.has_more, false);
    const back = await stripe.customers.list({ email, limit: 1, ending_before: created[0] });
    assert.deepEqual(back.data.map((c) => c.id), [created[1]]);
    assert.equal(back.has_more, true);

    const paged: string[] = [];
    for await (const customer of stripe.customers.list({ email, limit: 1 })) {
      paged.push(customer.id);
    }
    assert.deepEqual(paged, newestFirst, "auto-pagination walks every page");
    assert.equal((await stripe.customers.list({ limit: 100 })).data.length, 5);

    const unknown = await stripeRejection(
      stripe.customers.list({ email, starting_after: "cus_nope" }),
    );
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.param, "starting_after");
  });
});

Deno.test("customers.search rejects a malformed query or page with param query/page", async () => {
  await withEmulator({}, async ({ stripe }) => {
    for (
      const query of [
        "metadata['a']",
        "email:'unterminated",
        "colour:'red'",
        "email:'a@b.c' AND name:'x' OR phone:'1'",
        "email~'ab'",
        "",
      ]
    ) {
      const error = await stripeRejection(stripe.customers.search({ query }));
      assert.equal(error.type, "StripeInvalidRequestError", query);
      assert.equal(error.statusCode, 400, query);
      assert.equal(error.param, "query", query);
    }
    const error = await stripeRejection(
      stripe.customers.search({ query: "email:'a@b.c'", page: "garbage" }),
    );
    assert.equal(error.param, "page");
  });
});

/** The emulator clock's `now`, read early in a second so the test's next request shares it. */
async function nowEarlyInASecond(read: () => Promise<{ now: number }>): Promise<number> {
  const intoSecond = Date.now() % 1000;
  if (intoSecond > 300) await new Promise((r) => setTimeout(r, 1000 - intoSecond + 5));
  return (await read()).now;
}

Deno.test("expires_at: exactly 30 minutes and exactly 24 hours pass; one second less or more fails, without grace", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const expectExpiryError = async (expiresAt: number, message: RegExp) => {
      const params = { ...twoItemSessionParams(0, "order-x"), expires_at: expiresAt };
      const error = await stripeRejection(stripe.checkout.sessions.create(params));
      assert.equal(error.type, "StripeInvalidRequestError");
      assert.equal(error.rawType, "invalid_request_error");
      assert.equal(error.statusCode, 400);
      assert.equal(error.param, "expires_at");
      assert.equal(error.code, undefined);
      assert.match(error.message, message);
    };
    let now = await nowEarlyInASecond(() => control.clock());
    await expectExpiryError(now + 30 * 60 - 1, /must be at least 30 minutes from Checkout/);
    now = await nowEarlyInASecond(() => control.clock());
    const atFloor = await stripe.checkout.sessions.create(
      twoItemSessionParams(now, "order-floor", 30 * 60),
    );
    assert.equal(atFloor.expires_at, now + 30 * 60);
    now = await nowEarlyInASecond(() => control.clock());
    await expectExpiryError(now + 24 * 3600 + 1, /must be less than 24 hours from Checkout/);
    now = await nowEarlyInASecond(() => control.clock());
    const atCeiling = await stripe.checkout.sessions.create({
      ...twoItemSessionParams(now, "order-ceiling"),
      expires_at: now + 24 * 3600,
    });
    assert.equal(atCeiling.expires_at, now + 24 * 3600);
    // The rule follows the emulator clock, not the wall clock.
    await control.advanceClock(3600);
    await expectExpiryError(now + 40 * 60, /at least 30 minutes/);
  });
});
