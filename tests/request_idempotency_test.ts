import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import { sqlRpc } from "./sql_rpc.ts";
import {
  type RequestLease,
  withRequestIdempotency,
  type WorkOutcome,
} from "../supabase/functions/_shared/request_idempotency.ts";
import { ApiError, errorResponse, keyInUse } from "../supabase/functions/_shared/errors.ts";
import type { Rpc } from "../supabase/functions/_shared/db.ts";

/**
 * A second user of the wrapper, unrelated to checkout: a "greeting" function whose work
 * is whatever the test makes it. It gets request idempotency by wrapping its handler.
 */
function greetingHandler(rpc: Rpc, work: (lease: RequestLease) => Promise<WorkOutcome>) {
  return async (req: Request): Promise<Response> => {
    try {
      const body = await req.text();
      const fingerprint = Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body))),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      return await withRequestIdempotency(
        { rpc, leaseSeconds: 30, ttlSeconds: 3600 },
        { scope: "greeting", key: req.headers.get("idempotency-key") ?? "", fingerprint },
        work,
        new Headers(),
      );
    } catch (error) {
      return errorResponse(error);
    }
  };
}

const request = (key: string, body = "hello") =>
  new Request("http://local/greeting", {
    method: "POST",
    headers: { "idempotency-key": key },
    body,
  });

Deno.test("request idempotency wraps any handler", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const rpc = sqlRpc(sql);
  const keyRow = async (key: string) =>
    (await sql<{ status: string; response_status: number | null }[]>`
      select status, response_status from public.idempotency_keys
      where scope = 'greeting' and key = ${key}`)[0];
  try {
    await t.step("runs the work once and replays its answer with Idempotent-Replayed", async () => {
      let runs = 0;
      const handler = greetingHandler(rpc, () => {
        runs++;
        return Promise.resolve({ outcome: "answer", status: 201, body: { greeting: runs } });
      });
      const first = await handler(request("k1"));
      assert.equal(first.status, 201);
      assert.equal(first.headers.get("idempotent-replayed"), null);
      const firstText = await first.text();
      const again = await handler(request("k1"));
      assert.equal(again.status, 200, "a replay creates nothing");
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.equal(await again.text(), firstText);
      assert.equal(runs, 1);
    });

    await t.step("refuses the same key with another body with 422", async () => {
      const handler = greetingHandler(
        rpc,
        () => Promise.resolve({ outcome: "answer", status: 201, body: {} }),
      );
      assert.equal((await handler(request("k2"))).status, 201);
      const reused = await handler(request("k2", "goodbye"));
      assert.equal(reused.status, 422);
      assert.equal((await reused.json()).error.code, "idempotency_key_reused");
    });

    await t.step("answers 409 with Retry-After while another request holds the lease", async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => release = resolve);
      let started!: () => void;
      const running = new Promise<void>((resolve) => started = resolve);
      const handler = greetingHandler(rpc, async () => {
        started();
        await held;
        return { outcome: "answer", status: 201, body: {} };
      });
      const first = handler(request("k3"));
      await running;
      const second = await handler(request("k3"));
      assert.equal(second.status, 409);
      assert.equal(second.headers.get("retry-after"), "2");
      assert.equal((await second.json()).error.code, "idempotency_key_in_use");
      release();
      assert.equal((await first).status, 201);
    });

    await t.step("stores a 4xx refusal and releases on a 5xx, an in-use or a crash", async () => {
      const cases: [string, () => Promise<WorkOutcome>, number, string][] = [
        [
          "k4",
          () => Promise.resolve({ outcome: "refused", error: new ApiError("insufficient_stock") }),
          409,
          "completed",
        ],
        [
          "k5",
          () =>
            Promise.resolve({
              outcome: "refused",
              error: new ApiError("stripe_unavailable", { retryAfter: 1 }),
            }),
          503,
          "released",
        ],
        ["k6", () => Promise.resolve({ outcome: "refused", error: keyInUse() }), 409, "released"],
        ["k7", () => Promise.reject(new Error("boom")), 500, "released"],
        ["k8", () => Promise.reject(new ApiError("product_unavailable")), 422, "completed"],
      ];
      for (const [key, work, status, stored] of cases) {
        const response = await greetingHandler(rpc, work)(request(key));
        assert.equal(response.status, status, key);
        await response.body?.cancel();
        assert.equal((await keyRow(key))?.status, stored, key);
      }
      const crash = await greetingHandler(rpc, () => Promise.reject(new Error("secret")))(
        request("k9"),
      );
      assert.deepEqual(await crash.json(), {
        error: { code: "internal_error", message: "Something went wrong on our side." },
      });
      // A released key runs the work again on the retry.
      let ran = false;
      const retry = await greetingHandler(rpc, () => {
        ran = true;
        return Promise.resolve({ outcome: "answer", status: 201, body: {} });
      })(request("k5"));
      assert.equal(retry.status, 201);
      assert.ok(ran);
    });

    await t.step("replays a stored 429 with the Retry-After its body names", async () => {
      const limited = new ApiError("too_many_pending_checkouts", {
        details: { limit: 3, per: "email", retry_after_seconds: 42 },
        retryAfter: 42,
      });
      let runs = 0;
      const handler = greetingHandler(rpc, () => {
        runs++;
        return Promise.resolve({ outcome: "refused", error: limited });
      });
      const first = await handler(request("k429"));
      assert.equal(first.status, 429);
      assert.equal(first.headers.get("retry-after"), "42");
      const firstText = await first.text();
      const again = await handler(request("k429"));
      assert.equal(again.status, 429);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.equal(again.headers.get("retry-after"), "42", "a replayed 429 says when to retry");
      assert.equal(await again.text(), firstText, "the stored body, byte for byte");
      assert.equal(runs, 1);

      // A stored answer naming no retry_after_seconds replays without the header.
      const stock = await greetingHandler(
        rpc,
        () => Promise.resolve({ outcome: "refused", error: new ApiError("insufficient_stock") }),
      )(
        request("k4"),
      );
      assert.equal(stock.headers.get("idempotent-replayed"), "true");
      assert.equal(stock.headers.get("retry-after"), null);
      await stock.body?.cancel();
    });

    await t.step("leaves a key its work already settled alone", async () => {
      const handler = greetingHandler(rpc, async (lease) => {
        // The work's own SQL stores the answer in the transaction of its effect.
        await rpc("complete_idempotency_key", {
          p_scope: lease.scope,
          p_key: lease.key,
          p_lease_token: lease.token,
          p_response_status: 201,
          p_response_body: { stored: "by the work" },
        });
        return { outcome: "stored", status: 201, body: { stored: "by the work" } };
      });
      const response = await handler(request("k10"));
      assert.equal(response.status, 201);
      assert.deepEqual(await response.json(), { stored: "by the work" });
      assert.deepEqual(await keyRow("k10"), { status: "completed", response_status: 201 });
    });
  } finally {
    await sql.end();
    await db.drop();
  }
});
