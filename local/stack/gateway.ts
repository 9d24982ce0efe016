import { bearerToken, verifyJwt } from "./jwt.ts";
import type { RpcHandler } from "./rpc.ts";

/**
 * The one HTTP entry point with Supabase's URL layout: `/functions/v1/<name>` (verify_jwt
 * gate, then proxied to that function's process), `/rest/v1/rpc/<fn>` (PostgREST-compatible
 * RPC), `GET /auth/v1/.well-known/jwks.json` (the public signing keys), `GET /health`.
 * `extraRoutes` is tried first: dev serves the demo shop (local/demo) through it.
 */

export interface FunctionTargets {
  /** Every function the stack serves, started or not. */
  names(): string[];
  /** Base URL of the running process (once a restart in progress is done), or undefined. */
  url(name: string): string | undefined | Promise<string | undefined>;
  verifyJwt(name: string): boolean;
  /** Whether the process is up and answering (for /health). */
  answers(name: string): Promise<boolean>;
  /** The supervisor's view of the process (state, restarts, last exit), for /health. */
  report?(name: string): unknown;
}

export interface GatewayOptions {
  /** 0 lets the OS choose. */
  port: number;
  hostname?: string;
  /** Legacy HS256 secret: the verify_jwt gate understands nothing else, like the platform's. */
  jwtSecret: string;
  /** The public signing keys, served where Supabase Auth serves them. */
  jwks: { keys: unknown[] };
  /** Origins whose browsers may read /rest/v1 answers (CORS); the stack's ALLOWED_ORIGINS. */
  allowedOrigins: () => readonly string[];
  rpc: RpcHandler;
  functions: FunctionTargets;
  onFunctionCall?: (name: string) => void;
  /** No log line when a function process cannot be reached. */
  quiet?: boolean;
  /** Tried first; return undefined to fall through to the built-in routes (e.g. a demo page at `/`). */
  extraRoutes?: (request: Request) => Response | undefined | Promise<Response | undefined>;
}

export interface Gateway {
  url: string;
  port: number;
  shutdown(): Promise<void>;
}

const FUNCTION_ROUTE = /^\/functions\/v1\/([^/]+)(\/.*)?$/;
const RPC_ROUTE = /^\/rest\/v1\/rpc\/([^/]+)\/?$/;
export const JWKS_ROUTE = "/auth/v1/.well-known/jwks.json";
/** Hop-by-hop headers (RFC 9110 §7.6.1) and ones the proxy must recompute. */
const HOP_HEADERS = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "content-length",
];
/** What Supabase's API gateway allows on /rest/v1 when the preflight names nothing. */
const DEFAULT_ALLOWED_HEADERS =
  "authorization, x-client-info, apikey, content-type, prefer, accept-profile, content-profile, range";

export function startGateway(options: GatewayOptions): Promise<Gateway> {
  const handler = createGatewayHandler(options);
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise((resolve) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname,
        port: options.port,
        onListen: (addr) => {
          const port = addr.port;
          resolve({
            url: `http://127.0.0.1:${port}`,
            port,
            shutdown: () => server.shutdown(),
          });
        },
      }, handler);
    } catch (error) {
      // Deno's own message ("Address already in use (os error 98)") names neither the port
      // nor the setting that picks it.
      if (error instanceof Deno.errors.AddrInUse) {
        throw new Error(
          `the gateway cannot listen on ${hostname}:${options.port}: the port is already in ` +
            `use; stop what holds it or set PORT to another port (0 picks a free one)`,
          { cause: error },
        );
      }
      throw error;
    }
  });
}

export function createGatewayHandler(
  options: GatewayOptions,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    if (options.extraRoutes) {
      const response = await options.extraRoutes(request);
      if (response) return response;
    }
    const functionMatch = FUNCTION_ROUTE.exec(url.pathname);
    if (functionMatch?.[1]) {
      return await routeFunction(
        options,
        request,
        decodeURIComponent(functionMatch[1]),
        functionMatch[2] ?? "",
      );
    }
    if (url.pathname === JWKS_ROUTE && (request.method === "GET" || request.method === "HEAD")) {
      // Supabase lets the edge cache it for ten minutes; a rotation shows within that time.
      return new Response(JSON.stringify(options.jwks), {
        headers: { "Content-Type": "application/json", "Cache-Control": "public, max-age=600" },
      });
    }
    if (url.pathname.startsWith("/rest/v1/")) {
      const origins = options.allowedOrigins();
      if (request.method === "OPTIONS") return preflight(request, origins);
      const rpcMatch = RPC_ROUTE.exec(url.pathname);
      const response = rpcMatch?.[1]
        ? await options.rpc(request, decodeURIComponent(rpcMatch[1]))
        : json(404, {
          code: "PGRST205",
          message: "Only /rest/v1/rpc/<function> is served by the local stack",
          details: null,
          hint: "Functions reach the database through RPC only",
        });
      return withCors(request, response, origins);
    }
    if (url.pathname === "/health" && (request.method === "GET" || request.method === "HEAD")) {
      return await health(options.functions);
    }
    return json(404, {
      code: "not_found",
      message: `no route for ${request.method} ${url.pathname}`,
    });
  };
}

async function routeFunction(
  options: GatewayOptions,
  request: Request,
  name: string,
  rest: string,
): Promise<Response> {
  if (!options.functions.names().includes(name)) {
    return json(404, { code: "NOT_FOUND", message: "Requested function was not found" });
  }
  options.onFunctionCall?.(name);
  // Preflights carry no Authorization header, so Supabase lets them through to the function.
  if (request.method !== "OPTIONS" && options.functions.verifyJwt(name)) {
    const rejection = await checkJwt(request.headers, options.jwtSecret);
    if (rejection) return json(401, { code: 401, message: rejection });
  }
  const base = await options.functions.url(name);
  if (!base) return functionDown(name);
  const url = new URL(request.url);
  // Supabase hands the function its path without the /functions/v1 prefix.
  const target = `${base}/${encodeURIComponent(name)}${rest}${url.search}`;
  const headers = new Headers(request.headers);
  for (const header of HOP_HEADERS) headers.delete(header);
  // The client-facing server compresses; an encoded upstream body would be decoded by fetch.
  headers.set("accept-encoding", "identity");
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
  const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
  try {
    const upstream = await fetch(target, {
      method: request.method,
      headers,
      body: hasBody ? request.body : undefined,
      redirect: "manual",
      // No request.signal on purpose: a client that gives up (a timeout) must not cancel the
      // work it started, as on Supabase, where the function runs on regardless.
    });
    const responseHeaders = new Headers(upstream.headers);
    for (const header of HOP_HEADERS) responseHeaders.delete(header);
    return new Response(upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: responseHeaders,
    });
  } catch (error) {
    if (!options.quiet) {
      console.error(`[gateway] ${name}: ${error instanceof Error ? error.message : error}`);
    }
    return functionDown(name);
  }
}

/** Supabase's messages: `Missing authorization header`, `Invalid JWT`. */
async function checkJwt(headers: Headers, secret: string): Promise<string | undefined> {
  const token = bearerToken(headers);
  if (token === undefined) return "Missing authorization header";
  if (token === "") return "Auth header is not 'Bearer {token}'";
  const result = await verifyJwt(token, secret);
  return result.ok ? undefined : "Invalid JWT";
}

function functionDown(name: string): Response {
  return json(503, {
    code: "BOOT_ERROR",
    message: `Function ${name} is not running (please check logs)`,
  });
}

async function health(functions: FunctionTargets): Promise<Response> {
  const names = functions.names();
  const states = await Promise.all(names.map((name) => functions.answers(name)));
  const report = Object.fromEntries(names.map((name, i) => [name, states[i] ? "up" : "down"]));
  const ok = states.every(Boolean);
  const processes = functions.report &&
    Object.fromEntries(names.map((name) => [name, functions.report?.(name)]));
  return json(ok ? 200 : 503, { status: ok ? "ok" : "starting", functions: report, processes });
}

function preflight(request: Request, origins: readonly string[]): Response {
  const cors = corsHeaders(request, origins);
  if (!cors) return new Response(null, { status: 200, headers: { "Vary": "Origin" } });
  return new Response(null, {
    status: 200,
    headers: {
      ...cors,
      "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
      "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers") ??
        DEFAULT_ALLOWED_HEADERS,
      "Access-Control-Max-Age": "3600",
    },
  });
}

function withCors(request: Request, response: Response, origins: readonly string[]): Response {
  const headers = new Headers(response.headers);
  headers.append("Vary", "Origin");
  for (const [name, value] of Object.entries(corsHeaders(request, origins) ?? {})) {
    headers.set(name, value);
  }
  return new Response(response.body, { status: response.status, headers });
}

/**
 * CORS for an allowed origin only: the legacy JWT secret of a dev stack is public knowledge, so
 * a page on any other origin must not read what it could make the API answer.
 */
function corsHeaders(
  request: Request,
  origins: readonly string[],
): Record<string, string> | undefined {
  const origin = request.headers.get("origin");
  if (origin === null || !origins.includes(origin)) return undefined;
  return {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Expose-Headers": "Content-Range, Content-Location",
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}
