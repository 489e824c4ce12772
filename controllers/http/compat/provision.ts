import { ProvisionRefused } from '../../loop/provisions.js';
import { parseBody } from '../routes/native.js';
import { ApiError, type Reply, type Route } from '../server.js';
import type { CompatDeps, CompatScope } from './compat.js';
import { ProvisionBody, refusalDetail } from './payloads.js';

// POST /provision/acestream: one more engine now, or the reason it cannot be had.

/** The provisioning route. */
export function provisionRoutes(deps: CompatDeps, scope: CompatScope): Route[] {
  const { controller, logger } = deps;
  return [
    {
      method: 'POST',
      path: '/provision/acestream',
      mutating: true,
      handle: async ({ query, body }): Promise<Reply> => {
        const request = parseBody(ProvisionBody, body);
        const custom = [
          request?.image ? 'image' : '',
          request?.host_port ? 'host_port' : '',
          Object.keys(request?.labels ?? {}).length > 0 ? 'labels' : '',
          Object.keys(request?.env ?? {}).length > 0 ? 'env' : '',
        ].filter(Boolean);
        if (custom.length > 0) {
          throw new ApiError(
            400,
            'unsupported',
            `${custom.join(', ')} cannot be chosen per request: every engine is made from its pool's template in the desired-state file`,
          );
        }
        const pool = scope.provisionPool(query);
        try {
          const engine = await controller.provision(pool);
          logger.info({ pool, engine: engine.name }, 'engine started on request');
          return {
            status: 200,
            body: {
              container_id: engine.containerId,
              container_name: engine.name,
              host_http_port: engine.hostPort,
              container_http_port: engine.httpPort,
              // Why null: enginepool publishes one port per engine (ACE_MAP_HTTPS has no equivalent);
              // Go clients such as acexy read null as 0.
              container_https_port: null,
            },
          };
        } catch (error) {
          if (!(error instanceof ProvisionRefused)) throw error;
          const { refusal } = error;
          logger.info({ pool, code: refusal.code, reason: refusal.message }, 'provision request refused');
          return {
            status: 503,
            body: { detail: refusalDetail(refusal), error: { code: refusal.code, message: refusal.message } },
            ...(refusal.recoveryEtaSeconds !== null
              ? { headers: { 'Retry-After': String(Math.max(1, refusal.recoveryEtaSeconds)) } }
              : {}),
          };
        }
      },
    },
  ];
}
