import type { StreamRecord } from '../../streams/registry.js';
import { parseBody } from '../routes/native.js';
import { ApiError, type Route } from '../server.js';
import type { CompatDeps } from './compat.js';
import { findEngine, StreamEnded, StreamStarted, streamState } from './payloads.js';

// POST /events/stream_started and /events/stream_ended: a proxy says which engine carries which stream.

/** The stream event routes. */
export function streamEventRoutes(deps: CompatDeps): Route[] {
  const { view, registry, logger } = deps;
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
        if (!engine) {
          throw new ApiError(
            404,
            'engine_not_found',
            `no engine at ${event.engine.host}:${event.engine.port}${event.container_id ? ` or with container id "${event.container_id}"` : ''}; GET /engines lists them`,
          );
        }
        const id = event.labels?.stream_id || event.session.playback_session_id;
        const { stream, created } = registry.start(
          { pool: engine.pool, containerId: engine.containerId, engine: engine.name },
          id,
          {
            key: { type: event.stream.key_type, value: event.stream.key },
            playbackSessionId: event.session.playback_session_id,
            ...(event.session.stat_url ? { statUrl: event.session.stat_url } : {}),
            ...(event.session.command_url ? { commandUrl: event.session.command_url } : {}),
            ...(event.session.is_live !== undefined ? { isLive: Boolean(event.session.is_live) } : {}),
            ...(event.labels ? { labels: event.labels } : {}),
          },
        );
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
        let target: StreamRecord | undefined;
        if (event.stream_id) {
          target = registry.get(event.stream_id);
        } else if (event.container_id) {
          // As acestream-orchestrator did: without a stream id, the engine's latest stream ends.
          const engine = findEngine(view.allEngines(), { containerId: event.container_id });
          target = engine
            ? registry
                .onEngine(engine.containerId)
                .sort((a, b) => b.startedAt - a.startedAt)
                .at(0)
            : undefined;
        } else {
          throw new ApiError(
            400,
            'invalid_body',
            'give "stream_id" (or "container_id") of the stream that ended',
          );
        }
        const ended = target ? registry.end(target.id) : undefined;
        if (!ended) return { status: 200, body: { updated: false, stream: null } };
        logger.info(
          { pool: ended.pool, engine: ended.engine, stream: ended.id, reason: event.reason ?? undefined },
          'stream ended (proxy event)',
        );
        deps.wake(`stream ${ended.id} ended on ${ended.engine}`);
        return { status: 200, body: { updated: true, stream: streamState(ended, deps.clock.now()) } };
      },
    },
  ];
}
