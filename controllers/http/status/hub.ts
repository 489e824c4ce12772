import type { Clock, TimerHandle } from '../../../state/clock.js';
import type { StatusSnapshot } from './snapshot.js';

// Pushes the status snapshot to its viewers as server-sent events. The controller says when its view
// changed; the hub coalesces those calls, rebuilds the snapshot once, and sends it only when its content
// differs from the last one sent. A heartbeat keeps idle connections open through proxies, carries the
// time of the last observation, and catches changes no pass announced (Docker gone, a pass stuck).

/** The kind of stream a viewer reads. */
export interface StatusStream {
  /** Writes raw server-sent-event text. */
  write(chunk: string): unknown;
  /** Bytes written but not yet taken by the viewer. */
  readonly writableLength: number;
  end(): unknown;
  destroy(): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** A viewer that leaves this much unread is dropped (its browser reconnects and starts afresh). */
const MAX_UNREAD_BYTES = 1024 * 1024;

/** Options of a {@link StatusHub}. */
export interface StatusHubOptions {
  readonly clock: Clock;
  /** Builds the current snapshot. */
  readonly build: () => StatusSnapshot;
  /** Streams open at once; more are refused. */
  readonly maxStreams?: number;
  readonly heartbeatMs?: number;
  /** How long change notices are gathered before one rebuild. */
  readonly coalesceMs?: number;
}

/** What a snapshot's content is compared by: everything but its times of making and observing. */
function contentOf(snapshot: StatusSnapshot): string {
  const { at: _at, observedAt: _observedAt, ...content } = snapshot;
  return JSON.stringify(content);
}

/** A server-sent event. */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The live status, fanned out to its viewers. */
export class StatusHub {
  private readonly streams = new Set<StatusStream>();
  private reserved = 0;
  private lastContent?: string;
  private flushTimer?: TimerHandle;
  private heartbeatTimer?: TimerHandle;
  private closed = false;

  constructor(private readonly options: StatusHubOptions) {}

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /** The controller's view changed: viewers get the new snapshot shortly (if its content changed). */
  changed(): void {
    if (this.closed || this.streams.size === 0 || this.flushTimer !== undefined) return;
    this.flushTimer = this.options.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.options.coalesceMs ?? 50);
  }

  /**
   * Takes a place for one more stream; undefined when all places are taken (the caller answers 503).
   * The returned function starts the stream on a response whose headers are sent.
   */
  open(): ((stream: StatusStream) => void) | undefined {
    if (this.closed || this.streams.size + this.reserved >= (this.options.maxStreams ?? 32)) return undefined;
    this.reserved++;
    return (stream) => {
      this.reserved--;
      const snapshot = this.options.build();
      this.publish(snapshot);
      this.streams.add(stream);
      stream.once('close', () => {
        this.streams.delete(stream);
        if (this.streams.size === 0) this.stopHeartbeat();
      });
      // Why: EventSource reconnects after `retry` ms; the browsers' default (3 s) is too slow for a page
      // that promises changes within two seconds.
      stream.write(`retry: 1000\n${sseEvent('status', snapshot)}`);
      this.startHeartbeat();
    };
  }

  private flush(): void {
    if (this.streams.size > 0) this.publish(this.options.build());
  }

  /** Sends the snapshot to every open stream if its content differs from the last one sent. */
  private publish(snapshot: StatusSnapshot): void {
    const content = contentOf(snapshot);
    if (content === this.lastContent) return;
    this.lastContent = content;
    this.send(sseEvent('status', snapshot));
  }

  private send(event: string): void {
    for (const stream of this.streams) {
      // Why: a viewer that stopped reading (a sleeping phone) must not make the controller buffer forever.
      if (stream.writableLength > MAX_UNREAD_BYTES) {
        this.streams.delete(stream);
        stream.destroy();
      } else stream.write(event);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) return;
    this.heartbeatTimer = this.options.clock.setTimeout(() => {
      this.heartbeatTimer = undefined;
      if (this.streams.size === 0) return;
      const snapshot = this.options.build();
      this.publish(snapshot);
      const { at, observedAt } = snapshot;
      this.send(sseEvent('heartbeat', { at, observedAt }));
      this.startHeartbeat();
    }, this.options.heartbeatMs ?? 5_000);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) this.options.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    this.closed = true;
    this.stopHeartbeat();
    if (this.flushTimer !== undefined) this.options.clock.clearTimeout(this.flushTimer);
    for (const stream of this.streams) stream.end();
    this.streams.clear();
  }
}
