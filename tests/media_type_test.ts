import assert from "node:assert/strict";
import { isUtf8Label, parseMediaType } from "../supabase/functions/_shared/media_type.ts";

Deno.test("parseMediaType lowercases the essence and names, and unquotes values", () => {
  assert.deepEqual(parseMediaType(' Application/JSON ; Charset="UTF-8"; q=a\\b'), {
    essence: "application/json",
    parameters: [{ name: "charset", value: "UTF-8" }, { name: "q", value: null }],
  });
  assert.deepEqual(parseMediaType("application/json"), {
    essence: "application/json",
    parameters: [],
  });
});

Deno.test("parseMediaType keeps a ; inside quotes and every repeated parameter", () => {
  assert.deepEqual(
    parseMediaType('application/json; a="x;y\\"z"; charset=utf-8;; charset=utf-16').parameters,
    [
      { name: "a", value: 'x;y"z' },
      { name: "charset", value: "utf-8" },
      { name: "charset", value: "utf-16" },
    ],
  );
});

Deno.test("parseMediaType marks a malformed value null", () => {
  for (const raw of ["", '"utf-8', '"utf-8"x', "utf 8", "utf-8,text/html"]) {
    assert.deepEqual(parseMediaType(`application/json; charset=${raw}`).parameters, [
      { name: "charset", value: null },
    ], raw);
  }
  assert.deepEqual(parseMediaType("application/json; charset").parameters, [
    { name: "charset", value: null },
  ]);
});

Deno.test("isUtf8Label accepts the Encoding Standard's UTF-8 labels only", () => {
  for (const label of ["utf-8", "UTF-8", "utf8", "unicode-1-1-utf-8"]) {
    assert.ok(isUtf8Label(label), label);
  }
  for (const label of ["utf-16", "utf-16le", "latin1", "iso-8859-1", "us-ascii", "utf-8x", ""]) {
    assert.ok(!isUtf8Label(label), label);
  }
});
