import { describe, expect, it } from 'vitest';
import { LABELS } from '../../state/labels.js';
import type { RuntimeEvent } from '../runtime/runtime.js';
import { concernsPools, wakes } from './events.js';

const event = (action: string, attributes?: Record<string, string>): RuntimeEvent => ({
  Type: 'container',
  Action: action,
  Actor: { ID: 'abc', ...(attributes ? { Attributes: attributes } : {}) },
});

describe('which Docker events wake the loop', () => {
  it.each([
    ['an engine of any pool', event('die', { name: 'ace-1', [LABELS.pool]: 'ace' }), true],
    ['a VPN container of the spec', event('restart', { name: 'gluetun' }), true],
    ['a container nobody manages', event('destroy', { name: 'web' }), false],
    ['an event without attributes (cannot tell)', event('start'), true],
  ])('%s', (_title, e, expected) => {
    expect(wakes(e) && concernsPools(e, new Set(['gluetun']))).toBe(expected);
  });

  it('ignores actions that change nothing the controller plans on', () => {
    expect(wakes(event('exec_start: sh', { name: 'ace-1', [LABELS.pool]: 'ace' }))).toBe(false);
  });
});
