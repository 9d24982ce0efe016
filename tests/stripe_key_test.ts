import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import {
  buildStripeKey,
  isValidStripeKey,
  parseStripeKey,
  StripeKeyError,
} from "../supabase/functions/_shared/checkout-utils.ts";

const lower = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz_".split(""));
const word = fc.string({ unit: lower, minLength: 1, maxLength: 20 });
const operationType = fc.tuple(word, word).map(([r, a]) => `${r}:${a}`);
const stableIdChar = fc.constantFrom(
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".split(""),
);
const stableId = fc.string({ unit: stableIdChar, minLength: 1, maxLength: 128 });
const uuidV4 = fc.uuid({ version: 4 });

Deno.test("parse(build(parts)) returns the parts for every valid key", () => {
  fc.assert(
    fc.property(operationType, stableId, uuidV4, (type, id, uuid) => {
      const key = buildStripeKey({ operationType: type, stableId: id, uuid });
      assert.ok(key.length <= 255);
      assert.deepEqual(parseStripeKey(key), { operationType: type, stableId: id, uuid });
      assert.ok(isValidStripeKey(key));
    }),
  );
});

Deno.test("builds the documented form checkout:create:<order>:<uuid>", () => {
  const order = "0b7c2b8e-1f0a-4c57-9d3e-5b6f7a8c9d0e";
  const uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  assert.equal(
    buildStripeKey({ operationType: "checkout:create", stableId: order, uuid }),
    `checkout:create:${order}:${uuid}`,
  );
});

Deno.test("rejects an operation type that is not <resource>:<action> in lower case", () => {
  const uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  for (
    const bad of ["checkout", "Checkout:create", "checkout:create:x", "check-out:create", ":x"]
  ) {
    assert.throws(
      () => buildStripeKey({ operationType: bad, stableId: "id", uuid }),
      StripeKeyError,
      bad,
    );
  }
});

Deno.test("rejects every stable id outside [A-Za-z0-9_-]{1,128}", () => {
  const uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  fc.assert(
    fc.property(
      fc.oneof(
        fc.constant(""),
        stableId.chain((s) => fc.constantFrom(":", " ", ".", "/", "é", "\n").map((bad) => s + bad)),
        fc.string({ unit: stableIdChar, minLength: 129, maxLength: 200 }),
      ),
      (bad) => {
        assert.throws(
          () => buildStripeKey({ operationType: "checkout:create", stableId: bad, uuid }),
          StripeKeyError,
        );
      },
    ),
  );
});

Deno.test("rejects a last part that is not a lower-case UUID v4", () => {
  for (
    const bad of [
      "3f2504e0-4f89-11d3-9a0c-0305e82c3301", // v1
      "3F2504E0-4F89-41D3-9A0C-0305E82C3301", // upper case
      "3f2504e0-4f89-41d3-7a0c-0305e82c3301", // bad variant
      "3f2504e04f8941d39a0c0305e82c3301",
      "",
    ]
  ) {
    assert.throws(
      () => buildStripeKey({ operationType: "checkout:create", stableId: "x", uuid: bad }),
      StripeKeyError,
    );
  }
});

Deno.test("rejects keys whose total length exceeds 255", () => {
  const uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  const type = `${"a".repeat(60)}:${"b".repeat(40)}`;
  assert.throws(
    () => buildStripeKey({ operationType: type, stableId: "c".repeat(128), uuid }),
    /at most 255/,
  );
});

Deno.test("parse rejects keys without exactly four segments, with the key in the message", () => {
  for (const bad of ["checkout:create:x", "a:b:c:d:e", "plain"]) {
    assert.throws(() => parseStripeKey(bad), (e: Error) => e.message.includes(JSON.stringify(bad)));
    assert.equal(isValidStripeKey(bad), false);
  }
});
