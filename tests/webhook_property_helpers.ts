/**
 * Shared by the webhook property tests: applying events straight through the SQL
 * function, delivering them in concurrent batches as Stripe would, and the fast-check
 * arbitrary that picks a scenario and an interleaving with duplicates.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import type postgres from "npm:postgres@3.4.9";

export async function applyEvent(sql: postgres.Sql, payload: string): Promise<string> {
  const [row] = await sql<{ outcome: string }[]>`
    select (public.apply_stripe_event(${payload}::text::jsonb)).outcome`;
  if (!row) throw new Error("no outcome");
  return row.outcome;
}

/** Delivers batches concurrently; an in-flight answer is retried later, as Stripe would. */
export async function deliverBatches(sql: postgres.Sql, batches: string[][]): Promise<void> {
  let retries: string[] = [];
  for (const batch of [...batches]) {
    const outcomes = await Promise.all(batch.map((payload) => applyEvent(sql, payload)));
    outcomes.forEach((outcome, i) => {
      assert.notEqual(outcome, "failed");
      if (outcome === "in_flight") retries.push(batch[i] ?? "");
    });
  }
  while (retries.length > 0) {
    const again = retries;
    retries = [];
    for (const payload of again) {
      if ((await applyEvent(sql, payload)) === "in_flight") retries.push(payload);
    }
  }
}

export interface Delivery {
  scenario: number;
  extra: number[];
  keys: number[];
  batchSizes: number[];
}

/** A scenario (by index) and a way to deliver its n events: duplicates, order, batches. */
export function deliveryArbitrary(scenarioLengths: number[]): fc.Arbitrary<Delivery> {
  return fc.integer({ min: 0, max: scenarioLengths.length - 1 }).chain((scenario) => {
    const n = scenarioLengths[scenario] ?? 1;
    return fc.record({
      scenario: fc.constant(scenario),
      extra: fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 2 * n }),
      // Sort keys give any permutation; batch sizes group deliveries that run concurrently.
      keys: fc.array(fc.double({ noNaN: true }), { minLength: 3 * n, maxLength: 3 * n }),
      batchSizes: fc.array(fc.integer({ min: 1, max: 4 }), {
        minLength: 3 * n,
        maxLength: 3 * n,
      }),
    });
  });
}

/** The events in the delivery's order, duplicates included, cut into concurrent batches. */
export function interleave(events: string[], delivery: Delivery): string[][] {
  const indices = [...events.keys(), ...delivery.extra]
    .map((index, i) => ({ index, key: delivery.keys[i] ?? 0 }))
    .sort((a, b) => a.key - b.key)
    .map((d) => events[d.index] ?? "");
  const batches: string[][] = [];
  for (let i = 0, b = 0; i < indices.length; b++) {
    const size = delivery.batchSizes[b] ?? 1;
    batches.push(indices.slice(i, i + size));
    i += size;
  }
  return batches;
}
