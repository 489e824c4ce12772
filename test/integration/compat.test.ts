import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStream } from '../support/acexy.js';
import { ControllerProcess, docker, http, poolYaml, removeContainers, waitFor } from '../support/harness.js';

// A proxy built against acestream-orchestrator (acexy) pointed at enginepool: the payloads it sends
// and reads, replayed against the real server and real engines. Host ports 21050-21069.

const pool = 'api-compat';
let c: ControllerProcess;

const engines = async (): Promise<any[]> => (await c.api('/engines', { token: c.token })).body;
const openStreams = async (): Promise<string[]> =>
  (await c.api('/streams', { token: c.token })).body.map((s: { id: string }) => s.id);

beforeAll(async () => {
  c = await new ControllerProcess(
    poolYaml(pool, { range: '21050-21069', replicas: '{ minFree: 1, max: 4, scaleDownDelaySeconds: 60 }' }),
    { ENGINEPOOL_STREAM_CHECK_SECONDS: '1' },
  ).start();
  await waitFor('one healthy engine', async () =>
    (await engines()).some((e) => e.health_status === 'healthy'),
  );
});

afterAll(async () => {
  await c.stop('SIGKILL');
  await removeContainers({ pool });
});

describe('a proxy built against acestream-orchestrator', () => {
  it('replays stream_started, reads /engines, /streams and /orchestrator/status, and ends the stream twice', async () => {
    const [engine] = await engines();
    const { event } = await startStream(engine, 'replay-1');

    const started = await c.api('/events/stream_started', { method: 'POST', token: c.token, body: event });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({
      id: 'replay-1',
      container_id: engine.container_id,
      key_type: 'content_id',
      key: 'replay-1',
      stat_url: event.session.stat_url,
      status: 'started',
    });
    const repeated = await c.api('/events/stream_started', { method: 'POST', token: c.token, body: event });
    expect(repeated.body.id).toBe('replay-1');
    expect(await openStreams()).toEqual(['replay-1']);

    await waitFor('minFree to react with a second engine', async () => (await engines()).length === 2);
    const listed = await engines();
    expect(listed.map((e) => e.port)).toEqual([...listed.map((e) => e.port)].sort((a, b) => a - b));
    expect(listed.find((e) => e.container_id === engine.container_id)).toMatchObject({
      container_name: `${pool}-1`,
      streams: ['replay-1'],
      health_status: 'healthy',
      forwarded: false,
      vpn_container: null,
    });
    const perEngine = await c.api(`/streams?container_id=${engine.container_id}&status=started`, {
      token: c.token,
    });
    expect(perEngine.body.map((s: { id: string }) => s.id)).toEqual(['replay-1']);

    const status = (await c.api('/orchestrator/status')).body;
    expect(status).toMatchObject({
      status: 'healthy',
      streams: { active: 1 },
      capacity: { used: 1, max_replicas: 4 },
      vpn: { enabled: false },
      provisioning: { can_provision: true, circuit_breaker_state: 'closed', blocked_reason_details: null },
    });
    expect(status.capacity.used).toBeLessThanOrEqual(status.capacity.total);

    const ended = await c.api('/events/stream_ended', {
      method: 'POST',
      token: c.token,
      body: { stream_id: 'replay-1', reason: 'client_disconnected' },
    });
    expect(ended.body).toMatchObject({ updated: true, stream: { id: 'replay-1', status: 'ended' } });
    // As the peer answers a repeat: the same stream, still ended once (no double count).
    const again = await c.api('/events/stream_ended', {
      method: 'POST',
      token: c.token,
      body: { stream_id: 'replay-1', reason: 'client_disconnected' },
    });
    expect(again.body).toEqual(ended.body);
    expect((await engines()).every((e) => e.streams.length === 0)).toBe(true);
  });

  it('accepts and ignores a stream on an engine it does not run, and answers 400 with `detail` for a malformed one', async () => {
    const [engine] = await engines();
    const { event } = await startStream(engine, 'lost-1');
    const unknown = await c.api('/events/stream_started', {
      method: 'POST',
      token: c.token,
      body: { ...event, engine: { host: '127.0.0.1', port: 1 } },
    });
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ id: 'lost-1', status: 'started' });
    expect(c.logs).toMatch(/"engine":"127\.0\.0\.1:1".*no pool manages/);
    const malformed = await c.api('/events/stream_started', {
      method: 'POST',
      token: c.token,
      body: { ...event, stream: { key_type: 'torrent', key: 'x' } },
    });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'invalid_body']);
    expect(malformed.body.detail).toBe(malformed.body.error.message);
    expect(await openStreams()).toEqual([]);
  });

  it('starts one more engine on /provision/acestream, and answers 503 max_capacity at max', async () => {
    const before = (await engines()).length;
    const provisioned = await c.api('/provision/acestream', {
      method: 'POST',
      token: c.token,
      body: { labels: {}, env: {} },
    });
    expect(provisioned.status).toBe(200);
    expect(provisioned.body).toMatchObject({
      container_name: expect.stringMatching(new RegExp(`^${pool}-\\d+$`)),
      host_http_port: expect.any(Number),
      container_http_port: expect.any(Number),
      container_https_port: null,
    });
    const inspected = await docker.getContainer(provisioned.body.container_id).inspect();
    expect(inspected.State.Running).toBe(true);
    expect(inspected.Config.Labels['io.enginepool.pool']).toBe(pool);
    await waitFor('the new engine in /engines', async () =>
      (await engines()).some((e) => e.container_id === provisioned.body.container_id),
    );
    expect((await engines()).length).toBe(before + 1);

    let refused: Awaited<ReturnType<typeof c.api>> | undefined;
    for (let i = 0; i < 4 && !refused; i++) {
      const answer = await c.api('/provision/acestream', { method: 'POST', token: c.token });
      if (answer.status === 503) refused = answer;
      else expect(answer.status).toBe(200);
    }
    expect(refused?.body.detail).toMatchObject({
      code: 'max_capacity',
      can_retry: false,
      should_wait: true,
      recovery_eta_seconds: null,
    });
    expect(refused?.body.detail.message).toMatch(/max 4/);
    const status = (await c.api('/orchestrator/status')).body;
    expect(status.provisioning).toMatchObject({
      can_provision: false,
      blocked_reason_details: { code: 'max_capacity' },
    });
  });

  it('ends a stream on its own when the engine no longer knows its session', async () => {
    const [engine] = await engines();
    const { event } = await startStream(engine, 'stale-1');
    await c.api('/events/stream_started', { method: 'POST', token: c.token, body: event });
    expect(await openStreams()).toContain('stale-1');
    const forgotten = await http(`http://${engine.host}:${engine.port}/fake/forget`);
    expect(forgotten.body.forgotten).toBeGreaterThanOrEqual(1);
    const used = async () => (await c.api(`/api/v1/pools/${pool}`)).body.replicas.used;
    await waitFor('the stream to count its engine as used', async () => (await used()) === 1);
    await waitFor('the stale stream to end', async () => !(await openStreams()).includes('stale-1'));
    // Ending it is what frees the engine: a pass woken by the watcher counts the engine free again.
    await waitFor('its engine free again in the pool status', async () => (await used()) === 0);
    expect(c.logs).toMatch(/"stream":"stale-1".*stream ended: its engine no longer knows the session/);
    const listed = (await engines()).find((e) => e.container_id === engine.container_id);
    expect(listed.streams).toEqual([]);
  });
});
