/** The emulator as one `Request → Response` handler: API, hosted page and control API. */
import { injectedError } from "./errors.ts";
import { handleControl } from "./control.ts";
import { handleCheckoutPage } from "./hosted.ts";
import { handleApiRequest } from "./pipeline.ts";
import type { EmulatorState } from "./state.ts";

export function createHandler(
  state: EmulatorState,
  secretKey: string | undefined,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const path = new URL(request.url).pathname;
    try {
      if (path.startsWith("/v1/")) return await handleApiRequest(state, request, secretKey);
      const page = /^\/c\/pay\/([^/]+)$/.exec(path);
      if (page) return await handleCheckoutPage(state, request, decodeURIComponent(page[1] ?? ""));
      if (path.startsWith("/_emulator/")) return await handleControl(state, request, path);
      if (path === "/" || path === "/health") {
        return Response.json({ ok: true, emulator: "stripe", url: state.baseUrl });
      }
      return Response.json({
        error: { type: "invalid_request_error", message: `Unrecognized path ${path}` },
      }, { status: 404 });
    } catch (error) {
      // The one place unknown errors become a response: a bare Stripe api_error, details only in the log.
      state.log(
        `unhandled error on ${request.method} ${path}: ${
          error instanceof Error ? error.stack : String(error)
        }`,
      );
      return Response.json(injectedError(500).toBody(), { status: 500 });
    }
  };
}
