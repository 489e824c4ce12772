import { afterEach, describe, expect, it } from 'vitest';
import { http, poolYaml, TestScope, waitFor } from '../support/harness.js';

// acexy (krinkuto11/acexy, acexy/orchestrator_events.go and proxy.go) pointed at enginepool unchanged:
// its calls replayed byte for byte (Go's json.Marshal of its structs: field order, omitempty, the
// headers it sets, its 3 s client timeout), and its responses read the way it decodes them. Host
// ports 22100-22119.

const scope = new TestScope();
afterEach(async (context) => scope.cleanup(context.task.result?.state === 'fail'));

/** acexy's orchClient, as far as the wire goes. */
class Acexy {
  constructor(
    private readonly base: string,
    /** ACEXY_ORCH_APIKEY: sent as a bearer token only when set. */
    private readonly key = '',
  ) {}

  /** One request as acexy's client makes it. */
  async call(method: string, path: string, body?: string) {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.key !== '') headers.Authorization = `Bearer ${this.key}`;
    const response = await fetch(this.base + path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(3_000),
    });
    return { status: response.status, text: await response.text() };
  }

  /** EmitStarted: container_id is acexy's own ACEXY_CONTAINER_ID (omitted when empty). */
  async emitStarted(
    host: string,
    port: number,
    key: string,
    playbackId: string,
    statUrl: string,
    cmdUrl: string,
    ownContainerId = '',
  ) {
    const streamId = `${key}|${playbackId}`;
    const body =
      (ownContainerId ? `{"container_id":${JSON.stringify(ownContainerId)},` : '{') +
      `"engine":{"host":${JSON.stringify(host)},"port":${port}},` +
      `"stream":{"key_type":"content_id","key":${JSON.stringify(key)}},` +
      `"session":{"playback_session_id":${JSON.stringify(playbackId)},"stat_url":${JSON.stringify(statUrl)},"command_url":${JSON.stringify(cmdUrl)},"is_live":1},` +
      `"labels":{"stream_id":${JSON.stringify(streamId)}}}`;
    return { streamId, ...(await this.call('POST', '/events/stream_started', body)) };
  }

  /** EmitEnded. */
  async emitEnded(streamId: string, reason: string) {
    return await this.call(
      'POST',
      '/events/stream_ended',
      `{"stream_id":${JSON.stringify(streamId)},"reason":${JSON.stringify(reason)}}`,
    );
  }

  /** GetEngines, decoded as its engineState: time.Time fields must be RFC 3339 or absent/null. */
  async engines() {
    const { status, text } = await this.call('GET', '/engines');
    expect(status).toBe(200);
    const engines = JSON.parse(text) as Record<string, unknown>[];
    for (const engine of engines) {
      expect(engine).toMatchObject({
        container_id: expect.any(String),
        host: expect.any(String),
        port: expect.any(Number),
        forwarded: expect.any(Boolean),
        health_status: expect.stringMatching(/^(healthy|unhealthy|unknown)$/),
        streams: expect.any(Array),
      });
      for (const field of ['first_seen', 'last_seen', 'last_health_check', 'last_stream_usage']) {
        const value = engine[field];
        if (value !== undefined && value !== null)
          expect(Number.isNaN(Date.parse(value as string)), field).toBe(false);
      }
    }
    return engines as { container_id: string; host: string; port: number; health_status: string }[];
  }

  /** GetEngineStreams: what it counts as an engine's load. */
  async streams(containerId: string) {
    const { status, text } = await this.call('GET', `/streams?container_id=${containerId}&status=started`);
    expect(status).toBe(200);
    return (JSON.parse(text) as { id: string; status: string; is_live: unknown }[]).filter(
      (s) => s.status === 'started',
    );
  }

  /** updateHealth: the fields of /orchestrator/status it decodes, without a token. */
  async health() {
    const response = await fetch(`${this.base}/orchestrator/status`, { signal: AbortSignal.timeout(3_000) });
    return JSON.parse(await response.text()) as {
      status: string;
      vpn: { connected: boolean };
      provisioning: {
        can_provision: boolean;
        blocked_reason: string | null;
        blocked_reason_details: unknown;
      };
      capacity: { total: number; used: number; available: number };
    };
  }

  /** ProvisionAcestream: the body it sends, and parseProvisionError's reading of a refusal. */
  async provision() {
    const { status, text } = await this.call('POST', '/provision/acestream', '{"labels":{},"env":{}}');
    const body = JSON.parse(text) as { detail?: unknown };
    return { status, body };
  }
}

/** The first engine acexy would pick: a healthy one, once there is one. */
async function healthyEngine(acexy: Acexy) {
  return await waitFor('a healthy engine', async () =>
    (await acexy.engines()).find((e) => e.health_status === 'healthy'),
  );
}

/** What acexy does for a client: ask the engine for a session, then report it (EmitStarted). */
async function startOn(
  acexy: Acexy,
  engine: { host: string; port: number },
  key: string,
  playbackId: string,
) {
  const s = await session(engine, key);
  const answer = await acexy.emitStarted(
    engine.host,
    engine.port,
    key,
    playbackId,
    s.stat_url,
    s.command_url,
  );
  return { session: s, ...answer };
}

/** A stream session the way an engine hands it to acexy (the stand-in's own URLs). */
async function session(engine: { host: string; port: number }, key: string) {
  const playback = await http(`http://${engine.host}:${engine.port}/ace/getstream?id=${key}&format=json`);
  return playback.body.response as { stat_url: string; command_url: string; playback_session_id: string };
}

const pool = (name: string, range: string) =>
  poolYaml(name, { range, replicas: '{ minFree: 1, max: 3, scaleDownDelaySeconds: 60 }' });

describe('acexy against enginepool', () => {
  it('with a shared token: streams counted, an empty session id taken, the fallback engine ignored, a repeated end updated', async () => {
    const c = await scope.controller(pool('img-acexy', '22100-22109'), ['img-acexy']).start();
    const acexy = new Acexy(c.url, c.token);
    const engine = await healthyEngine(acexy);
    const health = await acexy.health();
    expect(health).toMatchObject({ status: 'healthy', provisioning: { can_provision: true } });
    expect(health.capacity.used).toBeLessThanOrEqual(health.capacity.total);

    // A playback id acexy could not read from the stat URL is sent as "".
    const { session: s, ...started } = await startOn(acexy, engine, 'acexy-1', '');
    expect(started.status).toBe(200);
    expect(started.streamId).toBe('acexy-1|');
    expect((await acexy.streams(engine.container_id)).map((x) => x.id)).toEqual(['acexy-1|']);
    await waitFor(
      'minFree to add an engine for the used one',
      async () => (await acexy.engines()).length === 2,
    );

    // Its fallback engine (ACEXY_HOST:ACEXY_PORT), which no pool manages: accepted, not counted.
    const fallback = await acexy.emitStarted(
      'acestream',
      6878,
      'acexy-2',
      'p2',
      s.stat_url,
      s.command_url,
      'acexy-own-id',
    );
    expect(fallback.status).toBe(200);
    const listed = await acexy.engines();
    expect(listed.flatMap((e) => e.container_id)).not.toContain('acexy-own-id');
    expect((await acexy.emitEnded(fallback.streamId, 'completed')).status).toBe(200);

    // acexy dedupes its own ends, but a restart or a retry repeats one: the peer says updated again.
    const ended = await acexy.emitEnded(started.streamId, 'client_disconnected');
    expect([ended.status, JSON.parse(ended.text).updated]).toEqual([200, true]);
    const repeated = await acexy.emitEnded(started.streamId, 'client_disconnected');
    expect(JSON.parse(repeated.text)).toEqual(JSON.parse(ended.text));
    expect(await acexy.streams(engine.container_id)).toEqual([]);

    // A provision at max: the 503 read through `detail`, as parseProvisionError does.
    let refusal: Awaited<ReturnType<Acexy['provision']>> | undefined;
    for (let i = 0; i < 3 && !refusal; i++) {
      const answer = await acexy.provision();
      if (answer.status === 200) expect(answer.body).toHaveProperty('container_https_port');
      else refusal = answer;
    }
    expect(refusal?.status).toBe(503);
    expect(refusal?.body.detail).toMatchObject({ code: 'max_capacity', should_wait: true });

    // A wrong key: acexy logs the status; the body still carries the peer's `detail`.
    const wrong = await new Acexy(c.url, 'not-the-token').emitEnded('x|y', 'completed');
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text).detail).toMatch(/Bearer/);
  });

  it('without a token anywhere: its reads and stream events refused with a `detail`, and the controller says so loudly', async () => {
    const c = await scope
      .controller(pool('img-acexy-ro', '22110-22119'), ['img-acexy-ro'], { ENGINEPOOL_API_TOKEN: '' })
      .start();
    const acexy = new Acexy(c.url);
    // /engines and /streams show stream keys and session URLs: without a token they are closed too
    // (acexy then falls back to its fallback engine), and every refusal carries the peer's `detail`.
    for (const path of ['/engines', '/streams?container_id=x&status=started']) {
      const read = await acexy.call('GET', path);
      expect(read.status, path).toBe(403);
      expect(JSON.parse(read.text).detail, path).toMatch(/ENGINEPOOL_API_TOKEN/);
    }
    // The engine, found through the open native API, as acexy would have been told of it.
    const engine = await waitFor('a healthy engine', async () =>
      (await c.engines('img-acexy-ro')).find((e) => e.state === 'ready'),
    );
    const started = await startOn(acexy, engine, 'ro-1', 'p1');
    expect(started.status).toBe(403);
    expect(JSON.parse(started.text).detail).toMatch(/ENGINEPOOL_API_TOKEN/);

    const ready = await waitFor('/readyz', async () => {
      const answer = await c.api('/readyz');
      return answer.status === 200 ? answer : undefined;
    });
    expect(ready.body.warnings.join('\n')).toMatch(/ENGINEPOOL_API_TOKEN is not set.*ACEXY_ORCH_APIKEY/);
    expect(c.logs).toMatch(/"level":"warn".*ENGINEPOOL_API_TOKEN is not set/);
    const metrics = (await c.api('/metrics')).text;
    expect(metrics).toContain(
      'enginepool_http_requests_total{route="/events/stream_started",method="POST",code="403"} 1',
    );
    expect((await c.engines('img-acexy-ro')).find((e) => e.name === engine.name)?.streams).toBe(0);
  });
});
