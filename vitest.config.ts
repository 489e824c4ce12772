import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure code with no Docker and runs in parallel; `integration` talks to a real
// Docker engine and builds stand-in images once in its global setup.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // Why: vitest 4 refuses projects with different maxWorkers in one sequence group; the fast,
          // Docker-free unit tests run first.
          sequence: { groupOrder: 0 },
          include: [
            'state/**/*.test.ts',
            'reconcilers/**/*.test.ts',
            'controllers/**/*.test.ts',
            'test/unit/**/*.test.ts',
          ],
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Why: two cores; each file drives its own controller and containers against one dockerd.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
      {
        test: {
          // Why: Podman is a supported runtime. The subset covering replicas, names, ports, events,
          // failures, VPN namespace sharing and the API runs a second time against Podman's socket
          // (scripts/test.sh sets DOCKER_HOST), plus Podman's own checks; about 2 minutes.
          name: 'podman',
          sequence: { groupOrder: 2 },
          include: ['test/integration/{core,health,vpn,api}.test.ts', 'test/podman/**/*.test.ts'],
          globalSetup: ['test/support/podmanSetup.ts', 'test/support/globalSetup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
      {
        test: {
          // Why: these stop dockerd itself, which every other Docker test would feel; run them alone.
          name: 'disruptive',
          include: ['test/disruptive/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
