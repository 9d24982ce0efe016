/**
 * A TCP port that was free a moment ago on 127.0.0.1. The small race (someone else may
 * take it before we bind) is accepted: callers that can bind port 0 themselves should.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
