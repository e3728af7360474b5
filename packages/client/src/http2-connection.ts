/**
 * The one HTTP/2 connection of a lean transport: opened on first use, replaced once it closes,
 * fails or is told GOAWAY (node closes it then; streams still open on it finish there), ref'd
 * only while a stream is open — so a pending call keeps the process alive and an idle client
 * never does — and closed after `idleTimeoutMs` without a stream, as connect-node's
 * Http2SessionManager does (15 minutes). Unlike that manager it hands out a stream synchronously:
 * no promise, no timer and no listener wrappers per call, which a unary call can tell (~10 µs).
 * Keepalive pings are left out (the manager does not ping by default either).
 *
 * It also serves connect-node's gRPC transport as its session manager, so RestoreStream shares
 * the connection with every unary call.
 */
import http2 from "node:http2";
import type { GrpcTransportOptions } from "@connectrpc/connect-node";

type SessionManager = NonNullable<GrpcTransportOptions["sessionManager"]>;

/** setTimeout's ceiling (2^31 − 1 ms); beyond it, it would fire at once. */
const maxTimeoutMs = 0x7fffffff;

/** A session and what its idle clock needs. */
interface Live {
  session: http2.ClientHttp2Session;
  streams: number;
  idleSince: number;
}

export class Http2Connection implements SessionManager {
  /** The origin every request goes to, e.g. "https://sessions.internal:50051". */
  readonly authority: string;
  private live: Live | undefined;

  constructor(
    baseUrl: string,
    private readonly nodeOptions: http2.ClientSessionOptions | http2.SecureClientSessionOptions | undefined,
    private readonly idleTimeoutMs = 15 * 60_000,
  ) {
    this.authority = new URL(baseUrl).origin;
  }

  /** A new stream for `headers` (pseudo-headers included). Throws only what http2 throws for bad headers. */
  stream(headers: http2.OutgoingHttpHeaders, options?: http2.ClientSessionRequestOptions): http2.ClientHttp2Stream {
    let live = this.current();
    let stream: http2.ClientHttp2Stream;
    try {
      stream = live.session.request(headers, options);
    } catch (error) {
      // A GOAWAY or a failure can close the session between our check and the request: once more, on a new one.
      if (!live.session.closed && !live.session.destroyed) throw error;
      this.live = undefined;
      live = this.current();
      stream = live.session.request(headers, options);
    }
    if (live.streams++ === 0) live.session.ref();
    stream.on("close", () => {
      if (--live.streams > 0) return;
      live.idleSince = Date.now();
      if (!live.session.destroyed) live.session.unref();
    });
    return stream;
  }

  /** connect-node's session-manager interface, for the streaming calls. */
  request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: http2.ClientSessionRequestOptions,
  ): Promise<http2.ClientHttp2Stream> {
    try {
      return Promise.resolve(this.stream({ ...headers, ":method": method, ":path": path }, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Part of the session-manager interface; it times keepalive pings there, and there are none here. */
  notifyResponseByteRead(): void {}

  private current(): Live {
    const live = this.live;
    if (live !== undefined && !live.session.closed && !live.session.destroyed) return live;
    this.live = this.connect();
    return this.live;
  }

  private connect(): Live {
    // Requests made while it connects wait inside node; if it fails, they fail with its error as cause.
    const session = http2.connect(this.authority, this.nodeOptions);
    session.unref();
    const live: Live = { session, streams: 0, idleSince: Date.now() };
    const forget = () => {
      if (this.live === live) this.live = undefined;
    };
    // One timer per connection, not per call: it looks at the idle clock when it fires.
    let idleTimer: NodeJS.Timeout | undefined;
    const checkIdle = (afterMs: number) => {
      if (afterMs > maxTimeoutMs) return; // "never", as connect-node reads a huge timeout
      idleTimer = setTimeout(() => {
        const idleFor = live.streams > 0 ? 0 : Date.now() - live.idleSince;
        if (idleFor < this.idleTimeoutMs) return checkIdle(this.idleTimeoutMs - idleFor);
        forget();
        session.close();
      }, afterMs).unref();
    };
    checkIdle(this.idleTimeoutMs);
    // Listening to "error" also keeps a failed connection from crashing the process.
    session.on("error", forget);
    session.on("goaway", forget);
    session.on("close", () => {
      forget();
      clearTimeout(idleTimer);
    });
    return live;
  }
}
