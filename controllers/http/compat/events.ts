import type { StreamRecord } from '../../streams/registry.js';
import { parseBody } from '../routes/native.js';
import { ApiError, type Route } from '../server.js';
import type { CompatDeps } from './compat.js';
import { findEngine, StreamEnded, StreamStarted, streamState } from './payloads.js';

// POST /events/stream_started and /events/stream_ended: a proxy says which engine carries which stream.

/** How many ended streams `stream_ended` still recognises (a repeat answers `updated: true`). */
const ENDED_MEMORY = 1000;

/** The stream event routes. */
export function streamEventRoutes(deps: CompatDeps): Route[] {
  const { view, registry, logger } = deps;
  /** Streams ended through `stream_ended`, newest last, so that a repeat is recognised. */
  const ended = new Map<string, { stream: StreamRecord; endedAt: number }>();
  const remember = (stream: StreamRecord, endedAt: number) => {
    ended.delete(stream.id);
    ended.set(stream.id, { stream, endedAt });
    if (ended.size > ENDED_MEMORY) ended.delete(ended.keys().next().value!);
  };
  /** Addresses of engines no pool manages that a proxy reported streams on (logged once each). */
  const foreign = new Set<string>();
  return [
    {
      method: 'POST',
      path: '/events/stream_started',
      mutating: true,
      handle: ({ body }) => {
        const event = parseBody(StreamStarted, body);
        const engine = findEngine(view.allEngines(), {
          ...(event.container_id ? { containerId: event.container_id } : {}),
          host: event.engine.host,
          port: event.engine.port,
        });
        const id = event.labels?.stream_id || `${event.stream.key}|${event.session.playback_session_id}`;
        const details = {
          key: { type: event.stream.key_type, value: event.stream.key },
          playbackSessionId: event.session.playback_session_id,
          ...(event.session.stat_url ? { statUrl: event.session.stat_url } : {}),
          ...(event.session.command_url ? { commandUrl: event.session.command_url } : {}),
          ...(event.session.is_live !== undefined ? { isLive: Boolean(event.session.is_live) } : {}),
          ...(event.labels ? { labels: event.labels } : {}),
        };
        if (!engine) {
          // Why accepted: acexy reports streams of its fallback engine too, which no pool manages.
          // Refusing them helps nobody; recording them would count streams on engines this
          // controller can neither see nor scale. The stream is answered, then forgotten.
          const address = `${event.engine.host}:${event.engine.port}`;
          const log = foreign.has(address) ? logger.debug.bind(logger) : logger.info.bind(logger);
          if (foreign.size >= ENDED_MEMORY) foreign.clear();
          foreign.add(address);
          log(
            { engine: address, stream: id },
            'stream reported on an engine no pool manages (a proxy fallback engine?); accepted and ignored',
          );
          const record: StreamRecord = {
            id,
            pool: '',
            containerId: event.container_id || address,
            engine: `engine-${event.engine.host}-${event.engine.port}`,
            startedAt: deps.clock.now(),
            ...details,
          };
          return { status: 200, body: streamState(record) };
        }
        const { stream, created } = registry.start(
          { pool: engine.pool, containerId: engine.containerId, engine: engine.name },
          id,
          details,
        );
        ended.delete(id);
        if (created) {
          logger.info({ pool: engine.pool, engine: engine.name, stream: id }, 'stream started (proxy event)');
          deps.wake(`stream ${id} started on ${engine.name}`);
        }
        return { status: 200, body: streamState(stream) };
      },
    },
    {
      method: 'POST',
      path: '/events/stream_ended',
      mutating: true,
      handle: ({ body }) => {
        const event = parseBody(StreamEnded, body);
        if (!event.stream_id && !event.container_id) {
          throw new ApiError(
            400,
            'invalid_body',
            'give "stream_id" (or "container_id") of the stream that ended',
          );
        }
        // As acestream-orchestrator does: a known stream id (open, or ended already) is that stream;
        // otherwise the latest open stream of the engine `container_id` names, if any.
        let target = event.stream_id ? registry.get(event.stream_id) : undefined;
        const repeat = event.stream_id && !target ? ended.get(event.stream_id) : undefined;
        if (repeat) {
          return { status: 200, body: { updated: true, stream: streamState(repeat.stream, repeat.endedAt) } };
        }
        if (!target && event.container_id) {
          const engine = findEngine(view.allEngines(), { containerId: event.container_id });
          target = engine
            ? registry
                .onEngine(engine.containerId)
                .sort((a, b) => b.startedAt - a.startedAt)
                .at(0)
            : undefined;
        }
        const stream = target ? registry.end(target.id) : undefined;
        if (!stream) return { status: 200, body: { updated: false, stream: null } };
        const endedAt = deps.clock.now();
        remember(stream, endedAt);
        logger.info(
          { pool: stream.pool, engine: stream.engine, stream: stream.id, reason: event.reason ?? undefined },
          'stream ended (proxy event)',
        );
        deps.wake(`stream ${stream.id} ended on ${stream.engine}`);
        return { status: 200, body: { updated: true, stream: streamState(stream, endedAt) } };
      },
    },
  ];
}
