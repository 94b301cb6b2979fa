// Web APIs of Convex's runtime that neither the engine nor the npm polyfills (webapi.py) give:
// atob/btoa, TextEncoder/TextDecoder and their streams, Blob, File, FormData, Headers, Request,
// Response (bodies as bytes or as ReadableStreams), AbortController/AbortSignal and
// crypto.subtle (digest and HMAC, computed by Python through __py_crypto). Evaluated after
// the polyfills and before prelude.js, which takes globalThis.__csWeb (what fetch and the
// HTTP syscalls need) and deletes it. What is not here fails with an error naming it.
(function () {
  "use strict";
  const g = globalThis;
  const pyCrypto = g.__py_crypto;
  delete g.__py_crypto;

  // Whether a lazily loaded polyfill global (entry.js) was loaded: if not, nothing can be an
  // instance of it, and testing `instanceof` would load it for nothing.
  function loaded(name) {
    const d = Object.getOwnPropertyDescriptor(g, name);
    return d !== undefined && "value" in d;
  }
  const isStream = (x) => loaded("ReadableStream") && x instanceof g.ReadableStream;
  const isParams = (x) => loaded("URLSearchParams") && x instanceof g.URLSearchParams;

  // --- base64 ----------------------------------------------------------------------------
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  function b64encode(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] +
        (i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=") + (i + 2 < bytes.length ? B64[n & 63] : "=");
    }
    return out;
  }
  function b64decode(text) {
    const clean = text.replace(/[^A-Za-z0-9+/]/g, "");
    const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
    let n = 0, bits = 0, j = 0;
    for (let i = 0; i < clean.length; i++) {
      n = (n << 6) | B64.indexOf(clean[i]);
      bits += 6;
      if (bits >= 8) { bits -= 8; out[j++] = (n >> bits) & 255; }
    }
    return out.subarray(0, j);
  }

  function btoa(text) {
    const s = String(text);
    if (/[^\u0000-\u00ff]/.test(s)) throw new DOMException("btoa: the string has characters outside Latin1", "InvalidCharacterError");
    return b64encode(Uint8Array.from(s, (c) => c.charCodeAt(0)));
  }
  function atob(text) {
    const s = String(text).replace(/[\t\n\f\r ]/g, "");
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/=]/.test(s) || /=[^=]/.test(s) || /={3}/.test(s)) {
      throw new DOMException("atob: the string is not correctly encoded", "InvalidCharacterError");
    }
    const bytes = b64decode(s);
    let out = "";
    for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return out;
  }

  // --- text ------------------------------------------------------------------------------
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(text = "") {
      const s = String(text), out = [];
      for (let i = 0; i < s.length; i++) {
        let c = s.codePointAt(i);
        if (c > 0xffff) i++;
        if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return new Uint8Array(out);
    }
    encodeInto(text, dest) {
      const s = String(text);
      let read = 0, written = 0;
      for (const ch of s) {
        const bytes = this.encode(ch);
        if (written + bytes.length > dest.length) break;
        dest.set(bytes, written);
        written += bytes.length;
        read += ch.length;
      }
      return { read, written };
    }
  }
  function view(input) {
    if (input === undefined || input === null) return new Uint8Array(0);
    if (input instanceof Uint8Array) return input;
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError("The provided value is not of type '(ArrayBuffer or ArrayBufferView)'");
  }
  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      if (!/^\s*(utf-?8|unicode-1-1-utf-8)\s*$/i.test(String(label))) {
        throw new RangeError(`TextDecoder: the encoding "${label}" is not supported by convex-sim (only utf-8).`);
      }
      this.fatal = Boolean(options.fatal);
      this.ignoreBOM = Boolean(options.ignoreBOM);
      this._pending = new Uint8Array(0);
      this._started = false;
    }
    get encoding() { return "utf-8"; }
    decode(input, options = {}) {
      let b = view(input);
      if (this._pending.length) b = concat([this._pending, b]);
      this._pending = new Uint8Array(0);
      const stream = Boolean(options.stream);
      const units = [];
      let out = "", i = 0;
      const bad = () => {
        if (this.fatal) throw new TypeError("The encoded data was not valid for encoding utf-8");
        units.push(0xfffd);
      };
      if (!this._started && !this.ignoreBOM && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
      if (b.length > 0) this._started = stream;
      while (i < b.length) {
        if (units.length > 8192) { out += String.fromCharCode(...units); units.length = 0; }
        const c = b[i];
        if (c < 0x80) { units.push(c); i++; continue; }
        const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
        if (need === 0) { bad(); i++; continue; }
        let cp = c & (0x3f >> need), j = 1;
        for (; j <= need && i + j < b.length; j++) {
          const x = b[i + j];
          const lo = j === 1 && c === 0xe0 ? 0xa0 : j === 1 && c === 0xf0 ? 0x90 : 0x80;
          const hi = j === 1 && c === 0xed ? 0x9f : j === 1 && c === 0xf4 ? 0x8f : 0xbf;
          if (x < lo || x > hi) break;
          cp = (cp << 6) | (x & 0x3f);
        }
        if (j <= need) {
          if (i + j === b.length && stream) { this._pending = b.slice(i); break; }
          bad(); i += j; continue;
        }
        if (cp > 0xffff) { cp -= 0x10000; units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff)); }
        else units.push(cp);
        i += need + 1;
      }
      if (!stream) this._started = false;
      return out + String.fromCharCode(...units);
    }
  }
  const encoder = new TextEncoder(), decoder = new TextDecoder();

  // TextEncoderStream / TextDecoderStream: TransformStreams (streams load on first use).
  class TextEncoderStream {
    constructor() {
      const t = new g.TransformStream({ transform(chunk, c) { const b = encoder.encode(chunk); if (b.length) c.enqueue(b); } });
      this.readable = t.readable; this.writable = t.writable;
    }
    get encoding() { return "utf-8"; }
  }
  class TextDecoderStream {
    constructor(label = "utf-8", options = {}) {
      const d = new TextDecoder(label, options);
      const t = new g.TransformStream({
        transform(chunk, c) { const s = d.decode(chunk, { stream: true }); if (s) c.enqueue(s); },
        flush(c) { const s = d.decode(); if (s) c.enqueue(s); },
      });
      this.readable = t.readable; this.writable = t.writable;
      this.encoding = "utf-8"; this.fatal = d.fatal; this.ignoreBOM = d.ignoreBOM;
    }
  }

  // --- bytes, Blob, File, FormData ---------------------------------------------------------
  function toBytes(part) {
    if (part instanceof Blob) return part._bytes;
    if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) return view(part);
    return encoder.encode(String(part));
  }
  function concat(parts) {
    const chunks = parts.map(toBytes);
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  }
  class Blob {
    constructor(parts = [], options = {}) {
      this._bytes = concat(Array.from(parts));
      this.type = options.type && !/[^\u0020-\u007e]/.test(options.type) ? String(options.type).toLowerCase() : "";
    }
    get size() { return this._bytes.length; }
    async arrayBuffer() { return this._bytes.slice().buffer; }
    async text() { return decoder.decode(this._bytes); }
    async bytes() { return this._bytes.slice(); }
    stream() { return bytesStream(this._bytes); }
    slice(start = 0, end = this._bytes.length, type = "") { return new Blob([this._bytes.slice(start, end)], { type }); }
    get [Symbol.toStringTag]() { return "Blob"; }
  }
  class File extends Blob {
    constructor(parts, name, options = {}) {
      super(parts, options);
      this.name = String(name);
      this.lastModified = options.lastModified === undefined ? Date.now() : Number(options.lastModified);
    }
    get [Symbol.toStringTag]() { return "File"; }
  }
  class FormData {
    constructor(form) {
      if (form !== undefined) throw new TypeError("FormData: no HTML forms here; construct it empty and append.");
      this._list = [];
    }
    static _entry(name, value, filename) {
      if (!(value instanceof Blob)) return [String(name), String(value)];
      const file = value instanceof File && filename === undefined ? value
        : new File([value], filename === undefined ? (value instanceof File ? value.name : "blob") : filename, { type: value.type });
      return [String(name), file];
    }
    append(name, value, filename) { this._list.push(FormData._entry(name, value, filename)); }
    set(name, value, filename) {
      const entry = FormData._entry(name, value, filename);
      const i = this._list.findIndex((e) => e[0] === entry[0]);
      this.delete(entry[0]);
      this._list.splice(i < 0 ? this._list.length : i, 0, entry);
    }
    get(name) { const e = this._list.find((x) => x[0] === String(name)); return e ? e[1] : null; }
    getAll(name) { return this._list.filter((x) => x[0] === String(name)).map((x) => x[1]); }
    has(name) { return this._list.some((x) => x[0] === String(name)); }
    delete(name) { this._list = this._list.filter((x) => x[0] !== String(name)); }
    entries() { return this._list.map((e) => [e[0], e[1]])[Symbol.iterator](); }
    keys() { return this._list.map((e) => e[0])[Symbol.iterator](); }
    values() { return this._list.map((e) => e[1])[Symbol.iterator](); }
    forEach(fn, self) { for (const [k, v] of this._list) fn.call(self, v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "FormData"; }
  }
  let boundaries = 0;
  function multipart(form) {
    const boundary = `----convex-sim-formdata-${(++boundaries).toString(16).padStart(8, "0")}`;
    const quote = (s) => s.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");
    const parts = [];
    for (const [name, value] of form) {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"`;
      if (value instanceof File) {
        head += `; filename="${quote(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}`;
      }
      parts.push(`${head}\r\n\r\n`, value instanceof File ? value._bytes : value.replace(/\r?\n|\r/g, "\r\n"), "\r\n");
    }
    parts.push(`--${boundary}--\r\n`);
    return { bytes: concat(parts), type: `multipart/form-data; boundary=${boundary}` };
  }
  function parseMultipart(bytes, contentType) {
    const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
    if (m === null) throw new TypeError("formData(): multipart/form-data without a boundary");
    const latin1 = (b) => { let s = ""; for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192)); return s; };
    const text = latin1(bytes), delimiter = `--${m[1] || m[2]}`, form = new FormData();
    const sections = text.split(delimiter);
    if (sections.length < 3) throw new TypeError("formData(): the multipart body has no parts");
    for (const section of sections.slice(1, -1)) {
      const split = section.indexOf("\r\n\r\n");
      if (split < 0) throw new TypeError("formData(): a multipart part has no header end");
      const head = section.slice(2, split), raw = section.slice(split + 4, section.length - 2);
      const name = /name="([^"]*)"/i.exec(head), file = /filename="([^"]*)"/i.exec(head);
      const type = /content-type:\s*([^\r\n]+)/i.exec(head);
      if (name === null) throw new TypeError("formData(): a multipart part has no name");
      const value = Uint8Array.from(raw, (c) => c.charCodeAt(0));
      const decode = (s) => decoder.decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));
      if (file === null) form.append(decode(name[1]), decoder.decode(value));
      else form.append(decode(name[1]), new File([value], decode(file[1]), { type: type ? type[1] : "" }));
    }
    return form;
  }

  // --- streams of bytes ----------------------------------------------------------------------
  // A stream made from known bytes remembers them while nobody has read from it, so that a
  // body handed on unread (`new Response(other.body)`) stays bytes and needs no async read.
  const SOURCE = Symbol("convex-sim bytes");
  function bytesStream(bytes) {
    const source = { bytes, pulled: false };
    const stream = new g.ReadableStream({
      pull(c) { source.pulled = true; if (bytes.length) c.enqueue(bytes.slice()); c.close(); },
    }, { highWaterMark: 0 });
    stream[SOURCE] = source;
    return stream;
  }
  function unreadBytes(stream) {
    const source = stream[SOURCE];
    if (source === undefined || source.pulled || stream.locked) return null;
    stream.getReader();  // the stream is taken, as reading it would take it
    return source.bytes;
  }
  async function readAll(stream) {
    const bytes = unreadBytes(stream);
    if (bytes !== null) return bytes;
    const reader = stream.getReader(), chunks = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return concat(chunks);
      if (!(value instanceof Uint8Array)) {
        throw new TypeError(`A body stream gave a chunk that is not a Uint8Array: ${Object.prototype.toString.call(value)}`);
      }
      chunks.push(value);
    }
  }

  // --- Headers, Request, Response --------------------------------------------------------
  class Headers {
    constructor(init) {
      this._map = new Map();
      this._cookies = [];
      if (init instanceof Headers) init = [...init._map, ...init._cookies.map((c) => ["set-cookie", c])];
      if (init) for (const [k, v] of (Symbol.iterator in Object(init) ? init : Object.entries(init))) this.append(k, v);
    }
    append(k, v) {
      const key = String(k).toLowerCase(), value = String(v).trim();
      if (key === "set-cookie") { this._cookies.push(value); return; }
      this._map.set(key, this._map.has(key) ? `${this._map.get(key)}, ${value}` : value);
    }
    set(k, v) { this.delete(k); this.append(k, v); }
    get(k) {
      const key = String(k).toLowerCase();
      if (key === "set-cookie") return this._cookies.length ? this._cookies.join(", ") : null;
      const v = this._map.get(key);
      return v === undefined ? null : v;
    }
    getSetCookie() { return this._cookies.slice(); }
    has(k) { const key = String(k).toLowerCase(); return key === "set-cookie" ? this._cookies.length > 0 : this._map.has(key); }
    delete(k) { const key = String(k).toLowerCase(); if (key === "set-cookie") this._cookies = []; else this._map.delete(key); }
    entries() {
      const all = [...this._map.entries(), ...this._cookies.map((c) => ["set-cookie", c])];
      return all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[Symbol.iterator]();
    }
    keys() { return [...this.entries()].map((e) => e[0])[Symbol.iterator](); }
    values() { return [...this.entries()].map((e) => e[1])[Symbol.iterator](); }
    forEach(fn, self) { for (const [k, v] of this.entries()) fn.call(self, v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
  }
  // A body as bytes, or as a stream of bytes; sets the content type its kind implies.
  function extractBody(body, headers) {
    const type = (t) => { if (t && !headers.has("content-type")) headers.set("content-type", t); };
    if (body === undefined || body === null) return { bytes: null, stream: null };
    if (typeof body === "string") { type("text/plain;charset=UTF-8"); return { bytes: encoder.encode(body), stream: null }; }
    if (isStream(body)) {
      const bytes = unreadBytes(body);
      return bytes === null ? { bytes: null, stream: body } : { bytes, stream: null };
    }
    if (body instanceof FormData) { const m = multipart(body); type(m.type); return { bytes: m.bytes, stream: null }; }
    if (isParams(body)) { type("application/x-www-form-urlencoded;charset=UTF-8"); return { bytes: encoder.encode(body.toString()), stream: null }; }
    if (body instanceof Blob) { type(body.type); return { bytes: body._bytes, stream: null }; }
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { bytes: view(body).slice(), stream: null };
    if (typeof body === "object" && (Symbol.asyncIterator in body || typeof body.getReader === "function")) {
      throw new TypeError("convex-sim cannot use this body: pass a string, bytes, Blob, FormData, URLSearchParams or ReadableStream.");
    }
    type("text/plain;charset=UTF-8");
    return { bytes: encoder.encode(String(body)), stream: null };  // as the spec: String(body)
  }
  class Body {
    _setBody(body, headers) {
      const { bytes, stream } = extractBody(body, headers);
      this._bytes = bytes; this._stream = stream; this._used = false;
    }
    get body() {
      if (this._stream === null && this._bytes !== null) this._stream = bytesStream(this._bytes);
      return this._stream;
    }
    get bodyUsed() { return this._used || (this._stream !== null && this._stream.locked); }
    async _take() {
      if (this.bodyUsed) throw new TypeError("Body is unusable: Body has already been read");
      this._used = true;
      if (this._stream !== null) return readAll(this._stream);
      return this._bytes === null ? new Uint8Array(0) : this._bytes;
    }
    async arrayBuffer() { return (await this._take()).slice().buffer; }
    async bytes() { return (await this._take()).slice(); }
    async text() { return decoder.decode(await this._take()); }
    async json() { return JSON.parse(await this.text()); }
    async blob() { return new Blob([await this._take()], { type: this.headers.get("content-type") || "" }); }
    async formData() {
      const type = this.headers.get("content-type") || "";
      if (/^multipart\/form-data/i.test(type)) return parseMultipart(await this._take(), type);
      if (/^application\/x-www-form-urlencoded/i.test(type)) {
        const form = new FormData();
        for (const [k, v] of new g.URLSearchParams(await this.text())) form.append(k, v);
        return form;
      }
      throw new TypeError(`formData(): the body's content type is "${type}", not multipart/form-data or application/x-www-form-urlencoded`);
    }
    _cloneBody() {
      if (this.bodyUsed) throw new TypeError("clone(): the body has already been read");
      if (this._stream === null) return this._bytes;
      const source = this._stream[SOURCE];
      if (source !== undefined && !source.pulled) return source.bytes;
      const [a, b] = this._stream.tee();
      this._stream = a;
      return b;
    }
  }
  class Request extends Body {
    constructor(input, init = {}) {
      super();
      const from = input instanceof Request ? input : null;
      this.url = from ? from.url : new g.URL(String(input)).href;
      this.method = String(init.method || (from ? from.method : "GET")).toUpperCase();
      this.headers = new Headers(init.headers || (from ? from.headers : undefined));
      this.redirect = init.redirect || (from ? from.redirect : "follow");
      this.signal = init.signal || (from ? from.signal : new AbortController().signal);
      const body = init.body !== undefined ? init.body : from ? from._cloneBody() : null;
      if (body !== null && (this.method === "GET" || this.method === "HEAD")) {
        throw new TypeError("Request with GET/HEAD method cannot have body.");
      }
      this._setBody(body, this.headers);
    }
    clone() { return new Request(this); }
  }
  class Response extends Body {
    constructor(body = null, init = {}) {
      super();
      this.status = init.status === undefined ? 200 : Number(init.status);
      if (this.status !== 0 && (this.status < 200 || this.status > 599)) {
        throw new RangeError(`Response: status ${init.status} is not in the range 200 to 599.`);
      }
      this.statusText = init.statusText === undefined ? "" : String(init.statusText);
      this.headers = new Headers(init.headers);
      this._setBody(body, this.headers);
      this.url = "";
      this.redirected = false;
      this.type = "default";
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() {
      const copy = new Response(this._cloneBody(), this);
      copy.url = this.url;
      return copy;
    }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(JSON.stringify(data), { ...init, headers });
    }
    static error() { const r = new Response(null, { status: 0 }); r.type = "error"; return r; }
    static redirect(url, status = 302) { return new Response(null, { status, headers: { location: new g.URL(String(url)).href } }); }
  }

  // --- AbortController, AbortSignal --------------------------------------------------------
  const abortError = () => new DOMException("This operation was aborted", "AbortError");
  class AbortSignal extends g.EventTarget {
    constructor(key) {
      if (key !== SOURCE) throw new TypeError("Illegal constructor");
      super();
      this.aborted = false; this.reason = undefined; this.onabort = null;
    }
    throwIfAborted() { if (this.aborted) throw this.reason; }
    _abort(reason) {
      if (this.aborted) return;
      this.aborted = true;
      this.reason = reason === undefined ? abortError() : reason;
      const event = new g.Event("abort");
      if (typeof this.onabort === "function") this.onabort.call(this, event);
      this.dispatchEvent(event);
    }
    static abort(reason) { const s = new AbortSignal(SOURCE); s._abort(reason); return s; }
    static timeout(ms) {  // a virtual timer: only in actions, as setTimeout
      const s = new AbortSignal(SOURCE);
      g.setTimeout(() => s._abort(new DOMException("The operation timed out.", "TimeoutError")), ms);
      return s;
    }
    static any(signals) {
      const s = new AbortSignal(SOURCE);
      for (const other of signals) {
        if (other.aborted) { s._abort(other.reason); break; }
        other.addEventListener("abort", () => s._abort(other.reason), { once: true });
      }
      return s;
    }
  }
  class AbortController {
    constructor() { this.signal = new AbortSignal(SOURCE); }
    abort(reason) { this.signal._abort(reason); }
  }

  // --- crypto.subtle: digest and HMAC, computed by Python (hashlib, hmac) ------------------
  const HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  function notSupported(what) {
    return new DOMException(`${what} is not supported by convex-sim (crypto.subtle has digest with SHA-1/256/384/512, and HMAC importKey/generateKey/sign/verify/exportKey).`, "NotSupportedError");
  }
  function hashName(h) {
    const name = String(typeof h === "object" && h !== null ? h.name : h).toUpperCase();
    if (!HASHES.includes(name)) throw notSupported(`crypto.subtle hash "${name}"`);
    return name;
  }
  function hmacAlgorithm(a) {
    const name = typeof a === "object" && a !== null ? a.name : a;
    if (String(name).toUpperCase() !== "HMAC") throw notSupported(`crypto.subtle algorithm "${name}"`);
    return a;
  }
  class CryptoKey {
    constructor(key, hash, extractable, usages) {
      Object.defineProperty(this, "_key", { value: key });
      this.type = "secret"; this.extractable = extractable;
      this.algorithm = { name: "HMAC", hash: { name: hash }, length: key.length * 8 };
      this.usages = Array.from(usages);
    }
  }
  function mac(key, data) {
    return b64decode(pyCrypto("hmac", key.algorithm.hash.name, b64encode(key._key), b64encode(view(data))));
  }
  const subtle = {
    async digest(algorithm, data) {
      return b64decode(pyCrypto("digest", hashName(algorithm), "", b64encode(view(data)))).slice().buffer;
    },
    async importKey(format, keyData, algorithm, extractable, usages) {
      hmacAlgorithm(algorithm);
      let raw;
      if (format === "raw") raw = view(keyData).slice();
      else if (format === "jwk" && keyData.kty === "oct") raw = b64decode(keyData.k.replace(/-/g, "+").replace(/_/g, "/"));
      else throw notSupported(`crypto.subtle.importKey format "${format}"`);
      return new CryptoKey(raw, hashName(algorithm.hash), Boolean(extractable), usages);
    },
    async generateKey(algorithm, extractable, usages) {
      hmacAlgorithm(algorithm);
      const hash = hashName(algorithm.hash);
      const bits = algorithm.length || (hash === "SHA-384" || hash === "SHA-512" ? 1024 : 512);
      return new CryptoKey(g.crypto.getRandomValues(new Uint8Array(bits / 8)), hash, Boolean(extractable), usages);
    },
    async exportKey(format, key) {
      if (!key.extractable) throw new DOMException("key is not extractable", "InvalidAccessError");
      if (format !== "raw") throw notSupported(`crypto.subtle.exportKey format "${format}"`);
      return key._key.slice().buffer;
    },
    async sign(algorithm, key, data) {
      hmacAlgorithm(algorithm);
      if (!key.usages.includes("sign")) throw new DOMException("key cannot sign", "InvalidAccessError");
      return mac(key, data).slice().buffer;
    },
    async verify(algorithm, key, signature, data) {
      hmacAlgorithm(algorithm);
      if (!key.usages.includes("verify")) throw new DOMException("key cannot verify", "InvalidAccessError");
      const expected = mac(key, data), given = view(signature);
      let diff = expected.length ^ given.length;
      for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ (given[i] || 0);
      return diff === 0;
    },
  };
  for (const name of ["encrypt", "decrypt", "deriveBits", "deriveKey", "wrapKey", "unwrapKey"]) {
    subtle[name] = async () => { throw notSupported(`crypto.subtle.${name}`); };
  }

  // --- HTTP: fetch's and the HTTP router's side ---------------------------------------------
  function responseFromJson(r) {
    const response = new Response(r.body === null ? null : b64decode(r.body), {
      status: r.status, statusText: r.statusText || "", headers: r.headers,
    });
    response.url = r.url || "";
    return response;
  }
  // A request's body bytes for fetch (a streamed body is read to the end first).
  async function requestBytes(request) {
    if (request._stream !== null) return readAll(request._stream);
    return request._bytes;
  }
  // convexJsonFromResponse is synchronous: a streamed body is read afterwards, and its
  // placeholder replaced by finishHttp before the response reaches Python.
  const streamedBodies = new Map();
  let streamedSeq = 0;
  function responseToJson(response) {
    if (!(response instanceof Response)) {
      throw new TypeError(`An HTTP action must return a Response, got ${Object.prototype.toString.call(response)}.`);
    }
    if (response.bodyUsed) throw new TypeError("The HTTP action returned a Response whose body was already read.");
    let body = null;
    if (response._stream !== null) {
      const bytes = unreadBytes(response._stream);
      if (bytes !== null) body = b64encode(bytes);
      else {
        body = `\u0000stream:${++streamedSeq}`;
        streamedBodies.set(body, readAll(response._stream).then(b64encode));
      }
    } else if (response._bytes !== null) body = b64encode(response._bytes);
    response._used = true;
    return { status: response.status, statusText: response.statusText, headers: [...response.headers], body };
  }
  async function finishHttp(json) {
    if (streamedBodies.size === 0 || !json.includes("\\u0000stream:")) return json;
    const r = JSON.parse(json), read = streamedBodies.get(r.body);
    streamedBodies.delete(r.body);
    r.body = await read;
    return JSON.stringify(r);
  }

  const apis = {
    TextEncoder, TextDecoder, TextEncoderStream, TextDecoderStream, Blob, File, FormData,
    Headers, Request, Response, AbortController, AbortSignal, CryptoKey, atob, btoa,
  };
  for (const name of Object.keys(apis)) {
    Object.defineProperty(g, name, { value: apis[name], writable: true, configurable: true });
  }
  g.__csWeb = { b64encode, b64decode, subtle, responseFromJson, requestBytes, responseToJson, finishHttp };
})();
