/**
 * The demo shop, mounted on the local gateway through `extraRoutes` (local stack only, never
 * deployed). It serves the shop's files at their repository paths (`/client/*.js`,
 * `/local/demo/*`), so the browser resolves the same relative imports `deno check` does, and
 * two dev-only endpoints: the publishable key the page needs, and an ES256 access token for the
 * demo user, signed with the stack's signing key as Supabase Auth would.
 */
import { PROJECT_ROOT } from "../stack/paths.ts";

/** What the demo needs from a running stack (a `Stack` fits). */
export interface DemoBackend {
  publishableKey: string;
  mintUserToken(opts: { sub: string; email?: string }): Promise<string>;
}

export interface DemoRoutes {
  /** For `extraRoutes`: undefined for every path the demo does not own. */
  handle(request: Request): Promise<Response | undefined>;
  /** The stack exists only after the gateway (and so this handler) started. */
  attach(backend: DemoBackend): void;
}

/** Fixed, so repeated sign-ins reuse one Stripe Customer (enhanced checkout). */
export const DEMO_USER = {
  id: "00000000-0000-4000-8000-00000000de30",
  email: "demo@example.com",
} as const;

const PAGES: Record<string, string> = {
  "/": "local/demo/shop.html",
  "/success": "local/demo/success.html",
};
/** Only these folders, only plain file names: nothing else on disk is reachable. */
const ASSET = /^\/(client|local\/demo)\/([a-z_]+\.(?:js|css))$/;
const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
};

export function createDemoRoutes(): DemoRoutes {
  let backend: DemoBackend | undefined;

  async function handle(request: Request): Promise<Response | undefined> {
    const { pathname } = new URL(request.url);
    const page = PAGES[pathname];
    const asset = ASSET.exec(pathname);
    if (request.method === "GET" && (page || asset)) {
      return await serveFile(page ?? `${asset?.[1]}/${asset?.[2]}`);
    }
    // Browsers ask for it on every page; a 404 would be noise in every console.
    if (pathname === "/favicon.ico") return new Response(null, { status: 204 });
    if (pathname === "/local/demo/config.json" && request.method === "GET") {
      if (!backend) return notReady();
      return Response.json(
        { publishableKey: backend.publishableKey, demoUser: DEMO_USER },
        noStore(),
      );
    }
    if (pathname === "/local/demo/token" && request.method === "POST") {
      if (!backend) return notReady();
      const token = await backend.mintUserToken({ sub: DEMO_USER.id, email: DEMO_USER.email });
      return Response.json({ access_token: token, user: DEMO_USER }, noStore());
    }
    return undefined;
  }

  return {
    handle,
    attach: (next) => {
      backend = next;
    },
  };
}

async function serveFile(path: string): Promise<Response> {
  const extension = path.slice(path.lastIndexOf(".") + 1);
  try {
    const body = await Deno.readFile(`${PROJECT_ROOT}/${path}`);
    // no-store: an edited file shows on reload, and tests never see a stale script.
    return new Response(body, {
      headers: {
        "content-type": TYPES[extension] ?? "application/octet-stream",
        ...noStore().headers,
      },
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Response("Not Found", { status: 404 });
    throw error;
  }
}

function noStore(): { headers: Record<string, string> } {
  return { headers: { "cache-control": "no-store" } };
}

function notReady(): Response {
  return Response.json({ error: { code: "starting", message: "the local stack is starting" } }, {
    status: 503,
    headers: { "retry-after": "1" },
  });
}
