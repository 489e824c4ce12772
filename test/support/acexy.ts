import { randomUUID } from 'node:crypto';
import { http } from './harness.js';

/** What acexy does for a client: ask the engine for a session, then build the orchestrator's event. */
export async function startStream(engine: { host: string; port: number }, streamId: string) {
  const playback = await http(
    `http://${engine.host}:${engine.port}/ace/getstream?id=${streamId}&format=json&pid=${randomUUID()}`,
  );
  const session = playback.body.response;
  const event = {
    engine: { host: engine.host, port: engine.port },
    stream: { key_type: 'content_id', key: streamId },
    session: {
      playback_session_id: session.playback_session_id,
      stat_url: session.stat_url,
      command_url: session.command_url,
      is_live: 1,
    },
    labels: { stream_id: streamId },
  };
  return { session, event };
}
