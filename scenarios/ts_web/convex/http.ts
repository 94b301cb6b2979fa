// HTTP routes as a Hono app, mounted with convex-helpers' HttpRouterWithHono as real apps do.
import { HttpRouterWithHono, type HonoWithConvex } from "convex-helpers/server/hono";
import { Hono } from "hono";
import { streamText } from "hono/streaming";
import { api } from "./_generated/api";
import type { ActionCtx } from "./_generated/server";

const app: HonoWithConvex<ActionCtx> = new Hono();

// A middleware that sets a header after the handler: Hono then rebuilds the Response from
// `res.body`, the stream (an engine without Response.body sent an empty body here).
app.use("*", async (c, next) => {
  await next();
  c.header("x-powered-by", "hono");
});

app.get("/hello/:name", (c) => c.text(`hello ${c.req.param("name")}`));

app.get("/json", (c) =>
  c.json({ ok: true, q: c.req.query("q") ?? null, tags: c.req.queries("tag") ?? [] }, 201, {
    "x-custom": "yes",
  }),
);

app.post("/notes", async (c) => {
  const { text } = await c.req.json<{ text: string }>();
  const id = await c.env.runMutation(api.notes.add, { text });
  const count = await c.env.runQuery(api.notes.count, {});
  return c.json({ id, count, length: text.length });
});

app.post("/form", async (c) => {
  const body = await c.req.parseBody();
  const file = body["file"];
  return c.json({
    name: body["name"],
    file: file instanceof File ? { name: file.name, type: file.type, text: await file.text() } : null,
  });
});

app.get("/stream", (c) =>
  streamText(c, async (stream) => {
    await stream.write("one ");
    await stream.write("two ");
    await stream.writeln("three");
  }),
);

app.get("/raw", () => {
  // A body produced by a stream the app builds itself, read to the end before sending.
  const parts = ["streamed ", "by ", "hand"];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = parts.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
  });
  return new Response(body, { status: 202, headers: { "content-type": "text/plain" } });
});

app.get("/bad-stream", () => {
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue("not bytes");
      controller.close();
    },
  });
  return new Response(body);
});

app.notFound((c) => c.text(`nothing at ${c.req.path}`, 404));

export default new HttpRouterWithHono(app);
