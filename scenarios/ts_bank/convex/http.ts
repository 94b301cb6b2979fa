import { httpRouter } from "convex/server";
import { api } from "./_generated/api";
import { httpAction } from "./_generated/server";

const http = httpRouter();

http.route({
  path: "/webhook",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const { author, body } = await request.json();
    const id = await ctx.runMutation(api.messages.send, {
      author,
      body,
      channel: "webhook",
    });
    return new Response(JSON.stringify({ ok: true, id }), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  }),
});

const hello = httpAction(async (_ctx, request) => {
  const url = new URL(request.url);
  const name = url.searchParams.get("name") ?? "world";
  return new Response(`hello ${name} from ${url.pathname}`, {
    status: 200,
    headers: { "content-type": "text/plain" },
  });
});

// Exact path: matches only `/hello`.
http.route({ path: "/hello", method: "GET", handler: hello });
// Prefix: matches `/hello/`, `/hello/ann`, `/hello/a/b`, ...
http.route({ pathPrefix: "/hello/", method: "GET", handler: hello });

export default http;
