import assert from "node:assert/strict";
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import { decodeJwt } from "npm:jose@6.2.17";
import { startTestStack, type TestStack } from "./harness.ts";
import { SchemaCache } from "../local/stack/schema_cache.ts";
import { waitUntil } from "./checkout_helpers.ts";

/**
 * The gateway's PostgREST-compatible RPC endpoint, called through supabase-js `.rpc()` as the
 * functions do, against SQL functions created in the test's own database (not migrations).
 */

const TEST_FUNCTIONS = `
  create type public.t_pair as (id integer, label text);

  create function public.t_add(a integer, b integer default 10) returns integer
    language sql as $$ select a + b $$;
  create function public.t_null() returns integer language sql as $$ select null::integer $$;
  create function public.t_text(s text) returns text language sql as $$ select upper(s) $$;
  create function public.t_composite(id integer) returns public.t_pair
    language sql as $$ select id, 'label-' || id $$;
  create function public.t_setof(n integer) returns setof public.t_pair
    language sql as $$ select g, 'x' || g from generate_series(1, n) g $$;
  create function public.t_setof_scalar(n integer) returns setof integer
    language sql as $$ select generate_series(1, n) $$;
  create function public.t_table(n integer) returns table (num integer, square integer)
    language sql as $$ select g, g * g from generate_series(1, n) g $$;
  create function public.t_table_one(n integer) returns table (num integer)
    language sql as $$ select generate_series(1, n) $$;
  create function public.t_out(n integer, out doubled integer, out label text)
    language sql as $$ select n * 2, 'n=' || n $$;
  create table public.t_log (id serial primary key, note text not null);
  create function public.t_void(note text) returns void
    language plpgsql as $$ begin insert into public.t_log (note) values (note); end $$;
  create function public.t_jsonb(payload jsonb) returns jsonb
    language sql as $$ select jsonb_build_object('echo', payload, 'kind', jsonb_typeof(payload)) $$;
  create function public.t_types(id uuid, tags text[], at timestamptz, amount numeric)
    returns jsonb language sql as $$
      select jsonb_build_object('id', id, 'tags', tags, 'year', extract(year from at)::int,
                                'amount', amount * 2)
    $$;
  create function public.t_single(body jsonb) returns jsonb
    language sql as $$ select body $$;
  create function public.t_whoami() returns jsonb language sql stable as $$
    select jsonb_build_object('uid', auth.uid(), 'role', auth.role(), 'db_role', current_user,
                              'email', auth.jwt() ->> 'email')
  $$;
  create function public.t_service_only() returns text language sql as $$ select 'secret' $$;
  revoke execute on function public.t_service_only() from public, anon, authenticated;
  grant execute on function public.t_service_only() to service_role;

  create function public.t_raise(kind text) returns void language plpgsql as $$
  begin
    case kind
      when 'unique' then
        raise unique_violation using message = 'duplicate key', detail = 'Key (k)=(1) exists.',
          hint = 'pick another';
      when 'foreign_key' then raise foreign_key_violation using message = 'no parent';
      when 'raise' then raise exception 'plain raise' using detail = 'the detail', hint = 'the hint';
      when 'privilege' then raise insufficient_privilege using message = 'not for you';
      when 'connection' then raise sqlstate '08006' using message = 'connection failure';
      when 'resources' then raise sqlstate '53200' using message = 'out of memory';
      when 'config_limit' then raise sqlstate '53400' using message = 'config limit';
      when 'too_complex' then raise sqlstate '54001' using message = 'statement too complex';
      when 'serialization' then raise sqlstate '40001' using message = 'could not serialize';
      when 'undefined_function' then raise sqlstate '42883' using message = 'no such function';
      when 'read_only' then raise sqlstate '25006' using message = 'read only';
      when 'internal' then raise sqlstate 'XX000' using message = 'internal';
      when 'plpgsql' then raise sqlstate 'P0002' using message = 'no data found';
      when 'division' then perform 1 / 0;
      when 'custom' then
        raise sqlstate 'PT402' using message = 'Payment Required', detail = 'Quota exceeded',
          hint = 'Upgrade your plan';
      when 'pgrst' then
        raise sqlstate 'PGRST' using
          message = '{"code":"123","message":"Payment Required","details":"Quota exceeded"}',
          detail = '{"status":402,"headers":{"X-Powered-By":"Nerd Rage"}}';
      else raise exception 'unknown kind %', kind;
    end case;
  end $$;
`;

async function stackWithTestFunctions(): Promise<TestStack> {
  // No functions and no emulator: these tests only need the gateway and Postgres.
  const stack = await startTestStack({ functions: [], stripeApiBase: "http://127.0.0.1:9" });
  await stack.sql.unsafe(TEST_FUNCTIONS);
  return stack;
}

function client(stack: TestStack, key = stack.anonKey) {
  return createClient(stack.apiUrl, key, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

Deno.test("rpc encodes every return shape as PostgREST does", async () => {
  await using stack = await stackWithTestFunctions();
  const db = client(stack);

  const scalar = await db.rpc("t_add", { a: 1, b: 2 });
  assert.equal(scalar.error, null);
  assert.equal(scalar.status, 200);
  assert.equal(scalar.data, 3);

  assert.equal((await db.rpc("t_add", { a: 1 })).data, 11, "the default of b is honoured");
  assert.equal((await db.rpc("t_text", { s: "abc" })).data, "ABC");

  const nullScalar = await db.rpc("t_null");
  assert.equal(nullScalar.status, 200);
  assert.equal(nullScalar.data, null);

  assert.deepEqual((await db.rpc("t_composite", { id: 7 })).data, { id: 7, label: "label-7" });
  assert.deepEqual((await db.rpc("t_out", { n: 4 })).data, { doubled: 8, label: "n=4" });

  assert.deepEqual((await db.rpc("t_setof", { n: 2 })).data, [
    { id: 1, label: "x1" },
    { id: 2, label: "x2" },
  ]);
  assert.deepEqual((await db.rpc("t_setof", { n: 0 })).data, []);
  assert.deepEqual((await db.rpc("t_setof_scalar", { n: 3 })).data, [1, 2, 3]);
  assert.deepEqual((await db.rpc("t_table", { n: 2 })).data, [
    { num: 1, square: 1 },
    { num: 2, square: 4 },
  ]);
  assert.deepEqual((await db.rpc("t_table_one", { n: 2 })).data, [{ num: 1 }, { num: 2 }]);
  assert.deepEqual((await db.rpc("t_setof", { n: 1 }).single()).data, { id: 1, label: "x1" });

  const voidCall = await db.rpc("t_void", { note: "hello" });
  assert.equal(voidCall.error, null);
  assert.equal(voidCall.status, 204, "PostgREST answers a void function with 204 No Content");
  assert.equal(voidCall.data, null);
  assert.deepEqual([...await stack.sql`select note from public.t_log`], [{ note: "hello" }]);

  const payload = { nested: { list: [1, "two", null], flag: true } };
  assert.deepEqual((await db.rpc("t_jsonb", { payload })).data, { echo: payload, kind: "object" });
  assert.deepEqual((await db.rpc("t_jsonb", { payload: [1, 2] })).data, {
    echo: [1, 2],
    kind: "array",
  });
});

Deno.test("rpc casts JSON arguments to the declared parameter types", async () => {
  await using stack = await stackWithTestFunctions();
  const id = crypto.randomUUID();
  const { data, error } = await client(stack).rpc("t_types", {
    id,
    tags: ["a", "b"],
    at: "2026-03-04T05:06:07Z",
    amount: "12.5",
  });
  assert.equal(error, null);
  assert.deepEqual(data, { id, tags: ["a", "b"], year: 2026, amount: 25.0 });

  const bad = await client(stack).rpc("t_types", {
    id: "not-a-uuid",
    tags: [],
    at: "2026-01-01",
    amount: 1,
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.error?.code, "22P02");
});

Deno.test("rpc answers an unknown function or unknown arguments with 404 PGRST202", async () => {
  await using stack = await stackWithTestFunctions();
  const missing = await client(stack).rpc("t_missing");
  assert.equal(missing.status, 404);
  assert.equal(missing.error?.code, "PGRST202");
  const wrongArgs = await client(stack).rpc("t_add", { a: 1, nope: 2 });
  assert.equal(wrongArgs.status, 404);
  assert.equal(wrongArgs.error?.code, "PGRST202");
  const missingRequired = await client(stack).rpc("t_add", { b: 2 });
  assert.equal(missingRequired.status, 404);
  assert.equal(missingRequired.error?.code, "PGRST202");
});

Deno.test("rpc maps SQLSTATEs to PostgREST's HTTP statuses", async () => {
  await using stack = await stackWithTestFunctions();
  const user = await stack.mintUserToken({ sub: crypto.randomUUID() });
  const cases: [kind: string, status: number, code: string, key?: string][] = [
    ["unique", 409, "23505"],
    ["foreign_key", 409, "23503"],
    ["raise", 400, "P0001"],
    ["privilege", 401, "42501"],
    ["privilege", 403, "42501", user],
    ["connection", 503, "08006"],
    ["resources", 503, "53200"],
    ["config_limit", 500, "53400"],
    ["too_complex", 500, "54001"],
    ["serialization", 500, "40001"],
    ["undefined_function", 404, "42883"],
    ["read_only", 405, "25006"],
    ["internal", 500, "XX000"],
    ["plpgsql", 500, "P0002"],
    ["division", 400, "22012"],
    ["custom", 402, "PT402"],
  ];
  for (const [kind, status, code, key] of cases) {
    const result = await client(stack, key).rpc("t_raise", { kind });
    assert.equal(result.status, status, `${kind} (${code}) → ${status}`);
    assert.equal(result.error?.code, code, kind);
  }
  const raised = await client(stack).rpc("t_raise", { kind: "unique" });
  assert.deepEqual(raised.error, {
    code: "23505",
    message: "duplicate key",
    details: "Key (k)=(1) exists.",
    hint: "pick another",
  });
  const custom = await client(stack).rpc("t_raise", { kind: "custom" });
  assert.deepEqual(custom.error, {
    code: "PT402",
    message: "Payment Required",
    details: "Quota exceeded",
    hint: "Upgrade your plan",
  });

  const pgrst = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_raise`, {
    method: "POST",
    headers: { apikey: stack.anonKey, "content-type": "application/json" },
    body: JSON.stringify({ kind: "pgrst" }),
  });
  assert.equal(pgrst.status, 402);
  assert.equal(pgrst.headers.get("x-powered-by"), "Nerd Rage");
  assert.deepEqual(await pgrst.json(), {
    code: "123",
    message: "Payment Required",
    details: "Quota exceeded",
    hint: null,
  });
});

Deno.test("rpc runs as the role in the JWT and exposes its claims to auth.*", async () => {
  await using stack = await stackWithTestFunctions();
  const anon = await client(stack).rpc("t_whoami");
  assert.deepEqual(anon.data, { uid: null, role: "anon", db_role: "anon", email: null });

  const id = crypto.randomUUID();
  const token = await stack.mintUserToken({ sub: id, email: "ada@example.com" });
  const user = await client(stack, token).rpc("t_whoami");
  assert.deepEqual(user.data, {
    uid: id,
    role: "authenticated",
    db_role: "authenticated",
    email: "ada@example.com",
  });

  const service = await client(stack, stack.serviceRoleKey).rpc("t_whoami");
  assert.equal((service.data as { db_role: string }).db_role, "service_role");

  // No key at all is anon too, as PostgREST with an anonymous role configured.
  const bare = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_whoami`, { method: "POST" });
  assert.equal(bare.status, 200);
  assert.equal((await bare.json()).role, "anon");
});

Deno.test("rpc refuses a function granted only to service_role to anon and users", async () => {
  await using stack = await stackWithTestFunctions();
  const anon = await client(stack).rpc("t_service_only");
  assert.equal(anon.status, 401);
  assert.equal(anon.error?.code, "42501");
  const token = await stack.mintUserToken({ sub: crypto.randomUUID() });
  const user = await client(stack, token).rpc("t_service_only");
  assert.equal(user.status, 403);
  const service = await client(stack, stack.serviceRoleKey).rpc("t_service_only");
  assert.equal(service.error, null);
  assert.equal(service.data, "secret");
});

Deno.test("rpc rejects bad, expired and wrongly signed tokens with 401 PGRST301", async () => {
  await using stack = await stackWithTestFunctions();
  const expired = await stack.mintUserToken({ sub: crypto.randomUUID(), expiresInSeconds: -60 });
  const foreign = await (await startForeignSigner()).mint();
  for (
    const [label, token, message] of [
      ["garbage", "not.a.jwt", undefined],
      ["expired", expired, "JWT expired"],
      ["wrong secret", foreign, undefined],
    ] as const
  ) {
    const result = await client(stack, token).rpc("t_whoami");
    assert.equal(result.status, 401, label);
    assert.equal(result.error?.code, "PGRST301", label);
    if (message) assert.equal(result.error?.message, message);
  }
});

Deno.test("rpc reuses a verified token only until it expires", async () => {
  await using stack = await stackWithTestFunctions();
  const token = await stack.mintUserToken({ sub: crypto.randomUUID(), expiresInSeconds: 1 });
  const first = await client(stack, token).rpc("t_whoami");
  assert.equal(first.status, 200, "valid: verified, then remembered");
  assert.equal((await client(stack, token).rpc("t_whoami")).status, 200);
  const exp = decodeJwt(token).exp ?? 0;
  await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
  const expired = await client(stack, token).rpc("t_whoami");
  assert.equal(expired.status, 401);
  assert.equal(expired.error?.message, "JWT expired");
});

Deno.test("rpc accepts GET with query arguments and Prefer: params=single-object", async () => {
  await using stack = await stackWithTestFunctions();
  const get = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_add?a=2&b=3`, {
    headers: { apikey: stack.anonKey },
  });
  assert.equal(get.status, 200);
  assert.equal(await get.json(), 5);

  const single = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_single`, {
    method: "POST",
    headers: {
      apikey: stack.anonKey,
      "content-type": "application/json",
      prefer: "params=single-object",
    },
    body: JSON.stringify({ any: ["shape"], at: 1 }),
  });
  assert.equal(single.status, 200);
  assert.deepEqual(await single.json(), { any: ["shape"], at: 1 });

  const invalid = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_add`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{not json",
  });
  assert.equal(invalid.status, 400);
  assert.equal((await invalid.json()).code, "PGRST102");
});

Deno.test("rpc runs GET read-only: a function that writes gets 405, POST still writes", async () => {
  await using stack = await stackWithTestFunctions();
  const get = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_void?note=via-get`, {
    headers: { apikey: stack.anonKey },
  });
  assert.equal(get.status, 405);
  assert.equal((await get.json()).code, "25006");

  const post = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_void`, {
    method: "POST",
    headers: { apikey: stack.anonKey, "content-type": "application/json" },
    body: JSON.stringify({ note: "via-post" }),
  });
  await post.body?.cancel();
  assert.equal(post.status, 204);
  assert.deepEqual([...await stack.sql`select note from public.t_log`], [{ note: "via-post" }]);
});

Deno.test("rpc answers CORS preflights like Supabase's API gateway", async () => {
  await using stack = await stackWithTestFunctions();
  const response = await fetch(`${stack.apiUrl}/rest/v1/rpc/t_add`, {
    method: "OPTIONS",
    headers: {
      origin: "http://localhost:3000",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, apikey, content-type, x-client-info",
    },
  });
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("access-control-allow-origin"), "http://localhost:3000");
  assert.match(response.headers.get("access-control-allow-methods") ?? "", /POST/);
  assert.match(response.headers.get("access-control-allow-headers") ?? "", /apikey/);
  assert.equal(stack.counters.rpc(), 0, "a preflight is not a call");
});

Deno.test("rpc serves 50 concurrent calls, each in its own transaction and role", async () => {
  await using stack = await stackWithTestFunctions();
  const users = await Promise.all(
    Array.from({ length: 10 }, async () => {
      const id = crypto.randomUUID();
      return { id, token: await stack.mintUserToken({ sub: id }) };
    }),
  );
  stack.counters.reset();
  const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    if (i % 2 === 0) return { i, result: await client(stack).rpc("t_add", { a: i, b: i }) };
    const user = users[i % users.length];
    assert.ok(user);
    return { i, user, result: await client(stack, user.token).rpc("t_whoami") };
  }));
  for (const { i, user, result } of results) {
    assert.equal(result.error, null);
    if (user) assert.equal((result.data as { uid: string }).uid, user.id, `call ${i}`);
    else assert.equal(result.data, 2 * i, `call ${i}`);
  }
  assert.equal(stack.counters.rpc("t_add"), 25);
  assert.equal(stack.counters.rpc("t_whoami"), 25);
  assert.equal(stack.counters.rpc(), 50);
});

Deno.test("rpc calls a function created after start at once: a miss reloads the cache", async () => {
  await using stack = await stackWithTestFunctions();
  const db = client(stack);
  assert.equal((await db.rpc("t_text", { s: "abc" })).data, "ABC");
  await stack.sql.unsafe(`
    create function public.t_late(n integer) returns integer language sql as $$ select n + 1 $$;
    create function public.t_text(s text, suffix text) returns text
      language sql as $$ select upper(s) || suffix $$;`);
  assert.equal((await db.rpc("t_late", { n: 41 })).data, 42, "a new name");
  const overload = await db.rpc("t_text", { s: "abc", suffix: "!" });
  assert.equal(overload.error, null);
  assert.equal(overload.data, "ABC!", "new arguments of a known name");
  assert.equal((await db.rpc("t_text", { s: "abc" })).data, "ABC", "the old overload stays");
});

Deno.test("rpc reloads its schema cache on NOTIFY pgrst, 'reload schema'", async () => {
  await using stack = await stackWithTestFunctions();
  const db = client(stack);
  await stack.sql.unsafe(
    `create function public.t_shape() returns integer language sql as $$ select 7 $$`,
  );
  assert.equal((await db.rpc("t_shape")).data, 7);
  // Same name and arguments, another result shape: no miss, so the cache answers stale, as
  // PostgREST's does, until it is told to reload.
  await stack.sql.unsafe(`
    drop function public.t_shape();
    create function public.t_shape() returns setof integer
      language sql as $$ select generate_series(7, 8) $$;`);
  assert.equal((await db.rpc("t_shape")).data, 7, "still the cached scalar signature");
  await stack.sql.unsafe(`notify pgrst, 'reload schema'`);
  await waitUntil("the cache has the reloaded signature", async () => {
    const { data } = await db.rpc("t_shape");
    return JSON.stringify(data) === "[7,8]";
  });
  // Other payloads on the channel (PostgREST's 'reload config') leave the cache alone.
  await stack.sql.unsafe(`
    drop function public.t_shape();
    create function public.t_shape() returns integer language sql as $$ select 9 $$;
    notify pgrst, 'reload config';`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual((await db.rpc("t_shape")).data, [9], "9 read through the cached setof shape");
});

Deno.test("the schema cache loads once at start and shares concurrent reloads", async () => {
  await using stack = await stackWithTestFunctions();
  const cache = await SchemaCache.start(stack.sql, "public");
  assert.equal(cache.loads, 1);
  assert.equal(cache.signatures("t_add")[0]?.shape, "scalar");
  assert.deepEqual(cache.signatures("t_add")[0]?.args.map((arg) => [arg.name, arg.hasDefault]), [
    ["a", false],
    ["b", true],
  ]);
  assert.deepEqual(cache.signatures("t_missing"), []);
  await stack.sql.unsafe(
    `create function public.t_new() returns integer language sql as $$ select 1 $$`,
  );
  await Promise.all(Array.from({ length: 20 }, () => cache.reload()));
  // One load may already run when the others arrive; they all wait for the one after it.
  assert.ok(cache.loads <= 3, `20 concurrent reloads took ${cache.loads - 1} loads`);
  assert.equal(cache.signatures("t_new")[0]?.shape, "scalar", "a reload sees what came before it");
});

Deno.test("rpc passes quotes, backslashes and unicode through as sent", async () => {
  await using stack = await stackWithTestFunctions();
  const tricky = `O'Brien \\ \\' '' \\n $$ ; select 1; -- 日本 \u{1F600}`;
  const id = crypto.randomUUID();
  const token = await stack.mintUserToken({ sub: id, email: tricky });
  const { data, error } = await client(stack, token).rpc("t_text", { s: tricky });
  assert.equal(error, null);
  assert.equal(data, tricky.toUpperCase());
  const who = await client(stack, token).rpc("t_whoami");
  assert.equal((who.data as { email: string }).email, tricky, "claims reach auth.jwt() intact");
  const echo = await client(stack).rpc("t_jsonb", { payload: { [tricky]: [tricky] } });
  assert.deepEqual(echo.data, { echo: { [tricky]: [tricky] }, kind: "object" });
});

/** A token signed with another secret, as a forged or foreign-project token would be. */
async function startForeignSigner() {
  const { mintUserToken } = await import("../local/stack/jwt.ts");
  return {
    mint: () =>
      mintUserToken(
        { sub: crypto.randomUUID() },
        "another-secret-that-is-at-least-32-characters-long",
      ),
  };
}
