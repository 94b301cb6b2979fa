// Functions that use the web APIs of Convex's runtime; each returns what the API computed.
import { v } from "convex/values";
import { action, query } from "./_generated/server";

const hex = (buffer: ArrayBuffer) =>
  [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

export const text = query({
  args: {},
  handler: async () => {
    const bytes = new TextEncoder().encode("héllo €𝄞");
    const decoder = new TextDecoder();
    const split = decoder.decode(bytes.subarray(0, 8), { stream: true }) + decoder.decode(bytes.subarray(8));
    let fatal = "";
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff]));
    } catch (e) {
      fatal = (e as Error).name;
    }
    return {
      bytes: Array.from(bytes),
      split,
      lenient: new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62])),
      fatal,
      btoa: btoa("hi there"),
      atob: atob("aGkgdGhlcmU="),
    };
  },
});

export const urls = query({
  args: {},
  handler: async () => {
    const url = new URL("../docs/a b?x=1#top", "https://Example.com:8443/app/page");
    url.searchParams.append("tag", "a&b");
    const params = new URLSearchParams({ q: "convex sim", n: "1" });
    params.sort();
    return {
      href: url.href,
      origin: url.origin,
      pathname: url.pathname,
      x: url.searchParams.get("x"),
      params: params.toString(),
      idn: new URL("https://münchen.de/").hostname,
    };
  },
});

export const objects = query({
  args: {},
  handler: async () => {
    const source = { when: new Date(86400000), nested: { list: [1, 2n] }, map: new Map([["k", 1]]) };
    const copy = structuredClone(source);
    const target = new EventTarget();
    const seen: string[] = [];
    target.addEventListener("ping", (e) => seen.push(`${e.type}:${(e as CustomEventLike).detail ?? ""}`));
    target.dispatchEvent(new Event("ping"));
    const controller = new AbortController();
    controller.signal.addEventListener("abort", () => seen.push("aborted"));
    controller.abort(new Error("stop"));
    const headers = new Headers({ "Content-Type": "text/plain" });
    headers.append("Set-Cookie", "a=1");
    headers.append("Set-Cookie", "b=2");
    const blob = new Blob(["ab", new Uint8Array([99])], { type: "Text/Plain" });
    const form = new FormData();
    form.append("name", "ada");
    form.append("file", new Blob(["file body"], { type: "text/plain" }), "notes.txt");
    const request = new Request("https://x.test/upload", { method: "POST", body: form });
    const back = await request.formData();
    const file = back.get("file") as File;
    let cloneError = "";
    try {
      structuredClone({ f() {} });
    } catch (e) {
      cloneError = (e as Error).name;
    }
    return {
      clone: [copy !== source, copy.when.getTime(), copy.nested.list[1] === 2n, copy.map.get("k")],
      cloneError,
      seen,
      reason: (controller.signal.reason as Error).message,
      aborted: controller.signal.aborted,
      cookies: headers.getSetCookie(),
      contentType: headers.get("content-type"),
      blob: [blob.size, blob.type, await blob.text(), await blob.slice(1).text()],
      form: [back.get("name"), file.name, file.type, await file.text()],
      multipart: request.headers.get("content-type")!.startsWith("multipart/form-data; boundary="),
    };
  },
});
type CustomEventLike = Event & { detail?: string };

export const bodies = action({
  args: {},
  handler: async () => {
    const response = new Response("body text", { headers: { "x-a": "1" } });
    const rebuilt = new Response(response.body, response);  // what Hono's middleware does
    const upper = new TransformStream<string, string>({
      transform(chunk, controller) {
        controller.enqueue(chunk.toUpperCase());
      },
    });
    const source = new ReadableStream<string>({
      start(controller) {
        controller.enqueue("stream ");
        controller.enqueue("of text");
        controller.close();
      },
    });
    const piped = source.pipeThrough(upper).pipeThrough(new TextEncoderStream());
    const viaStream = await new Response(piped).text();
    const decoded: string[] = [];
    const reader = new Blob(["€uro"]).stream().pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      decoded.push(value);
    }
    const json = await new Response(JSON.stringify({ a: [1, 2] })).json();
    const copy = rebuilt.clone();
    return {
      rebuilt: await rebuilt.text(),
      header: rebuilt.headers.get("x-a"),
      used: rebuilt.bodyUsed,
      copy: await copy.text(),
      viaStream,
      decoded: decoded.join(""),
      json,
      buffer: hex(await new Response(new Uint8Array([1, 2, 255])).arrayBuffer()),
      isStream: rebuilt.body instanceof ReadableStream,
    };
  },
});

export const crypto_ = action({
  args: { secret: v.string(), payload: v.string() },
  handler: async (_ctx, { secret, payload }) => {
    const enc = new TextEncoder();
    const key = await crypto.subtle.importKey(
      "raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"],
    );
    const signature = await crypto.subtle.sign("HMAC", key, enc.encode(payload));
    let unsupported = "";
    try {
      await crypto.subtle.encrypt({ name: "AES-GCM" }, key, enc.encode(payload));
    } catch (e) {
      unsupported = `${(e as Error).name}: ${(e as Error).message}`;
    }
    return {
      sha256: hex(await crypto.subtle.digest("SHA-256", enc.encode(payload))),
      sha1: hex(await crypto.subtle.digest({ name: "SHA-1" }, enc.encode(payload))),
      hmac: hex(signature),
      verified: await crypto.subtle.verify("HMAC", key, signature, enc.encode(payload)),
      forged: await crypto.subtle.verify("HMAC", key, signature, enc.encode(payload + "!")),
      uuid: crypto.randomUUID(),
      unsupported,
    };
  },
});

export const fetches = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => {
    const controller = new AbortController();
    controller.abort();
    let aborted = "";
    try {
      await fetch(url, { signal: controller.signal });
    } catch (e) {
      aborted = (e as Error).name;
    }
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("streamed request"));
        c.close();
      },
    });
    const response = await fetch(url, { method: "POST", body, headers: { "x-test": "1" } });
    return { aborted, status: response.status, text: await response.text() };
  },
});
